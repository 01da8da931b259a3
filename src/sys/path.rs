//! Calls by path, for the commands that read a tree without a directory
//! handle (diff): `stat`, an open that refuses a symlink, `readlink`,
//! `lgetxattr`. Each error is the kernel's, for the caller to name the path.

use std::fs::File;
use std::io;
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::{Meta, err};

/// `stat` by path, following symlinks (the directory a user names).
///
/// # Errors
/// As stat(2).
pub fn stat(path: &Path) -> io::Result<Meta> {
    rustix::fs::statat(rustix::fs::CWD, path, AtFlags::empty())
        .map(|st| Meta::of(&st))
        .map_err(err)
}

/// Open a file for reading, refusing a symlink as its last component.
///
/// # Errors
/// As open(2): `ELOOP` for a symlink.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(err)
}

/// A symlink's target.
///
/// # Errors
/// As readlink(2).
pub fn read_link(path: &Path) -> io::Result<Vec<u8>> {
    rustix::fs::readlink(path, Vec::new())
        .map(std::ffi::CString::into_bytes)
        .map_err(err)
}

/// `lgetxattr`: the attribute of the file itself, a symlink not followed;
/// `None` when there is no such attribute.
///
/// # Errors
/// As lgetxattr(2), other than "no such attribute".
pub fn lgetxattr(path: &Path, key: &str) -> io::Result<Option<Vec<u8>>> {
    xattr::get(path, key)
}

/// A device number's (major, minor).
pub fn major_minor(rdev: u64) -> (u32, u32) {
    (rustix::fs::major(rdev), rustix::fs::minor(rdev))
}
