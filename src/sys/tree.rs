//! The calls of reading a tree to archive that go by path: the walk's
//! fallbacks for what it cannot ask relative to an open directory, and
//! opening a file whose directory could not be opened.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::{err, errno};

/// Open the regular file at `path` for reading, refusing a symlink as its
/// last component.
///
/// # Errors
/// As open(2).
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(err)
}

/// Read the xattrs of `path` (not following a symlink), sorted by name;
/// names that are not UTF-8 are left out. Filesystems without xattr
/// support give none.
///
/// # Errors
/// A read error other than "not supported".
pub fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if errno::is(&e, errno::Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for n in names {
        let Some(name) = n.to_str() else { continue };
        if let Some(v) = xattr::get(path, &n)? {
            out.push((name.to_owned(), v));
        }
    }
    out.sort();
    Ok(out)
}

/// `readlink` by path.
///
/// # Errors
/// As readlink(2).
pub fn read_link(path: &Path) -> io::Result<Vec<u8>> {
    rustix::fs::readlink(path, Vec::new())
        .map(std::ffi::CString::into_bytes)
        .map_err(err)
}

/// `chmod` by path (following a symlink: callers name a file they stat'ed
/// as a regular file).
///
/// # Errors
/// As chmod(2).
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    rustix::fs::chmod(path, Mode::from_raw_mode(mode)).map_err(err)
}

/// The process's effective uid.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A device number's major and minor numbers.
pub fn major_minor(rdev: u64) -> (u32, u32) {
    (rustix::fs::major(rdev), rustix::fs::minor(rdev))
}

/// What a walk below a directory met that it could not read.
#[derive(Debug)]
pub struct WalkError {
    /// Where.
    pub path: PathBuf,
    /// Why.
    pub error: io::Error,
}

/// Everything below the directory `path`, depth first, names sorted
/// bytewise, symlinks not followed, one open directory per level: for very
/// deep trees.
pub fn walk_below(path: &Path) -> impl Iterator<Item = Result<PathBuf, WalkError>> + '_ {
    use std::os::unix::ffi::OsStrExt;
    walkdir::WalkDir::new(path)
        .min_depth(1)
        .follow_links(false)
        .sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()))
        .into_iter()
        .map(move |item| {
            item.map(walkdir::DirEntry::into_path).map_err(|e| {
                let p = e
                    .path()
                    .map_or_else(|| path.to_path_buf(), Path::to_path_buf);
                let error = e
                    .into_io_error()
                    .unwrap_or_else(|| io::Error::other("filesystem loop"));
                WalkError { path: p, error }
            })
        })
}
