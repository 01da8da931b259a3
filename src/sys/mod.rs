//! The syscall layer: every filesystem call the extractor makes, relative to
//! a directory handle, never following symlinks.
//!
//! Calls go through `rustix`, except `listxattrat` (Linux 6.13), which it
//! does not wrap yet: that one is a raw `libc::syscall`. The crate's `unsafe`
//! lives in this module and its submodules only (that call and filling a
//! buffer's spare capacity here, entering a user namespace in [`userns`],
//! one zstd setting in [`zstd`], dying of SIGPIPE in [`sigpipe`]). Paths are single
//! components (`name`), resolved against an open directory ([`Dir`]); the
//! caller walks multi-component paths one `openat(O_NOFOLLOW|O_DIRECTORY)`
//! at a time, so a symlink planted by an earlier member can never redirect a
//! later one outside the destination.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, UTIME_NOW, XattrFlags};

use crate::entry::Time;

pub mod ancestors;
pub mod clock;
pub mod creds;
pub mod errno;
pub mod live;
pub mod path;
mod remove;
pub mod sigpipe;
pub mod tree;
pub mod userns;
pub mod zstd;

/// Whether `linkat(AT_EMPTY_PATH)` works for this process (until it fails once).
static EMPTY_PATH_LINKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

fn os(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}

fn err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// An open directory that names are resolved against.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// Open a directory by path (the destination root; follows symlinks, as
    /// `tar -C` does for the directory the user names).
    ///
    /// # Errors
    /// The path does not exist or is not a directory.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)?;
        Ok(Dir { fd })
    }

    /// A second handle on this directory with its own file offset (so that
    /// two threads may read its entries): `.` opened beneath it, which
    /// needs no path from the root, so it works where that path no longer
    /// resolves (another user namespace may not open `/proc/PID/root`).
    ///
    /// # Errors
    /// As openat(2).
    pub fn reopen(&self) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)?;
        Ok(Dir { fd })
    }

    /// Make this directory the process's working directory.
    ///
    /// # Errors
    /// As fchdir(2).
    pub fn chdir(&self) -> io::Result<()> {
        rustix::process::fchdir(&self.fd).map_err(err)
    }

    /// Open the subdirectory `name`; fails with `ELOOP` or `ENOTDIR` on a
    /// symlink or non-directory.
    ///
    /// # Errors
    /// As openat(2).
    pub fn open_dir(&self, name: &[u8]) -> io::Result<Dir> {
        let fd = rustix::fs::openat(
            &self.fd,
            os(name),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)?;
        Ok(Dir { fd })
    }

    /// Open the directory at the relative path `path` (several components)
    /// with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`: the kernel
    /// refuses any symlink, `..` escape or magic link on the way. `Ok(None)`
    /// when the kernel has no `openat2` (the caller walks component by
    /// component instead).
    ///
    /// # Errors
    /// As openat2(2): `ENOENT` when a component is missing, `ELOOP` for a
    /// symlink, `EXDEV` for an escape, `ENOTDIR` for a non-directory.
    pub fn open_dir_beneath(&self, path: &[u8]) -> io::Result<Option<Dir>> {
        use rustix::fs::ResolveFlags;
        match rustix::fs::openat2(
            &self.fd,
            os(path),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => Ok(Some(Dir { fd })),
            Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// Remove what a killed earlier run left here: names
    /// `.alientar-PID-...` whose process no longer exists (never our own).
    /// A directory is a killed run's new subtree, made under a temporary
    /// name (see `extract`): removed whole. Returns how many were removed.
    pub fn sweep_stale_temporaries(&self) -> usize {
        self.remove_dead(
            |name| {
                let rest = name.strip_prefix(b".alientar-")?;
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                decimal_pid(&rest[..digits])
            },
            |dir, name, kind| {
                if kind == FileType::Directory {
                    dir.remove_tree(name, 0).is_ok()
                } else {
                    dir.unlink(name, false).is_ok()
                }
            },
        )
    }

    /// Remove the files named `prefix` followed by the decimal ID of a
    /// process that no longer exists (never our own): what killed runs
    /// left. Directories are left alone. Returns how many were removed.
    pub fn remove_stale_files(&self, prefix: &[u8]) -> usize {
        self.remove_dead(
            |name| decimal_pid(name.strip_prefix(prefix)?),
            |dir, name, kind| kind != FileType::Directory && dir.unlink(name, false).is_ok(),
        )
    }

    /// For each name here that `pid_of` ties to a process that no longer
    /// exists (never our own), `remove` it; how many were removed.
    fn remove_dead(
        &self,
        pid_of: impl Fn(&[u8]) -> Option<u32>,
        remove: impl Fn(&Dir, &[u8], FileType) -> bool,
    ) -> usize {
        let Ok(rd) = rustix::fs::Dir::read_from(&self.fd) else {
            return 0;
        };
        let me = std::process::id();
        rd.flatten()
            .filter(|ent| {
                let name = ent.file_name().to_bytes();
                pid_of(name).is_some_and(|pid| pid != 0 && pid != me && !process_exists(pid))
                    && remove(self, name, ent.file_type())
            })
            .count()
    }

    /// Does this directory have the setgid bit (new files then take its group)?
    ///
    /// # Errors
    /// As fstat(2).
    pub fn is_setgid(&self) -> io::Result<bool> {
        Ok(rustix::fs::fstat(&self.fd).map_err(err)?.st_mode & 0o2000 != 0)
    }

    /// The raw handle.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `mkdirat`.
    ///
    /// # Errors
    /// As mkdirat(2).
    pub fn mkdir(&self, name: &[u8], mode: u32) -> io::Result<()> {
        rustix::fs::mkdirat(&self.fd, os(name), Mode::from_raw_mode(mode)).map_err(err)
    }

    /// Create a new regular file exclusively (never through a symlink).
    ///
    /// # Errors
    /// As openat(2) with `O_CREAT|O_EXCL`.
    pub fn create_file(&self, name: &[u8], mode: u32) -> io::Result<File> {
        let fd = rustix::fs::openat(
            &self.fd,
            os(name),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(err)?;
        Ok(File::from(fd))
    }

    /// An unnamed regular file in this directory (`O_TMPFILE`): it has no
    /// name until [`Dir::link_tmpfile`] gives it one, and vanishes if the
    /// process dies first. `Ok(None)` when the filesystem does not support it.
    ///
    /// # Errors
    /// As openat(2), other than "not supported".
    pub fn create_tmpfile(&self, mode: u32) -> io::Result<Option<File>> {
        self.tmpfile(OFlags::WRONLY, mode)
    }

    /// `O_TMPFILE` opened with `access` and `mode`; `Ok(None)` when the
    /// filesystem does not support it.
    fn tmpfile(&self, access: OFlags, mode: u32) -> io::Result<Option<File>> {
        match rustix::fs::openat(
            &self.fd,
            ".",
            access | OFlags::TMPFILE | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        ) {
            Ok(fd) => Ok(Some(File::from(fd))),
            Err(e)
                if e == rustix::io::Errno::OPNOTSUPP
                    || e == rustix::io::Errno::ISDIR
                    || e == rustix::io::Errno::INVAL =>
            {
                Ok(None)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// An unnamed file in this directory to write and read back scratch
    /// data in (`O_TMPFILE`, mode 0600): it vanishes when closed, or if the
    /// process dies. `Ok(None)` when the filesystem does not support it.
    ///
    /// # Errors
    /// As openat(2), other than "not supported".
    pub fn scratch_file(&self) -> io::Result<Option<File>> {
        self.tmpfile(OFlags::RDWR, 0o600)
    }

    /// Give an `O_TMPFILE` file the name `name` in this directory; fails
    /// with `EEXIST` when the name is taken (never replaces anything).
    ///
    /// # Errors
    /// As linkat(2).
    pub fn link_tmpfile(&self, f: &File, name: &[u8]) -> io::Result<()> {
        // AT_EMPTY_PATH names the file by its descriptor directly; it needs
        // CAP_DAC_READ_SEARCH, so others go through /proc/self/fd.
        if EMPTY_PATH_LINKS.load(std::sync::atomic::Ordering::Relaxed) {
            match rustix::fs::linkat(f, "", &self.fd, os(name), AtFlags::EMPTY_PATH) {
                Ok(()) => return Ok(()),
                Err(e) if e == rustix::io::Errno::NOENT || e == rustix::io::Errno::PERM => {
                    EMPTY_PATH_LINKS.store(false, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => return Err(err(e)),
            }
        }
        let proc = format!("/proc/self/fd/{}", f.as_raw_fd());
        rustix::fs::linkat(
            rustix::fs::CWD,
            proc.as_str(),
            &self.fd,
            os(name),
            AtFlags::SYMLINK_FOLLOW,
        )
        .map_err(err)
    }

    /// `symlinkat(target, self, name)`.
    ///
    /// # Errors
    /// As symlinkat(2).
    pub fn symlink(&self, target: &[u8], name: &[u8]) -> io::Result<()> {
        rustix::fs::symlinkat(os(target), &self.fd, os(name)).map_err(err)
    }

    /// Hard-link `from_dir/from_name` (not following a symlink) as `name`.
    ///
    /// # Errors
    /// As linkat(2).
    pub fn hardlink(&self, from_dir: &Dir, from_name: &[u8], name: &[u8]) -> io::Result<()> {
        rustix::fs::linkat(
            &from_dir.fd,
            os(from_name),
            &self.fd,
            os(name),
            AtFlags::empty(),
        )
        .map_err(err)
    }

    /// `mknodat` for a FIFO, character or block device.
    ///
    /// # Errors
    /// As mknodat(2) (`EPERM` for devices without `CAP_MKNOD`).
    pub fn mknod(
        &self,
        name: &[u8],
        kind: FileType,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()> {
        rustix::fs::mknodat(
            &self.fd,
            os(name),
            kind,
            Mode::from_raw_mode(mode),
            rustix::fs::makedev(major, minor),
        )
        .map_err(err)
    }

    /// `fchownat(..., AT_SYMLINK_NOFOLLOW)`.
    ///
    /// # Errors
    /// As fchownat(2).
    pub fn lchown(&self, name: &[u8], uid: u32, gid: u32) -> io::Result<()> {
        rustix::fs::chownat(
            &self.fd,
            os(name),
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(err)
    }

    /// `fchmodat` — only for names this process just created and knows are
    /// not symlinks.
    ///
    /// # Errors
    /// As fchmodat(2).
    pub fn chmod(&self, name: &[u8], mode: u32) -> io::Result<()> {
        rustix::fs::chmodat(
            &self.fd,
            os(name),
            Mode::from_raw_mode(mode),
            AtFlags::empty(),
        )
        .map_err(err)
    }

    /// Set the modification time (access time: now), not following symlinks.
    ///
    /// # Errors
    /// As utimensat(2).
    pub fn set_mtime(&self, name: &[u8], t: Time) -> io::Result<()> {
        rustix::fs::utimensat(
            &self.fd,
            os(name),
            &timestamps(t),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(err)
    }

    /// Set an xattr on `name` without following a symlink (through the
    /// `/proc/self/fd` view of this directory).
    ///
    /// # Errors
    /// As lsetxattr(2).
    pub fn lsetxattr(&self, name: &[u8], key: &str, value: &[u8]) -> io::Result<()> {
        let mut p = format!("/proc/self/fd/{}/", self.fd.as_raw_fd()).into_bytes();
        p.extend_from_slice(name);
        rustix::fs::lsetxattr(os(&p), key, value, XattrFlags::empty()).map_err(err)
    }

    /// `renameat` within this directory (replaces a non-directory target).
    ///
    /// # Errors
    /// As renameat(2).
    pub fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, os(from), &self.fd, os(to)).map_err(err)
    }

    /// `renameat2(RENAME_NOREPLACE)` within this directory: fails with
    /// `EEXIST` when `to` exists. Where the filesystem has no
    /// `RENAME_NOREPLACE` (`EINVAL`), a plain rename, which cannot replace a
    /// non-empty directory either.
    ///
    /// # Errors
    /// As renameat2(2).
    pub fn rename_noreplace(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        match rustix::fs::renameat_with(
            &self.fd,
            os(from),
            &self.fd,
            os(to),
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Err(rustix::io::Errno::INVAL) => {
                if self.lstat(to).is_ok() {
                    return Err(err(rustix::io::Errno::EXIST));
                }
                self.rename(from, to)
            }
            r => r.map_err(err),
        }
    }

    /// Remove the directory `name` and everything beneath it, without
    /// following symlinks; a subdirectory that cannot be read is made
    /// 0700 first. Gives up below `depth` 256 (the caller's counter).
    ///
    /// # Errors
    /// As openat(2), getdents64(2), unlinkat(2).
    pub fn remove_tree(&self, name: &[u8], depth: usize) -> io::Result<()> {
        match self.unlink(name, true) {
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::NOTEMPTY.raw_os_error())
                    || e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {}
            r => return r,
        }
        if depth >= 256 {
            return Err(io::Error::other("too deep to remove"));
        }
        let sub = match self.open_dir(name) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::ACCESS.raw_os_error()) => {
                rustix::fs::chmodat(
                    &self.fd,
                    os(name),
                    Mode::from_raw_mode(0o700),
                    AtFlags::empty(),
                )
                .map_err(err)?;
                self.open_dir(name)?
            }
            r => r?,
        };
        let mut d = rustix::fs::Dir::read_from(&sub.fd).map_err(err)?;
        while let Some(e) = d.read() {
            let e = e.map_err(err)?;
            let n = e.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            let is_dir = match e.file_type() {
                FileType::Unknown => sub.lstat(n)?.kind() == FileType::Directory,
                t => t == FileType::Directory,
            };
            if is_dir {
                sub.remove_tree(n, depth + 1)?;
            } else {
                sub.unlink(n, false)?;
            }
        }
        self.unlink(name, true)
    }

    /// `unlinkat` (a directory with `dir`, which must be empty).
    ///
    /// # Errors
    /// As unlinkat(2).
    pub fn unlink(&self, name: &[u8], dir: bool) -> io::Result<()> {
        let flags = if dir {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        rustix::fs::unlinkat(&self.fd, os(name), flags).map_err(err)
    }

    /// `fstatat(..., AT_SYMLINK_NOFOLLOW)`.
    ///
    /// # Errors
    /// As fstatat(2).
    pub fn lstat(&self, name: &[u8]) -> io::Result<Meta> {
        rustix::fs::statat(&self.fd, os(name), AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| Meta::of(&st))
            .map_err(err)
    }

    /// Open the directory at `path` for reading its names, refusing a
    /// symlink as its last component (the create walk saw a directory).
    ///
    /// # Errors
    /// As open(2).
    pub fn open_nofollow(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)?;
        Ok(Dir { fd })
    }

    /// The names in the directory (without `.` and `..`), unsorted.
    ///
    /// # Errors
    /// As getdents64(2).
    pub fn names(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut d = rustix::fs::Dir::read_from(&self.fd).map_err(err)?;
        let mut out = Vec::new();
        while let Some(e) = d.read() {
            let e = e.map_err(err)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(n.to_vec());
            }
        }
        Ok(out)
    }

    /// Open the existing regular file `name` for writing, emptied (GNU
    /// tar's `--overwrite`: the same inode gets the new contents).
    /// `Ok(None)` when `name` is missing or is not a regular file: a
    /// symlink is not followed, and a device or FIFO is never opened (an
    /// open can have effects of its own there).
    ///
    /// # Errors
    /// As fstatat(2), openat(2) and ftruncate(2).
    pub fn open_regular_truncated(&self, name: &[u8]) -> io::Result<Option<File>> {
        match self.lstat(name) {
            Ok(m) if m.kind() == FileType::RegularFile => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        let fd = match rustix::fs::openat(
            &self.fd,
            os(name),
            OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // Replaced since the lstat by a symlink, or removed.
            Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOENT => {
                return Ok(None);
            }
            Err(e) => return Err(err(e)),
        };
        if fstat(&fd)?.kind() != FileType::RegularFile {
            return Ok(None);
        }
        rustix::fs::ftruncate(&fd, 0).map_err(err)?;
        Ok(Some(File::from(fd)))
    }

    /// Open the regular file `name` for reading, refusing a symlink.
    ///
    /// # Errors
    /// As openat(2).
    pub fn open_file(&self, name: &[u8]) -> io::Result<File> {
        rustix::fs::openat(
            &self.fd,
            os(name),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(File::from)
        .map_err(err)
    }

    /// Open `name` for reading when it is a regular file: a symlink is
    /// refused (`ELOOP`), and a FIFO or device neither blocks the open nor
    /// is read (`EINVAL`).
    ///
    /// # Errors
    /// As openat(2); `EINVAL` for a file that is not a regular one.
    pub fn open_regular(&self, name: &[u8]) -> io::Result<File> {
        self.open_regular_meta(name).map(|(f, _)| f)
    }

    /// As [`Dir::open_regular`], with the file's status (its `fstat`).
    ///
    /// # Errors
    /// As [`Dir::open_regular`].
    pub fn open_regular_meta(&self, name: &[u8]) -> io::Result<(File, Meta)> {
        let fd = rustix::fs::openat(
            &self.fd,
            os(name),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)?;
        let st = rustix::fs::fstat(&fd).map_err(err)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(err(rustix::io::Errno::INVAL));
        }
        // (O_NONBLOCK does nothing to a regular file's reads.)
        Ok((File::from(fd), Meta::of(&st)))
    }

    /// Can this process read `name` here (`faccessat` with the effective
    /// IDs)?
    pub fn readable(&self, name: &[u8]) -> bool {
        rustix::fs::accessat(
            &self.fd,
            os(name),
            rustix::fs::Access::READ_OK,
            AtFlags::EACCESS,
        )
        .is_ok()
    }

    /// Whether `name` (not followed if a symlink) has any extended
    /// attribute, asked with `listxattrat(2)` relative to this directory
    /// (Linux 6.13+; one syscall, no path walked again from the root).
    /// `None` when that cannot say: an older kernel, a filesystem without
    /// xattrs, any error; the caller then asks by path.
    pub fn has_xattrs(&self, name: &[u8]) -> Option<bool> {
        use std::sync::atomic::{AtomicBool, Ordering};
        // The architecture's number for it (465 on most; libc has none yet).
        const SYS_LISTXATTRAT: libc::c_long =
            linux_raw_sys::general::__NR_listxattrat as libc::c_long;
        static MISSING: AtomicBool = AtomicBool::new(false);
        if MISSING.load(Ordering::Relaxed) {
            return None;
        }
        // (The name made NUL-terminated on the stack, as rustix does.)
        let n = rustix::path::Arg::into_with_c_str(os(name), |c| {
            // SAFETY: listxattrat(dirfd, path, at_flags, list, size) with a
            // NULL list and size 0 only returns the length the names would
            // need; the descriptor and the NUL-terminated name outlive the
            // call.
            Ok(unsafe {
                libc::syscall(
                    SYS_LISTXATTRAT,
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                    std::ptr::null_mut::<libc::c_char>(),
                    0usize,
                )
            })
        })
        .ok()?;
        if n >= 0 {
            return Some(n > 0);
        }
        // ENOSYS: an older kernel; EPERM: a seccomp filter that does not know it.
        if matches!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::ENOSYS | libc::EPERM)
        ) {
            MISSING.store(true, Ordering::Relaxed);
        }
        None
    }

    /// `readlinkat(dir, name)`.
    ///
    /// # Errors
    /// As readlinkat(2).
    pub fn read_link(&self, name: &[u8]) -> io::Result<Vec<u8>> {
        rustix::fs::readlinkat(&self.fd, os(name), Vec::new())
            .map(std::ffi::CString::into_bytes)
            .map_err(err)
    }
}

/// What `lstat` says about a file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time.
    pub mtime: Time,
    /// Status change time: any change to the file's data or metadata
    /// (owner, mode, xattrs, links, name) sets it to the current time.
    pub ctime: Time,
    /// Device number of a device node.
    pub rdev: u64,
    /// Device holding the file.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Link count.
    pub nlink: u64,
}

impl Meta {
    fn of(st: &rustix::fs::Stat) -> Meta {
        Meta {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            mtime: Time {
                sec: st.st_mtime,
                nsec: st.st_mtime_nsec as u32,
            },
            ctime: Time {
                sec: st.st_ctime,
                nsec: st.st_ctime_nsec as u32,
            },
            rdev: st.st_rdev,
            dev: st.st_dev,
            ino: st.st_ino,
            nlink: st.st_nlink,
        }
    }

    /// The file type.
    pub fn kind(&self) -> FileType {
        FileType::from_raw_mode(self.mode)
    }
}

/// `lstat` by path.
///
/// # Errors
/// As lstat(2).
pub fn lstat_path(path: &Path) -> io::Result<Meta> {
    rustix::fs::statat(rustix::fs::CWD, path, AtFlags::SYMLINK_NOFOLLOW)
        .map(|st| Meta::of(&st))
        .map_err(err)
}

fn timestamps(t: Time) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        },
        last_modification: Timespec {
            tv_sec: t.sec,
            tv_nsec: i64::from(t.nsec),
        },
    }
}

/// Read up to `max` bytes of `fd` at `offset`, appended to `out` without
/// zero-filling the room first. Returns the number read (0 at the end).
///
/// # Errors
/// As pread(2).
pub fn pread_append(
    fd: impl AsFd,
    out: &mut Vec<u8>,
    max: usize,
    offset: u64,
) -> io::Result<usize> {
    out.reserve(max);
    let len = out.len();
    let room = &mut out.spare_capacity_mut()[..max];
    let n = rustix::io::pread(fd, room, offset)?.0.len();
    // SAFETY: pread initialized the first `n` bytes after `len`, within the
    // capacity reserved above.
    unsafe { out.set_len(len + n) };
    Ok(n)
}

/// Whether the open file has any extended attribute (`flistxattr` asked
/// for the size of the list). `None` when that cannot say: a filesystem
/// without xattrs, any error.
pub fn has_xattrs_fd(fd: impl AsFd) -> Option<bool> {
    rustix::fs::flistxattr_query(fd).ok().map(|n| n > 0)
}

/// `fstat` of an open file.
///
/// # Errors
/// As fstat(2).
pub fn fstat(fd: impl AsFd) -> io::Result<Meta> {
    rustix::fs::fstat(fd).map(|st| Meta::of(&st)).map_err(err)
}

/// `fchown` on an open file or directory.
///
/// # Errors
/// As fchown(2).
pub fn fchown(fd: impl AsFd, uid: u32, gid: u32) -> io::Result<()> {
    rustix::fs::fchown(
        fd,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .map_err(err)
}

/// `fchmod` on an open file or directory.
///
/// # Errors
/// As fchmod(2).
pub fn fchmod(fd: impl AsFd, mode: u32) -> io::Result<()> {
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(err)
}

/// `futimens`: set the modification time (access time: now).
///
/// # Errors
/// As futimens(2).
pub fn futimens(fd: impl AsFd, t: Time) -> io::Result<()> {
    rustix::fs::futimens(fd, &timestamps(t)).map_err(err)
}

/// `fsetxattr`.
///
/// # Errors
/// As fsetxattr(2).
pub fn fsetxattr(fd: impl AsFd, key: &str, value: &[u8]) -> io::Result<()> {
    rustix::fs::fsetxattr(fd, key, value, XattrFlags::empty()).map_err(err)
}

/// `getxattr` by path, following symlinks: `None` when the file has no
/// such attribute or its filesystem none at all.
///
/// # Errors
/// As getxattr(2), other than "no such attribute" and "not supported".
pub fn getxattr(path: &Path, key: &str) -> io::Result<Option<Vec<u8>>> {
    match xattr::get_deref(path, key) {
        Ok(v) => Ok(v),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `fremovexattr`; an attribute that is not there is no error.
///
/// # Errors
/// As fremovexattr(2).
pub fn fremovexattr(fd: impl AsFd, key: &str) -> io::Result<()> {
    match rustix::fs::fremovexattr(fd, key) {
        Err(e) if e == rustix::io::Errno::NODATA || e == rustix::io::Errno::NOTSUP => Ok(()),
        r => r.map_err(err),
    }
}

/// A process ID written in decimal digits only (`None` for anything else).
fn decimal_pid(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Is there a process with this ID (in our PID namespace)? A process we
/// may not signal exists too.
pub fn process_exists(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|p| {
            rustix::process::test_kill_process(p)
                .map_or_else(|e| e != rustix::io::Errno::SRCH, |()| true)
        })
}

/// Can this process read `path` (`faccessat` with the effective IDs)?
pub fn readable(path: &Path) -> bool {
    rustix::fs::accessat(
        rustix::fs::CWD,
        path,
        rustix::fs::Access::READ_OK,
        AtFlags::EACCESS,
    )
    .is_ok()
}

/// The process's file mode creation mask.
pub fn umask() -> u32 {
    // Read by setting it, then put back at once.
    let m = rustix::process::umask(Mode::from_raw_mode(0o022));
    rustix::process::umask(m);
    m.as_raw_mode()
}

/// [`privileged`], remembered (the walk asks for every file): 0 not known
/// yet, 1 no, 2 yes. Forgotten when the process enters a user namespace.
static PRIVILEGED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// True when the process may chown to arbitrary IDs (root or `CAP_CHOWN`
/// in its user namespace, approximated by the effective uid being 0).
pub fn privileged() -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    match PRIVILEGED.load(Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let p = rustix::process::geteuid().is_root();
            PRIVILEGED.store(if p { 2 } else { 1 }, Relaxed);
            p
        }
    }
}

/// The credentials changed: [`privileged`] asks the kernel again.
fn forget_privileged() {
    PRIVILEGED.store(0, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_xattrs_answers_for_the_name_in_the_directory() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("plain"), b"x").unwrap();
        std::fs::write(t.path().join("tagged"), b"x").unwrap();
        std::os::unix::fs::symlink("tagged", t.path().join("link")).unwrap();
        if let Err(e) = xattr::set(t.path().join("tagged"), "user.alientar.test", b"1") {
            eprintln!("SKIPPED: the test directory's filesystem takes no user xattrs ({e})");
            return;
        }
        let d = Dir::open(t.path()).unwrap();
        let Some(plain) = d.has_xattrs(b"plain") else {
            eprintln!(
                "SKIPPED: listxattrat(2) is not available (Linux 6.13+); callers ask by path"
            );
            return;
        };
        assert!(!plain);
        assert_eq!(d.has_xattrs(b"tagged"), Some(true));
        // The symlink itself, not what it points to.
        assert_eq!(d.has_xattrs(b"link"), Some(false));
        assert_eq!(d.has_xattrs(b"missing"), None);
    }
}
