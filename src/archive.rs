//! An archive's entries for the commands that only read metadata (list,
//! check): from the entry index of alientar's own zstd archives when it is
//! valid, else from the tar stream.

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::tar::Reader;

/// The entries of an archive: from its index when it has a valid one (no
/// data is read), else from the tar stream.
pub struct Entries {
    src: Origin,
    /// The current entry, reused from one to the next.
    cur: Entry,
}

/// Where [`Entries`] come from.
enum Origin {
    Index(crate::frame::index::IndexReader),
    Stream(Box<Reader<Box<dyn std::io::Read + Send>>>),
}

impl Entries {
    /// Open an archive for its entries.
    ///
    /// # Errors
    /// The archive cannot be opened.
    pub fn open(archive: &std::path::Path) -> Result<Entries> {
        let src = match crate::frame::read::index_of(archive) {
            Some(idx) => Origin::Index(idx),
            None => {
                let (_, r) = crate::input::open(archive)?;
                Origin::Stream(Box::new(Reader::new(r)))
            }
        };
        Ok(Entries {
            src,
            cur: Entry::new(Vec::new(), crate::entry::Kind::File),
        })
    }

    /// The next entry, in a buffer the next call reuses (listing a large
    /// index this way allocates nothing per entry).
    ///
    /// # Errors
    /// A malformed archive (streaming).
    pub fn next_mut(&mut self) -> Result<Option<&mut Entry>> {
        match &mut self.src {
            Origin::Index(idx) => match idx.next_into(&mut self.cur) {
                Ok(Some(_)) => Ok(Some(&mut self.cur)),
                Ok(None) => Ok(None),
                // (The index was checked whole when opened: not reached.)
                Err(m) => Err(Error::format(format!("bad index: {m}"))),
            },
            Origin::Stream(r) => match r.next_entry()? {
                Some(e) => {
                    self.cur = e;
                    Ok(Some(&mut self.cur))
                }
                None => Ok(None),
            },
        }
    }
}
