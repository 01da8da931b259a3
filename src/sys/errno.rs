//! What a failed system call said: the errno tests callers make, in one
//! place, so that code above `sys` never compares raw numbers.

use std::io;

pub use rustix::io::Errno;

/// Did `e` come from the kernel with this errno?
pub fn is(e: &io::Error, errno: Errno) -> bool {
    e.raw_os_error() == Some(errno.raw_os_error())
}

/// The name exists already (`EEXIST`).
pub fn exists(e: &io::Error) -> bool {
    is(e, Errno::EXIST)
}

/// A component is missing (`ENOENT`).
pub fn missing(e: &io::Error) -> bool {
    is(e, Errno::NOENT)
}

/// The resolution met a symlink, a non-directory or an escape where
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` refuses one (`ELOOP`,
/// `ENOTDIR`, `EXDEV`).
pub fn refused_path(e: &io::Error) -> bool {
    is(e, Errno::LOOP) || is(e, Errno::NOTDIR) || is(e, Errno::XDEV)
}

/// An `io::Error` carrying this errno.
pub fn error(errno: Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_tests() {
        assert!(exists(&error(Errno::EXIST)));
        assert!(!exists(&error(Errno::NOENT)));
        assert!(missing(&error(Errno::NOENT)));
        assert!(refused_path(&error(Errno::XDEV)));
        assert!(!refused_path(&io::Error::other("x")));
    }
}
