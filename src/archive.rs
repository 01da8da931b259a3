//! An archive's entries for the commands that only read metadata (list,
//! check): from the entry index of alientar's own zstd archives when it is
//! valid, else from the tar stream. For an increment, also what it does to
//! the state it follows: which members it adds or changes, which names it
//! deletes.

use std::collections::HashSet;

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::frame::chain::Change;
use crate::tar::Reader;

/// The entries of an archive: from its index when it has a valid one (no
/// data is read), else from the tar stream.
pub struct Entries {
    src: Origin,
    /// The current entry, reused from one to the next.
    cur: Entry,
    /// Names the archive deletes, not taken yet.
    deleted: Vec<Vec<u8>>,
    /// Streaming an increment: the names of the members it changes.
    changed: Option<HashSet<Vec<u8>>>,
}

/// Where [`Entries`] come from.
enum Origin {
    Index(Box<crate::frame::index::IndexReader>),
    Stream(Box<Reader<Box<dyn std::io::Read + Send>>>),
}

impl Entries {
    /// Open an archive for its entries.
    ///
    /// # Errors
    /// The archive cannot be opened.
    pub fn open(archive: &std::path::Path) -> Result<Entries> {
        let (src, deleted) = match crate::frame::read::index_of(archive) {
            Some(idx) => {
                let d = idx.deleted();
                (Origin::Index(Box::new(idx)), d)
            }
            None => {
                let (_, r) = crate::input::open(archive)?;
                (Origin::Stream(Box::new(Reader::new(r))), Vec::new())
            }
        };
        Ok(Entries {
            src,
            cur: Entry::new(Vec::new(), crate::entry::Kind::File),
            deleted,
            changed: None,
        })
    }

    /// The next entry, in a buffer the next call reuses (listing a large
    /// index this way allocates nothing per entry).
    ///
    /// # Errors
    /// A malformed archive (streaming).
    pub fn next_mut(&mut self) -> Result<Option<&mut Entry>> {
        Ok(self.advance()?.then_some(&mut self.cur))
    }

    /// Move to the next entry ([`Entries::current`]); false after the
    /// last.
    ///
    /// # Errors
    /// A malformed archive (streaming).
    pub fn advance(&mut self) -> Result<bool> {
        match &mut self.src {
            Origin::Index(idx) => match idx.next_into(&mut self.cur) {
                Ok(found) => Ok(found.is_some()),
                // (The index was checked whole when opened: not reached.)
                Err(m) => Err(Error::format(format!("bad index: {m}"))),
            },
            Origin::Stream(r) => {
                let next = r.next_entry()?;
                let listed = r.take_listed();
                if self.changed.is_none() && crate::tar::listed::is_increment(r.globals()) {
                    self.changed = Some(HashSet::new());
                }
                if let Some(c) = &mut self.changed {
                    c.extend(listed.changed);
                }
                self.deleted.extend(listed.deleted);
                match next {
                    Some(e) => {
                        self.cur = e;
                        Ok(true)
                    }
                    None => Ok(false),
                }
            }
        }
    }

    /// The current entry.
    pub fn current(&mut self) -> &mut Entry {
        &mut self.cur
    }

    /// What the current entry is to the increment it belongs to.
    pub fn change(&self) -> Change {
        match (&self.src, &self.changed) {
            (Origin::Index(idx), _) => idx.change(),
            (Origin::Stream(_), None) => Change::Plain,
            (Origin::Stream(_), Some(c)) if c.contains(&self.cur.path) => Change::Changed,
            (Origin::Stream(_), Some(_)) => Change::Added,
        }
    }

    /// The names the archive deletes that were not taken yet: an
    /// increment's, known before its first member (or at the end, when it
    /// has none).
    pub fn take_deleted(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.deleted)
    }
}
