//! The nearest directory above a path that carries an xattr: how a file
//! outside the tree being read inherits its context label (DESIGN §6).
//!
//! The search climbs by directory handles (`openat(fd, "..")`), so it
//! follows the directories the files really are in, not the spelling of a
//! path; it stops at the file system's root and at a mount boundary (a
//! change of `st_dev`: a label describes the files of one file system),
//! and at a directory it cannot open or read (its label, if any, is
//! unknown: nothing farther up may stand in for it).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use xattr::FileExt;

use super::{Meta, err, fstat, lstat_path};

impl super::Dir {
    /// This directory's xattr `key`, if it has one (a file system without
    /// xattrs has none).
    ///
    /// # Errors
    /// As fgetxattr(2).
    pub fn xattr(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        use rustix::io::Errno;
        let mut buf = vec![0u8; 256];
        loop {
            match rustix::fs::fgetxattr(&self.fd, key, &mut buf[..]) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
                Err(Errno::NODATA | Errno::OPNOTSUPP) => return Ok(None),
                Err(Errno::RANGE) => {
                    let n: usize =
                        rustix::fs::fgetxattr(&self.fd, key, &mut [0u8; 0][..]).map_err(err)?;
                    buf.resize(n.max(buf.len() * 2), 0);
                }
                Err(e) => return Err(err(e)),
            }
        }
    }
}

/// An xattr found on a directory above a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Its value (possibly empty).
    pub value: Vec<u8>,
    /// The directory carrying it, for messages: its path as the kernel
    /// names it, else the path climbed (`DIR/../..`).
    pub dir: PathBuf,
    /// How many levels above the first directory looked at it is (0: that
    /// directory itself).
    pub levels: usize,
}

/// Most directories climbed: deeper trees exist, but a label farther up
/// than this is not worth the system calls.
const MAX_LEVELS: usize = 4096;

/// The nearest directory, from `dir` itself (followed if a symlink, as
/// `-C DIR` is) upwards, that carries the xattr `key`; `None` when none
/// does before the file system's root, a mount boundary or a directory
/// that cannot be read.
pub fn nearest_xattr(dir: &Path, key: &str) -> Option<Found> {
    let fd = open_dir(rustix::fs::CWD, dir).ok()?;
    climb(fd, dir.to_path_buf(), key)
}

/// [`nearest_xattr`] for the directories *above* `path` (not followed if
/// a symlink): from the directory holding it, on the same file system.
pub fn nearest_xattr_above(path: &Path, key: &str) -> Option<Found> {
    let md = lstat_path(path).ok()?;
    let (parent, shown) = if md.kind() == rustix::fs::FileType::Directory {
        let fd = open_dir(rustix::fs::CWD, path).ok()?;
        (up(&fd, &md)?, path.join(".."))
    } else {
        let p = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let fd = open_dir(rustix::fs::CWD, p).ok()?;
        if fstat(&fd).ok()?.dev != md.dev {
            return None;
        }
        (fd, p.to_path_buf())
    };
    climb(parent, shown, key)
}

/// From the open directory `fd` (shown as `shown`) upwards.
fn climb(mut fd: OwnedFd, mut shown: PathBuf, key: &str) -> Option<Found> {
    for levels in 0..MAX_LEVELS {
        let file = File::from(fd);
        match file.get_xattr(key) {
            Ok(Some(value)) => {
                let dir = kernel_path(&file).unwrap_or(shown);
                return Some(Found { value, dir, levels });
            }
            Ok(None) => {}
            Err(e) if super::errno::is(&e, super::errno::Errno::OPNOTSUPP) => {}
            Err(_) => return None,
        }
        let md = fstat(&file).ok()?;
        fd = up(&file, &md)?;
        shown.push("..");
    }
    None
}

/// The parent of the open directory `fd` (whose `fstat` is `md`): `None`
/// at the file system's root (its own parent), across a mount boundary,
/// or when it cannot be opened.
fn up(fd: &impl AsFd, md: &Meta) -> Option<OwnedFd> {
    let parent = open_dir(fd, Path::new("..")).ok()?;
    let pmd = fstat(&parent).ok()?;
    if pmd.dev != md.dev || pmd.ino == md.ino {
        return None;
    }
    Some(parent)
}

/// Open a directory for reading (an xattr of a `user.` name needs read
/// permission on the file anyway).
fn open_dir(at: impl AsFd, path: &Path) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        at,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)
}

/// The path the kernel gives an open file (`/proc/self/fd/N`), if
/// `/proc` is there.
fn kernel_path(f: &File) -> Option<PathBuf> {
    let link = format!("/proc/self/fd/{}", f.as_raw_fd());
    std::fs::read_link(link).ok().filter(|p| p.is_absolute())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user xattr on `p`, or false when the file system has none.
    fn set(p: &Path, v: &[u8]) -> bool {
        xattr::set(p, "user.test.label", v).is_ok()
    }

    #[test]
    fn the_nearest_directory_above_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("top");
        std::fs::create_dir_all(top.join("a/b/c")).unwrap();
        std::fs::write(top.join("a/b/file"), "x").unwrap();
        if !set(&top, b"far") {
            return;
        }
        assert!(set(&top.join("a"), b"near"));
        let key = "user.test.label";
        let near = nearest_xattr(&top.join("a/b/c"), key).unwrap();
        assert_eq!(near.value, b"near");
        assert_eq!(near.dir, top.join("a").canonicalize().unwrap());
        assert_eq!(near.levels, 2);
        // From inside: the directory itself counts; above: it does not.
        assert_eq!(nearest_xattr(&top.join("a"), key).unwrap().value, b"near");
        assert_eq!(
            nearest_xattr_above(&top.join("a"), key).unwrap().value,
            b"far"
        );
        assert_eq!(
            nearest_xattr_above(&top.join("a/b/file"), key)
                .unwrap()
                .value,
            b"near"
        );
        // Nothing above the top's parent carries it (a fresh temporary
        // directory); an empty value is found as it is.
        assert_eq!(nearest_xattr_above(&top, key), None);
        assert!(set(&top.join("a/b"), b""));
        assert_eq!(nearest_xattr(&top.join("a/b/c"), key).unwrap().value, b"");
    }

    #[test]
    fn the_root_has_nothing_above() {
        assert_eq!(nearest_xattr_above(Path::new("/"), "user.test.label"), None);
    }
}
