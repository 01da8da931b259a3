//! The records of an archive's pax global headers (`g`), merged, and the
//! ones among them that apply to every member.

use std::collections::HashMap;

use super::read::{MAX_GLOBAL_APPLIED, MAX_GLOBAL_RECORDS, MAX_META};
use super::{keys, pax};

/// The global records seen so far, within [`MAX_GLOBAL_RECORDS`] records,
/// [`MAX_META`] bytes, and [`MAX_GLOBAL_APPLIED`] bytes that apply.
#[derive(Default)]
pub(super) struct Globals {
    /// In order of first definition; a later value replaces an earlier one.
    records: Vec<(String, Vec<u8>)>,
    /// Position of each key in `records`.
    pos: HashMap<String, usize>,
    /// Bytes (keys and values) held in `records`.
    bytes: usize,
    /// The records that apply to members, in order.
    pub(super) applied: Vec<(String, Vec<u8>)>,
}

impl Globals {
    /// Every global record, in order.
    pub(super) fn records(&self) -> &[(String, Vec<u8>)] {
        &self.records
    }

    /// Merge a global header's records (later values override).
    ///
    /// # Errors
    /// A malformed record, or a limit passed.
    pub(super) fn add(&mut self, data: &[u8]) -> Result<(), String> {
        for r in pax::records(data) {
            let (k, v) = r.map_err(|m| format!("bad pax global header: {m}"))?;
            if super::listed::is_listing(k) {
                continue;
            }
            self.merge(k, v)?;
            if self.bytes as u64 > MAX_META {
                return Err(format!(
                    "pax global headers hold more than {} MiB of records",
                    MAX_META >> 20
                ));
            }
        }
        self.applied = self
            .records
            .iter()
            .filter_map(|(k, v)| applied_form(k, v))
            .collect();
        let applied: usize = self.applied.iter().map(|(k, v)| k.len() + v.len()).sum();
        if applied > MAX_GLOBAL_APPLIED {
            return Err(format!(
                "pax global headers set {applied} bytes of owners, times and xattrs for every member \
                 (at most {MAX_GLOBAL_APPLIED} are accepted)"
            ));
        }
        Ok(())
    }

    fn merge(&mut self, k: &str, v: &[u8]) -> Result<(), String> {
        match self.pos.get(k) {
            Some(&i) => {
                self.bytes = self.bytes - self.records[i].1.len() + v.len();
                self.records[i].1 = v.to_vec();
            }
            None => {
                if self.records.len() >= MAX_GLOBAL_RECORDS {
                    return Err(format!(
                        "pax global headers define more than {MAX_GLOBAL_RECORDS} records"
                    ));
                }
                self.bytes += k.len() + v.len();
                self.pos.insert(k.to_owned(), self.records.len());
                self.records.push((k.to_owned(), v.to_vec()));
            }
        }
        Ok(())
    }
}

/// A global record as it applies to every later member, if it does:
/// alientar's archive label as the label's xattr record (which a member's
/// own record then replaces); owners, time and xattrs as they are.
fn applied_form(key: &str, value: &[u8]) -> Option<(String, Vec<u8>)> {
    if key == keys::ALIENTAR_CONTEXT {
        let key = [keys::SCHILY_XATTR, crate::entry::LABEL_XATTR].concat();
        return Some((key, value.to_vec()));
    }
    applies_to_members(key).then(|| (key.to_owned(), value.to_vec()))
}

/// Whether a global record applies to every later member: owners, time and
/// xattrs do; `path`, `linkpath`, `size` and sparse records never do, and
/// anything else (`comment`, the other `ALIENTAR.*`) is information only.
fn applies_to_members(key: &str) -> bool {
    matches!(
        key,
        keys::UID | keys::GID | keys::UNAME | keys::GNAME | keys::MTIME | keys::RHT_SELINUX
    ) || key.starts_with(keys::SCHILY_XATTR)
        || key.starts_with(keys::LIBARCHIVE_XATTR)
}
