//! Putting what a worker made under its own name: new files are born
//! unnamed or under a temporary name, and get their name only when
//! complete.

use std::fs::File;
use std::io;

use crate::error::{Error, Result};
use crate::sink::Applied;
use crate::sys::Dir;
use crate::sys::errno::{self, Errno};

use super::meta::Has;
use super::worker::Worker;

/// How a new file was made, which decides how [`Worker::seal`] names it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Born {
    /// `O_TMPFILE`: linked in when complete.
    Unnamed,
    /// Under a temporary name: renamed into place when complete.
    AsTemporary,
    /// Under its own name, in a new subtree not yet renamed into place.
    InPlace,
    /// The existing file of that name, emptied (`--overwrite`).
    Existing,
}

/// Where a worker puts an entry, and the entry as the sink sees it.
pub(super) struct Placing<'a> {
    pub(super) dir: &'a Dir,
    /// Its own name in `dir`.
    pub(super) name: &'a [u8],
    /// A temporary name in `dir`, for what cannot be made under `name`.
    pub(super) tmp: &'a [u8],
    pub(super) a: &'a Applied<'a>,
    /// It gets the label xattr.
    pub(super) label: bool,
    /// The member name, for messages.
    pub(super) path: &'a str,
}

impl Placing<'_> {
    /// The error of `op` on this entry.
    pub(super) fn err(&self, op: &str, x: io::Error) -> Error {
        Error::io(op, self.path, x)
    }
}

/// A new file, written: what [`Worker::seal`] gives it.
pub(super) struct Written<'a> {
    pub(super) file: &'a File,
    pub(super) born: Born,
    pub(super) xattrs: &'a [(String, Vec<u8>)],
    pub(super) has: Has,
}

/// A new file in `dir`: unnamed (`O_TMPFILE`) where the filesystem allows,
/// else under the temporary name `tmp`.
pub(super) fn create_unnamed(dir: &Dir, tmp: &[u8], mode: u32) -> io::Result<(File, Born)> {
    match dir.create_tmpfile(mode)? {
        Some(f) => Ok((f, Born::Unnamed)),
        None => Ok((dir.create_file(tmp, mode)?, Born::AsTemporary)),
    }
}

/// Rename `tmp` over `name`, replacing an empty directory if need be.
/// Returns true when a directory was replaced.
pub(super) fn place(dir: &Dir, tmp: &[u8], name: &[u8]) -> io::Result<bool> {
    match dir.rename(tmp, name) {
        Ok(()) => Ok(false),
        Err(e)
            if errno::is(&e, Errno::ISDIR)
                || errno::is(&e, Errno::NOTEMPTY)
                || errno::exists(&e) =>
        {
            dir.unlink(name, true)?;
            dir.rename(tmp, name)?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

impl Worker {
    /// Give a written file its metadata (`r`: whether writing it went
    /// well), then its name: link an unnamed file, rename a named
    /// temporary. On error nothing keeps the name (a file made in place in
    /// a new subtree is removed).
    pub(super) fn seal(&mut self, p: &Placing, w: Written, r: Result<()>) -> Result<()> {
        let r = r.and_then(|()| {
            self.apply_fd_with(w.file, p.a, w.xattrs, p.label, w.has)
                .map_err(|x| p.err("cannot set the metadata of", x))
        });
        match w.born {
            Born::Existing => r,
            Born::InPlace => {
                if r.is_err() {
                    let _ = p.dir.unlink(p.name, false);
                }
                r
            }
            Born::Unnamed => r.and_then(|()| self.link_into_place(p, w.file)),
            Born::AsTemporary => self.finish_tmp(p, r),
        }
    }

    /// Link a complete unnamed file under its name. Where the name is
    /// taken by something that is not a directory, remove that, then link,
    /// as GNU tar and bsdtar replace files. (A rename over an existing file
    /// would make ext4 write the new file's data out first:
    /// auto_da_alloc.) The name is never a partial file: the old one, none,
    /// or the new one.
    fn link_into_place(&mut self, p: &Placing, f: &File) -> Result<()> {
        let linked = |r: io::Result<()>| r.map_err(|x| p.err("cannot link {} into place", x));
        match p.dir.link_tmpfile(f, p.name) {
            Err(x) if errno::exists(&x) && p.dir.unlink(p.name, false).is_ok() => {
                linked(p.dir.link_tmpfile(f, p.name))
            }
            Err(x) if errno::exists(&x) => {
                // A directory (or an undeletable name): link under a
                // temporary name, then rename over it.
                p.dir
                    .link_tmpfile(f, p.tmp)
                    .map_err(|x| p.err("cannot create", x))?;
                self.finish_tmp(p, Ok(()))
            }
            r => linked(r),
        }
    }

    /// Rename a finished temporary into place, or remove it on error.
    pub(super) fn finish_tmp(&mut self, p: &Placing, r: Result<()>) -> Result<()> {
        let r = r.and_then(|()| {
            place(p.dir, p.tmp, p.name).map_err(|x| p.err("cannot rename {} into place", x))
        });
        if r.is_err() {
            let _ = p.dir.unlink(p.tmp, false);
        }
        if matches!(r, Ok(true)) {
            self.cache = None;
        }
        r.map(|_| ())
    }
}
