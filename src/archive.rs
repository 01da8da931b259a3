//! What the reading commands read: an archive or an image (`oci:`,
//! `oci-archive:`, `docker-archive:`, see [`crate::image`]).
//!
//! [`Entries`] gives the metadata only (list, check): from the entry index
//! of alientar's own zstd archives when it is valid, else from the tar
//! stream; an image's final view, or each layer's own entries. [`Members`]
//! gives the entries with their data (extract, diff, `-O`): an archive's
//! tar stream, or an image's final view read from its layers. For an
//! increment, [`Entries`] also says what it does to the state it follows:
//! which members it adds or changes, which names it deletes.

use std::collections::HashSet;
use std::path::Path;

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::frame::chain::Change;
use crate::image::{Image, ImageRef, Scanned, Stream};
use crate::input::Source;
use crate::tar::Reader;
use crate::tar::read::Chunk;

/// Open the image `archive` names, read and verify its layers.
fn scan_image(r: &ImageRef, archive: &Path) -> Result<Scanned> {
    Scanned::scan(Image::open(r, archive)?)
}

/// An archive's members with their data.
pub enum Members {
    /// A tar stream.
    Tar(Box<Reader<Box<dyn Source>>>),
    /// An image's final view.
    Image(Box<Stream>),
}

impl Members {
    /// Open an archive, or an image (whose layers are read and verified
    /// whole first: see [`crate::image`]).
    ///
    /// # Errors
    /// The archive cannot be opened; an image cannot be read or fails its
    /// digests.
    pub fn open(archive: &Path) -> Result<Members> {
        if let Some(r) = ImageRef::parse(archive) {
            let (image, view) = scan_image(&r, archive)?.view();
            return Ok(Members::Image(Box::new(Stream::new(image, view))));
        }
        let (_, r) = crate::input::open_source(archive)?;
        Ok(Members::Tar(Box::new(Reader::new(r))))
    }

    /// Entries an image's final view refused (unsafe whiteouts, entries
    /// under a symlink, hard links to nothing): each once.
    pub fn take_errors(&mut self) -> Vec<Error> {
        match self {
            Members::Tar(_) => Vec::new(),
            Members::Image(s) => s.take_errors(),
        }
    }

    /// The names the listing headers of an increment read so far gave
    /// (see [`crate::tar::listed`]); none for an image, whose layers
    /// delete by their whiteouts, applied in its final view.
    pub fn take_listed(&mut self) -> crate::tar::listed::Listed {
        match self {
            Members::Tar(r) => r.take_listed(),
            Members::Image(_) => Default::default(),
        }
    }

    /// The global header read so far says the archive is an increment.
    pub fn is_increment(&self) -> bool {
        match self {
            Members::Tar(r) => crate::tar::listed::is_increment(r.globals()),
            Members::Image(_) => false,
        }
    }

    /// The next member; its data is read next.
    ///
    /// # Errors
    /// A malformed archive or layer.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        match self {
            Members::Tar(r) => r.next_entry(),
            Members::Image(s) => s.next_entry(),
        }
    }

    fn reader(&mut self) -> &mut Reader<Box<dyn Source>> {
        match self {
            Members::Tar(r) => r,
            Members::Image(s) => s.reader(),
        }
    }

    /// As [`Reader::read_data`].
    ///
    /// # Errors
    /// As [`Reader::read_data`].
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.reader().read_data(buf)
    }

    /// As [`Reader::read_chunk`].
    ///
    /// # Errors
    /// As [`Reader::read_chunk`].
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<Chunk> {
        self.reader().read_chunk(buf)
    }

    /// As [`Reader::borrow_data`].
    ///
    /// # Errors
    /// As [`Reader::borrow_data`].
    pub fn borrow_data(&mut self, n: usize) -> Result<Option<crate::frame::read::Shared>> {
        self.reader().borrow_data(n)
    }

    /// Bytes of the uncompressed stream (an image: its layers') read.
    pub fn position(&self) -> u64 {
        match self {
            Members::Tar(r) => r.position(),
            Members::Image(s) => s.position(),
        }
    }
}

/// The entries of an archive: from its index when it has a valid one (no
/// data is read), else from the tar stream; an image's final view, or its
/// layers' own entries.
pub struct Entries {
    src: Origin,
    /// The current entry, reused from one to the next.
    cur: Entry,
    /// The current entry's layer (from 0), for an image.
    layer: usize,
    /// Names the archive deletes, not taken yet.
    deleted: Vec<Vec<u8>>,
    /// Streaming an increment: the names of the members it changes.
    changed: Option<HashSet<Vec<u8>>>,
}

/// Where [`Entries`] come from.
enum Origin {
    Index(Box<crate::frame::index::IndexReader>),
    Stream(Box<Reader<Box<dyn std::io::Read + Send>>>),
    /// Entries held in memory (an image's), in order, each with its layer
    /// (from 0).
    Held(std::vec::IntoIter<(usize, Entry)>, LayerNames),
}

/// The names of an image's layers, base first.
type LayerNames = Vec<String>;

/// The layer an entry of [`Entries::open_layers`] comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LayerOf<'a> {
    /// Its number, from 1.
    pub number: usize,
    /// How many layers the image has.
    pub count: usize,
    /// Its digest (or its file, in a docker-archive).
    pub name: &'a str,
}

impl Entries {
    /// Open an archive for its entries; an image for its final view.
    ///
    /// # Errors
    /// The archive cannot be opened; an image cannot be read or fails its
    /// digests. Entries an image's final view refused are in `refused`.
    pub fn open(archive: &Path, refused: &mut Vec<Error>) -> Result<Entries> {
        if let Some(r) = ImageRef::parse(archive) {
            let (image, mut view) = scan_image(&r, archive)?.view();
            refused.append(&mut view.errors);
            let names = image
                .layers()
                .iter()
                .map(|l| l.name().to_string())
                .collect();
            let held: Vec<(usize, Entry)> = view
                .layers
                .into_iter()
                .enumerate()
                .flat_map(|(l, v)| v.into_iter().map(move |p| (l, p.entry)))
                .collect();
            return Ok(Entries::held(held, names));
        }
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
        Ok(Entries::with(src, deleted))
    }

    /// Open an image for each layer's own entries, whiteouts included.
    ///
    /// # Errors
    /// `archive` names no image; the image cannot be read or fails its
    /// digests.
    pub fn open_layers(archive: &Path) -> Result<Entries> {
        let r = ImageRef::parse(archive).ok_or_else(|| {
            Error::usage(format!(
                "{}: --layers lists the layers of an image (oci:DIR[:TAG], \
                 oci-archive:FILE[:TAG], docker-archive:FILE)",
                archive.display()
            ))
        })?;
        let scanned = scan_image(&r, archive)?;
        let names = scanned
            .image
            .layers()
            .iter()
            .map(|l| l.name().to_string())
            .collect();
        let held: Vec<(usize, Entry)> = scanned
            .layers
            .into_iter()
            .enumerate()
            .flat_map(|(l, v)| v.into_iter().map(move |e| (l, e)))
            .collect();
        Ok(Entries::held(held, names))
    }

    fn held(held: Vec<(usize, Entry)>, names: LayerNames) -> Entries {
        Entries::with(Origin::Held(held.into_iter(), names), Vec::new())
    }

    fn with(src: Origin, deleted: Vec<Vec<u8>>) -> Entries {
        Entries {
            src,
            cur: Entry::new(Vec::new(), crate::entry::Kind::File),
            layer: 0,
            deleted,
            changed: None,
        }
    }

    /// The next entry, in a buffer the next call reuses (listing a large
    /// index this way allocates nothing per entry), and for an image, its
    /// layer.
    ///
    /// # Errors
    /// A malformed archive (streaming).
    pub fn next_mut(&mut self) -> Result<Option<(&mut Entry, Option<LayerOf<'_>>)>> {
        if !self.advance()? {
            return Ok(None);
        }
        Ok(Some(self.current()))
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
                Ok(next.map(|e| self.cur = e).is_some())
            }
            Origin::Held(it, _) => Ok(it
                .next()
                .map(|(l, e)| (self.layer, self.cur) = (l, e))
                .is_some()),
        }
    }

    /// The current entry, and for an image, its layer.
    pub fn current(&mut self) -> (&mut Entry, Option<LayerOf<'_>>) {
        let layer = match &self.src {
            Origin::Held(_, names) => Some(LayerOf {
                number: self.layer + 1,
                count: names.len(),
                name: &names[self.layer],
            }),
            _ => None,
        };
        (&mut self.cur, layer)
    }

    /// What the current entry is to the increment it belongs to (an
    /// image's layers are no increments: see [`crate::image`]).
    pub fn change(&self) -> Change {
        match (&self.src, &self.changed) {
            (Origin::Index(idx), _) => idx.change(),
            (_, None) => Change::Plain,
            (_, Some(c)) if c.contains(&self.cur.path) => Change::Changed,
            (_, Some(_)) => Change::Added,
        }
    }

    /// The names the archive deletes that were not taken yet: an
    /// increment's, known before its first member (or at the end, when it
    /// has none).
    pub fn take_deleted(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.deleted)
    }
}
