//! The listing headers of an increment: pax global headers whose records
//! name what the increment deletes ([`keys::ALIENTAR_DELETED`]) and which
//! of its members replace an entry of the state it follows
//! ([`keys::ALIENTAR_CHANGED`]). They are not merged with the other global
//! records: the reader keeps their names until the caller takes them.

use super::read::MAX_NAME;
use super::{keys, pax};

/// Most bytes of listed names held until taken (each counted with 24 bytes
/// for its allocation). Alientar writes them before the first member: an
/// increment deleting more than about a million names cannot be read.
pub const MAX_LISTED: usize = 64 << 20;

/// Names the listing headers gave, until taken.
#[derive(Debug, Default)]
pub struct Listed {
    /// Names deleted, in order.
    pub deleted: Vec<Vec<u8>>,
    /// Names of members that replace an entry of the previous state.
    pub changed: Vec<Vec<u8>>,
    bytes: usize,
}

/// Do these global records (see [`super::Reader::globals`]) say the
/// archive is an increment?
pub fn is_increment(globals: &[(String, Vec<u8>)]) -> bool {
    globals.iter().any(|(k, v)| {
        k == keys::ALIENTAR_INCREMENTAL && v == keys::INCREMENTAL_INCREMENT.as_bytes()
    })
}

/// Is `key` a listing record (kept out of the global records)?
pub(super) fn is_listing(key: &str) -> bool {
    key == keys::ALIENTAR_DELETED || key == keys::ALIENTAR_CHANGED
}

impl Listed {
    /// No name is waiting.
    pub fn is_empty(&self) -> bool {
        self.deleted.is_empty() && self.changed.is_empty()
    }

    /// Take the listing records of a global header's `data` (checked
    /// records).
    ///
    /// # Errors
    /// A name that is too long, or more than [`MAX_LISTED`] bytes waiting.
    pub(super) fn add(&mut self, data: &[u8]) -> Result<(), String> {
        for r in pax::records(data) {
            let (k, v) = r.map_err(|m| format!("bad pax global header: {m}"))?;
            let to = match k {
                keys::ALIENTAR_DELETED => &mut self.deleted,
                keys::ALIENTAR_CHANGED => &mut self.changed,
                _ => continue,
            };
            for name in v.split(|&b| b == 0).filter(|n| !n.is_empty()) {
                if name.len() > MAX_NAME {
                    return Err(format!("a name in {k} is longer than {MAX_NAME} bytes"));
                }
                self.bytes += name.len() + 24;
                if self.bytes > MAX_LISTED {
                    return Err(format!(
                        "listing headers name more than {} MiB before a member",
                        MAX_LISTED >> 20
                    ));
                }
                to.push(name.to_vec());
            }
        }
        Ok(())
    }
}

/// Most bytes of names in one listing header: bsdtar 3.6 refuses a pax
/// header over 1 MiB ("Special header too large").
pub const LISTING_CHUNK: usize = 512 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_split_and_bounded() {
        let mut data = Vec::new();
        pax::push_record(&mut data, keys::ALIENTAR_DELETED, b"a/b\0c\0");
        pax::push_record(&mut data, "comment", b"x");
        pax::push_record(&mut data, keys::ALIENTAR_CHANGED, b"d");
        let mut l = Listed::default();
        l.add(&data).unwrap();
        assert_eq!(l.deleted, vec![b"a/b".to_vec(), b"c".to_vec()]);
        assert_eq!(l.changed, vec![b"d".to_vec()]);
        let mut long = Vec::new();
        pax::push_record(&mut long, keys::ALIENTAR_DELETED, &vec![b'x'; MAX_NAME + 1]);
        assert!(Listed::default().add(&long).is_err());
    }
}
