//! Where an image's files are: an OCI layout directory, or a tar archive
//! holding one (`oci-archive:`) or `podman save`'s docker-archive, read in
//! place. Every name looked up is relative and checked; nothing on disk is
//! followed (a symlink in a layout is refused, a symlink member of an
//! archive is not a file).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::member::safe_components;
use crate::sys::Dir;

use crate::digest::shown;

/// Most members an image archive may hold (the index of them is kept in
/// memory).
const MAX_MEMBERS: usize = 1 << 20;

/// An open file of an image: its bytes and its size.
pub struct Blob {
    /// The bytes.
    pub reader: Box<dyn Read + Send>,
    /// How many there are.
    pub size: u64,
}

/// An image's files.
pub enum Store {
    /// An OCI layout directory.
    Dir {
        /// The layout's root, opened.
        root: Dir,
        /// Its path, for messages.
        path: PathBuf,
    },
    /// A tar archive, its members found by one pass over their headers.
    Tar(TarFile),
}

/// A tar archive's regular members: (data offset, size) by name.
pub struct TarFile {
    file: Arc<File>,
    path: PathBuf,
    members: HashMap<Vec<u8>, (u64, u64)>,
}

impl Store {
    /// An OCI layout directory (followed if a symlink, as `-C` is).
    ///
    /// # Errors
    /// It cannot be opened as a directory.
    pub fn dir(path: &Path) -> Result<Store> {
        let root =
            Dir::open(path).map_err(|e| Error::io("cannot open the image layout", path, e))?;
        Ok(Store::Dir {
            root,
            path: path.to_path_buf(),
        })
    }

    /// A tar archive of an image.
    ///
    /// # Errors
    /// It cannot be read, it is compressed, or its headers are malformed.
    pub fn tar(path: &Path) -> Result<Store> {
        TarFile::open(path).map(Store::Tar)
    }

    /// The image's name for messages.
    pub fn path(&self) -> &Path {
        match self {
            Store::Dir { path, .. } => path,
            Store::Tar(t) => &t.path,
        }
    }

    /// The file at the relative path `name`.
    ///
    /// # Errors
    /// A name with `..`, a missing file, a symlink or non-regular file in a
    /// layout directory.
    pub fn open(&self, name: &str) -> Result<Blob> {
        let (comps, _) = safe_components(name.as_bytes()).map_err(|m| {
            Error::unsafe_path(format!("{m}: '{}'", shown(name))).with_path(self.path())
        })?;
        let Some((last, parents)) = comps.split_last() else {
            return Err(Error::format(format!("no file named '{}'", shown(name))));
        };
        let fail = |e: io::Error| Error::io(format!("cannot open {}", shown(name)), self.path(), e);
        match self {
            Store::Dir { root, .. } => {
                let mut dir = root.reopen().map_err(fail)?;
                for c in parents {
                    dir = dir.open_dir(c).map_err(fail)?;
                }
                let f = dir.open_regular(last).map_err(fail)?;
                let size = f.metadata().map_err(fail)?.len();
                Ok(Blob {
                    reader: Box::new(io::BufReader::with_capacity(256 << 10, f)),
                    size,
                })
            }
            Store::Tar(t) => {
                let key = comps.join(&b'/');
                let &(at, size) = t
                    .members
                    .get(&key)
                    .ok_or_else(|| fail(io::ErrorKind::NotFound.into()))?;
                let slice = Slice {
                    file: t.file.clone(),
                    pos: at,
                    end: at + size,
                };
                Ok(Blob {
                    reader: Box::new(io::BufReader::with_capacity(256 << 10, slice)),
                    size,
                })
            }
        }
    }

    /// The whole file at `name`, when it holds at most `cap` bytes.
    ///
    /// # Errors
    /// As [`Store::open`], a larger file, or a read error.
    pub fn read_small(&self, name: &str, cap: u64) -> Result<Vec<u8>> {
        let b = self.open(name)?;
        if b.size > cap {
            return Err(Error::format(format!(
                "{} holds {} bytes, more than the {cap} alientar reads",
                shown(name),
                b.size
            ))
            .with_path(self.path()));
        }
        let mut out = Vec::with_capacity(b.size as usize);
        b.reader
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(format!("cannot read {}", shown(name)), self.path(), e))?;
        Ok(out)
    }
}

impl TarFile {
    fn open(path: &Path) -> Result<TarFile> {
        let fail = |e: io::Error| Error::io("cannot read the image archive", path, e);
        let mut f = File::open(path).map_err(fail)?;
        if f.metadata().map_err(fail)?.is_dir() {
            return Err(fail(io::ErrorKind::IsADirectory.into()));
        }
        let mut head = [0u8; 6];
        let n = f.read(&mut head).map_err(fail)?;
        let c = crate::input::detect(&head[..n]);
        if c != crate::input::Compression::None {
            return Err(Error::format(format!(
                "the image archive is compressed ({c:?}); alientar reads it uncompressed, \
                 as podman and skopeo write it: decompress it first"
            ))
            .with_path(path));
        }
        let members = index(File::open(path).map_err(fail)?).map_err(|e| {
            Error::format(format!("cannot read the image archive: {e}")).with_path(path)
        })?;
        Ok(TarFile {
            file: Arc::new(f),
            path: path.to_path_buf(),
            members,
        })
    }
}

/// The regular members of a tar archive by their names without `./`; a
/// hard link, or a symlink whose target stays inside the archive (docker
/// archives link `ID/layer.tar` to `../HEX.tar`), counts as its target's
/// data. Each member's data is read in place later, so the archive is
/// read here only header by header.
fn index(f: File) -> io::Result<HashMap<Vec<u8>, (u64, u64)>> {
    let mut ar = tar::Archive::new(f);
    let mut members = HashMap::new();
    let mut links = Vec::new();
    for e in ar.entries_with_seek()? {
        let e = e?;
        let Some(name) = normal(&e.path_bytes()) else {
            continue;
        };
        let kind = e.header().entry_type();
        let target = e.link_name_bytes();
        if kind.is_file() || kind.is_contiguous() {
            members.insert(name, (e.raw_file_position(), e.size()));
        } else if kind.is_hard_link()
            && let Some(t) = target.as_deref().and_then(normal)
        {
            links.push((name, t));
        } else if kind.is_symlink()
            && let Some(t) = target.as_deref().and_then(|t| beside(&name, t))
        {
            links.push((name, t));
        }
        if members.len() + links.len() > MAX_MEMBERS {
            return Err(io::Error::other(format!(
                "it has more than {MAX_MEMBERS} members"
            )));
        }
    }
    // (Links to links: as deep as a few rounds resolve.)
    for _ in 0..4 {
        for (name, target) in &links {
            if let Some(&m) = members.get(target) {
                members.entry(name.clone()).or_insert(m);
            }
        }
    }
    Ok(members)
}

/// The member a symlink `name` with `target` points to, when it stays
/// inside the archive.
fn beside(name: &[u8], target: &[u8]) -> Option<Vec<u8>> {
    let mut comps: Vec<&[u8]> = name.split(|&b| b == b'/').collect();
    comps.pop();
    if target.starts_with(b"/") {
        comps.clear();
    }
    for c in target.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                comps.pop()?;
            }
            c => comps.push(c),
        }
    }
    Some(comps.join(&b'/'))
}

/// A member name as a lookup key, or `None` for one that can name no file
/// of an image (`..`).
fn normal(name: &[u8]) -> Option<Vec<u8>> {
    let (comps, _) = safe_components(name).ok()?;
    Some(comps.join(&b'/'))
}

/// A range of a file, read with `pread`: several layers of one archive
/// may be read at once.
struct Slice {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for Slice {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += n as u64;
        Ok(n)
    }
}
