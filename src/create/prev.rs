//! The state an increment follows: every entry of the tree as the previous
//! archive of the chain (`--incremental-from PREV`) leaves it, read from
//! PREV's entry index (its members, and the entries it carries from earlier
//! archives) without reading its data, or from its tar stream when it has
//! no index (then it must be a full archive: an increment's stream holds
//! only what it changed).

use std::collections::HashMap;
use std::path::Path;

use crate::entry::{Entry, Kind, Time};
use crate::error::{Error, Result};
use crate::tar::{Reader, keys, pax};
use crate::translate::{ACL_ACCESS, ACL_DEFAULT};

/// One entry of the previous state, as far as an increment compares it.
pub(super) struct Was {
    pub(super) kind: Kind,
    pub(super) mode: u32,
    pub(super) uid: u64,
    pub(super) gid: u64,
    /// Size and modification time, for a member of PREV; a carried entry
    /// has none (its change time says whether it changed).
    pub(super) stored: Option<(u64, Time)>,
    pub(super) link: Option<Vec<u8>>,
    pub(super) dev: (u32, u32),
    /// 0 for none, else 1 + its place in [`Prev::labels`].
    pub(super) label: usize,
    /// [`xattr_digest`] of its xattrs.
    pub(super) xattrs: u64,
    /// The walk found it again.
    pub(super) seen: bool,
}

/// The previous state.
pub(super) struct Prev {
    pub(super) entries: HashMap<Vec<u8>, Was>,
    pub(super) labels: Vec<String>,
    /// PREV's state time, when it records one (an archive made with
    /// `--incremental` or `--incremental-from`).
    pub(super) time: Option<Time>,
}

/// Does the archive at `path` have an index frame, valid or not?
fn has_index_frame(path: &Path) -> bool {
    let f = std::fs::File::open(path).ok();
    f.and_then(crate::frame::read::Seekable::probe)
        .is_some_and(|s| s.has_index())
}

/// A digest of the xattrs an index keeps: every name, and the values of
/// POSIX ACLs (FNV-1a; a change it misses is in the change time too).
pub(super) fn xattr_digest(xattrs: &[(String, Vec<u8>)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (n, v) in xattrs {
        eat(n.as_bytes());
        eat(&[0]);
        if n == ACL_ACCESS || n == ACL_DEFAULT {
            eat(&(v.len() as u64).to_le_bytes());
            eat(v);
        }
        eat(&[0xff]);
    }
    h
}

impl Prev {
    /// The state PREV leaves.
    ///
    /// # Errors
    /// PREV cannot be opened or read, or it is an increment without an
    /// entry index.
    pub(super) fn load(path: &Path) -> Result<Prev> {
        let mut p = Prev {
            entries: HashMap::new(),
            labels: Vec::new(),
            time: None,
        };
        match crate::frame::read::index_of(path) {
            Some(idx) => p.read_index(idx)?,
            None => p.read_stream(path)?,
        }
        Ok(p)
    }

    fn read_index(&mut self, mut idx: crate::frame::index::IndexReader) -> Result<()> {
        let mut e = Entry::new(Vec::new(), Kind::File);
        while idx
            .next_into(&mut e)
            .map_err(|m| Error::format(format!("bad index: {m}")))?
            .is_some()
        {
            self.add(&e, true);
        }
        self.time = idx.chain().map(|c| c.time);
        idx.each_carried(&mut |e| self.add(e, false));
        Ok(())
    }

    fn read_stream(&mut self, path: &Path) -> Result<()> {
        let (_, r) = crate::input::open(path)?;
        let mut rd = Reader::new(r);
        let context = || format!("reading {}", path.display());
        // (The global header comes first: an increment is refused at once.)
        let mut next = rd.next_entry().map_err(|e| e.with_context(context()))?;
        if crate::tar::listed::is_increment(rd.globals()) {
            let why = if has_index_frame(path) {
                "whose entry index cannot be read (damaged, or larger than alientar reads)"
            } else {
                "without an entry index (written with -z, -J, -j or no compression)"
            };
            return Err(Error::usage(format!(
                "{} is an increment {why}; its tar stream holds only what it changed: make \
                 the next increment from a zstd archive of the chain, or from its full archive",
                path.display()
            )));
        }
        while let Some(e) = next {
            self.add(&e, true);
            next = rd.next_entry().map_err(|e| e.with_context(context()))?;
        }
        self.time = rd
            .globals()
            .iter()
            .find(|(k, _)| k == keys::ALIENTAR_INCREMENTAL_TIME)
            .and_then(|(_, v)| pax::parse_time(v));
        Ok(())
    }

    /// Add `e`, a member of PREV (`member`) or an entry it carries.
    fn add(&mut self, e: &Entry, member: bool) {
        let label = match &e.label {
            None => 0,
            Some(l) => match self.labels.iter().position(|x| x == l) {
                Some(i) => i + 1,
                None => {
                    self.labels.push(l.clone());
                    self.labels.len()
                }
            },
        };
        let was = Was {
            kind: e.kind,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            stored: member.then_some((e.size, e.mtime)),
            link: e.link.clone(),
            dev: (e.dev_major, e.dev_minor),
            label,
            xattrs: xattr_digest(&e.xattrs),
            seen: false,
        };
        self.entries.insert(e.path.clone(), was);
    }

    /// The label of `w`.
    pub(super) fn label_of(&self, w: &Was) -> Option<&str> {
        w.label.checked_sub(1).map(|i| self.labels[i].as_str())
    }
}
