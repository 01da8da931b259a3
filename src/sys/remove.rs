//! Removing a name whatever it is, a directory with everything beneath it
//! included, for the deletions an incremental archive records: relative to
//! an open directory, never following a symlink, never entering another
//! filesystem mounted beneath.

use std::io;

use rustix::fs::FileType;

use super::errno::{self, Errno};
use super::{Dir, fstat};

/// Deepest directory [`Dir::remove_any`] descends into.
const MAX_DEPTH: usize = 256;

impl Dir {
    /// Remove `name` from this directory: a symlink itself (never what it
    /// points to), a directory with everything beneath it. `Ok(false)`
    /// when there is no such name.
    ///
    /// # Errors
    /// As lstat(2), openat(2), getdents64(2) and unlinkat(2); `EXDEV` for a
    /// directory beneath that is on another filesystem (a mount point: what
    /// is mounted there is not removed), `ELOOP` for a tree deeper than 256.
    pub fn remove_any(&self, name: &[u8]) -> io::Result<bool> {
        let md = match self.lstat(name) {
            Err(e) if errno::missing(&e) => return Ok(false),
            r => r?,
        };
        if md.kind() == FileType::Directory {
            self.remove_dir_on(name, md.dev, 0)?;
        } else {
            self.unlink(name, false)?;
        }
        Ok(true)
    }

    /// Remove the directory `name`, on the device `dev`, and what is in it.
    fn remove_dir_on(&self, name: &[u8], dev: u64, depth: usize) -> io::Result<()> {
        match self.unlink(name, true) {
            Err(e) if errno::is(&e, Errno::NOTEMPTY) || errno::exists(&e) => {}
            r => return r,
        }
        if depth >= MAX_DEPTH {
            return Err(errno::error(Errno::LOOP));
        }
        let sub = self.open_dir(name)?;
        if fstat(sub.fd())?.dev != dev {
            return Err(errno::error(Errno::XDEV));
        }
        let mut names = sub.names()?;
        names.sort_unstable();
        for n in names {
            let md = match sub.lstat(&n) {
                Err(e) if errno::missing(&e) => continue,
                r => r?,
            };
            if md.kind() == FileType::Directory {
                sub.remove_dir_on(&n, dev, depth + 1)?;
            } else {
                sub.unlink(&n, false)?;
            }
        }
        self.unlink(name, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_trees_and_never_follows_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"x").unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("d/e/f")).unwrap();
        std::fs::write(root.join("d/e/f/g"), b"y").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d/link")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("top-link")).unwrap();
        let d = Dir::open(&root).unwrap();
        assert!(d.remove_any(b"d").unwrap());
        assert!(d.remove_any(b"top-link").unwrap());
        assert!(!d.remove_any(b"d").unwrap());
        assert!(!root.join("d").exists());
        assert!(outside.join("keep").exists());
        assert!(std::fs::symlink_metadata(root.join("top-link")).is_err());
    }
}
