//! The calls of reading a tree to archive that go by path: the walk's
//! fallbacks for what it cannot ask relative to an open directory, and
//! opening a file whose directory could not be opened.

use std::fs::File;
use std::io;
use std::path::Path;

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

/// Does the file at `path` (not a symlink) start with `prefix`? Opened
/// without blocking (a FIFO does not hold the walk); false when it cannot
/// be read.
pub fn starts_with(path: &Path, prefix: &[u8]) -> bool {
    let Ok(fd) = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    let mut buf = vec![0u8; prefix.len()];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return false,
        }
    }
    got == prefix.len() && buf == prefix
}
