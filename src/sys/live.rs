//! Running user namespaces: opened by a process's ID or a namespace file,
//! their owner and maps read, entered with `setns(2)`, and the ones on the
//! machine listed.
//!
//! A user namespace can be entered by a process that has `CAP_SYS_ADMIN` in
//! it: its owner (the user that made it: rootless podman's pause process,
//! `podman unshare`, `unshare --map-auto`) has that, and so has root. Like
//! `unshare(CLONE_NEWUSER)`, `setns` into a user namespace fails once the
//! process has a second thread, so [`join`] runs before any thread exists.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

use crate::error::{Error, Result};

fn err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Open a namespace file (`/proc/PID/ns/user` or a bind mount of one) and
/// check that it is a user namespace.
///
/// # Errors
/// The file cannot be opened, or is no namespace, or one of another kind
/// (`EINVAL`).
pub fn open(path: &Path) -> io::Result<OwnedFd> {
    let fd =
        rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(err)?;
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the file's
    // namespace; `fd` is open for the duration of the call.
    let kind = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_NSTYPE) };
    if kind < 0 {
        let e = io::Error::last_os_error();
        // ENOTTY: a file that is no namespace at all.
        return Err(if e.raw_os_error() == Some(libc::ENOTTY) {
            io::Error::from_raw_os_error(libc::EINVAL)
        } else {
            e
        });
    }
    if kind != libc::CLONE_NEWUSER {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(fd)
}

/// The user that owns (made) the user namespace `fd`, as this process's
/// namespace sees it.
///
/// # Errors
/// As ioctl(2) with `NS_GET_OWNER_UID`.
pub fn owner_uid(fd: BorrowedFd) -> io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t to the pointer given, which
    // points to `uid`, alive for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_OWNER_UID, &raw mut uid) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(uid)
}

/// Device and inode of a namespace: the same pair is the same namespace.
///
/// # Errors
/// As fstat(2).
pub fn identity(fd: BorrowedFd) -> io::Result<(u64, u64)> {
    let m = super::fstat(fd)?;
    Ok((m.dev, m.ino))
}

/// This process's own user namespace (device, inode).
pub fn own_identity() -> io::Result<(u64, u64)> {
    let fd = open(Path::new("/proc/self/ns/user"))?;
    identity(fd.as_fd())
}

/// The uid map and gid map (the kernel's text, lines `inside outside
/// count`) of the user namespace `fd`, read by a child process that enters
/// it: a namespace file names no process whose maps could be read.
///
/// # Errors
/// The child cannot be made, or cannot enter the namespace (`EPERM`: this
/// user does not own it).
pub fn maps_of(fd: BorrowedFd) -> io::Result<(String, String)> {
    let (mut rd, wr) = std::io::pipe()?;
    // Everything the child touches is made before the fork: after it, only
    // system calls (no allocation, no lock).
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: the child runs only async-signal-safe system calls on memory
    // that exists before the fork, then _exit(2)s: nothing in it depends on
    // another thread's locks or on Rust's runtime.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let code = child_reads_maps(fd, wr.as_fd(), &mut buf);
        // SAFETY: ends the child at once, without running destructors or
        // atexit handlers that belong to the parent.
        unsafe { libc::_exit(code) };
    }
    drop(wr);
    let mut out = Vec::new();
    let read = io::Read::read_to_end(&mut rd, &mut out);
    let mut status = 0;
    // SAFETY: waits for the child made above; `status` is a valid int.
    let waited = unsafe { libc::waitpid(pid, &raw mut status, 0) };
    read?;
    if waited < 0 {
        return Err(io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            libc::EIO
        };
        return Err(io::Error::from_raw_os_error(code));
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (uid, gid) = text.split_once('\0').unwrap_or((&text, ""));
    Ok((uid.to_owned(), gid.to_owned()))
}

/// In the forked child: enter the namespace, write its uid map, a NUL, its
/// gid map to `out`. Returns the exit status: 0, or the errno that failed.
fn child_reads_maps(ns: BorrowedFd, out: BorrowedFd, buf: &mut [u8]) -> i32 {
    let errno = |e: rustix::io::Errno| e.raw_os_error();
    if let Err(e) = rustix::thread::move_into_link_name_space(ns, Some(LinkNameSpaceType::User)) {
        return errno(e);
    }
    for (i, file) in [c"/proc/self/uid_map", c"/proc/self/gid_map"]
        .into_iter()
        .enumerate()
    {
        if i == 1 && rustix::io::write(out, b"\0").is_err() {
            return libc::EIO;
        }
        let f = match rustix::fs::open(file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(f) => f,
            Err(e) => return errno(e),
        };
        loop {
            match rustix::io::read(&f, &mut *buf) {
                Ok(0) => break,
                Ok(n) => {
                    if rustix::io::write(out, &buf[..n]).is_err() {
                        return libc::EIO;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return errno(e),
            }
        }
    }
    0
}

/// Move this process into the running user namespace `fd` (`what` names
/// it in messages), then take credentials it maps: `uid`/`gid`, the IDs
/// inside it to be (the caller's own where the namespace maps them, else
/// its root; `None` when it maps neither).
///
/// # Errors
/// More than one thread; the kernel refusing (`EPERM`: the namespace is
/// not the user's; the message says who may enter it).
pub fn join(fd: BorrowedFd, what: &str, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
    let n = super::userns::threads();
    if n > 1 {
        return Err(Error::usage(format!(
            "internal error: cannot enter a user namespace from a process with {n} threads"
        )));
    }
    if let Err(e) = rustix::thread::move_into_link_name_space(fd, Some(LinkNameSpaceType::User)) {
        return Err(refused(what, fd, e));
    }
    super::userns::take_ids(uid, gid, &format!("the user namespace of {what}"))
}

/// The error for a `setns` the kernel refused.
fn refused(what: &str, fd: BorrowedFd, e: rustix::io::Errno) -> Error {
    if e == rustix::io::Errno::PERM {
        let owner = owner_uid(fd).map_or_else(|_| "another user".into(), |u| format!("uid {u}"));
        return Error::io_nopath(
            format!(
                "cannot enter the user namespace of {what}: it belongs to {owner}, and only its owner or root may enter it"
            ),
            err(e),
        );
    }
    Error::io_nopath(format!("cannot enter the user namespace of {what}"), err(e))
}

/// One process's user namespace, as the scan of `/proc` finds it.
#[derive(Debug)]
pub struct Found {
    /// The process.
    pub pid: u32,
    /// The namespace's device and inode.
    pub id: (u64, u64),
    /// Its owner.
    pub owner: u32,
    /// When the process started (clock ticks since boot).
    pub started: u64,
}

/// Every process whose user namespace this process can open, other than
/// its own namespace: the namespaces of this user's processes (root:
/// every process). Processes that end during the scan are left out.
pub fn scan() -> Vec<Found> {
    let own = own_identity().ok();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for d in dir.flatten() {
        let Some(pid) = d.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fd) = open(&d.path().join("ns/user")) else {
            continue;
        };
        let (Ok(id), Ok(owner)) = (identity(fd.as_fd()), owner_uid(fd.as_fd())) else {
            continue;
        };
        if Some(id) == own {
            continue;
        }
        let Some(started) = start_time(pid) else {
            continue;
        };
        found.push(Found {
            pid,
            id,
            owner,
            started,
        });
    }
    found
}

/// A process's start time (field 22 of `/proc/PID/stat`), clock ticks.
fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // from the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}
