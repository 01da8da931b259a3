//! Entering a user namespace built from an ID map with `newuidmap` /
//! `newgidmap`, as an ordinary user (root writes the maps itself).
//!
//! `unshare(CLONE_NEWUSER)` fails with `EINVAL` once a process has a second
//! thread, so [`enter_as`] must run before any rayon, zstd or writer thread
//! exists: the commands call it first thing, from the main thread. The
//! process itself moves into the new namespace (no re-exec): a helper child
//! is started *before* the unshare (so the setuid `newuidmap` runs in the
//! original namespace, where it has the privilege to write our maps), waits
//! on a pipe until we have unshared, then writes `/proc/PID/uid_map`; a
//! second one, at the same time, `gid_map`. Root, who has no subordinate
//! ranges for `newuidmap` to check and needs none, forks a child that
//! writes both maps.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::context::Maps;
use crate::error::{Error, Result};
use crate::idmap::{IdKind, IdMap};

/// Is `newuidmap` installed?
pub fn available() -> bool {
    [
        "/usr/bin/newuidmap",
        "/bin/newuidmap",
        "/usr/sbin/newuidmap",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists())
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("newuidmap").exists()))
}

/// The IDs the kernel shows for an owner a user namespace does not map
/// (`/proc/sys/kernel/overflowuid` and `overflowgid`; 65534 where unreadable).
pub fn overflow_ids() -> (u32, u32) {
    let read = |f: &str| {
        std::fs::read_to_string(f)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(crate::idmap::OVERFLOW_ID)
    };
    (
        read("/proc/sys/kernel/overflowuid"),
        read("/proc/sys/kernel/overflowgid"),
    )
}

/// How many threads this process has (`/proc/self/status`).
pub(super) fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Threads:")
                    .map(|v| v.trim().parse().unwrap_or(1))
            })
        })
        .unwrap_or(1)
}

fn args<K: IdKind>(m: &IdMap<K>) -> String {
    m.extents()
        .iter()
        .map(|e| format!("{} {} {}", e.inside, e.outside, e.count))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A map as the kernel's `uid_map` text: one `inside outside count` line
/// per extent.
fn proc_text<K: IdKind>(m: &IdMap<K>) -> String {
    m.extents()
        .iter()
        .map(|e| format!("{} {} {}\n", e.inside, e.outside, e.count))
        .collect()
}

/// Who the process is inside a namespace it enters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Become {
    /// Its own IDs where the namespace maps them, else the namespace's
    /// root: a walk or an extraction then creates files with the owners it
    /// expects.
    Own,
    /// The namespace's root where the namespace maps 0, else its own IDs:
    /// a command run there (`alientar unshare`) is root, as under
    /// `podman unshare`.
    Root,
}

impl Become {
    /// The ID to take inside a namespace whose map is `m`, this process's
    /// own ID (outside) being `own`; `None` when the map holds neither.
    pub fn inside<K: IdKind>(self, m: &IdMap<K>, own: u32) -> Option<u32> {
        let own = m.to_context(own);
        let root = m.to_host(0).map(|_| 0);
        match self {
            Become::Own => own.or(root),
            Become::Root => root.or(own),
        }
    }
}

/// A helper that writes our maps once we have unshared: `newuidmap` or
/// `newgidmap` in a shell waiting for a line on its stdin, or (as root)
/// a forked child.
enum Helper {
    Tool(&'static str, std::process::Child),
    Root(RootWriter),
}

/// Let the waiting helpers go (`go`: a line on their stdin; else their
/// stdin is closed and they exit without writing), then wait for each;
/// what each refused, in its own words.
fn release(helpers: Vec<Helper>, go: bool) -> Vec<String> {
    let mut helpers = helpers;
    // Every helper is let go before any is waited for: they run together.
    for h in &mut helpers {
        match h {
            Helper::Tool(_, child) => {
                if let Some(mut stdin) = child.stdin.take()
                    && go
                {
                    let _ = stdin.write_all(b"go\n");
                }
            }
            Helper::Root(w) => w.release(go),
        }
    }
    helpers
        .into_iter()
        .filter_map(|h| match h {
            Helper::Tool(tool, child) => refusal(tool, child),
            Helper::Root(w) => w.wait().err(),
        })
        .collect()
}

/// Wait for a tool's helper: what it refused, if it failed.
fn refusal(tool: &str, mut child: std::process::Child) -> Option<String> {
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let status = match child.wait() {
        Ok(s) if s.success() => return None,
        Ok(s) => s,
        Err(e) => return Some(format!("cannot wait for {tool}: {e}")),
    };
    let which = if status.code() == Some(3) {
        "the newuidmap helper"
    } else {
        tool
    };
    // (The tools name themselves in their messages.)
    Some(match err.trim() {
        "" => format!("{which} failed ({status})"),
        e if e.starts_with(tool) => e.to_owned(),
        e => format!("{which}: {e}"),
    })
}

/// Start the helpers that will write `maps` for process `pid`: the
/// setuid `newuidmap` and `newgidmap` (a few ms each to start, so both
/// are started before the unshare and let go together after it), or, as
/// root, who needs no subordinate ranges, a forked child that writes them
/// itself.
fn start_helpers(maps: &Maps, pid: u32) -> Result<Vec<Helper>> {
    if rustix::process::geteuid().is_root() {
        let w = RootWriter::fork(pid, &proc_text(&maps.uid), &proc_text(&maps.gid))
            .map_err(|e| Error::io_nopath("cannot start the map writer", e))?;
        return Ok(vec![Helper::Root(w)]);
    }
    if !available() {
        return Err(Error::usage(
            "newuidmap/newgidmap not found: install the `uidmap` package (Debian/Ubuntu) or `shadow-utils`",
        ));
    }
    let spawn = |tool: &'static str, map: String| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("read _ || exit 3; exec {tool} {pid} {map}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map(|h| Helper::Tool(tool, h))
            .map_err(|e| Error::io_nopath(format!("cannot start the {tool} helper"), e))
    };
    let mut helpers = vec![spawn("newuidmap", args(&maps.uid))?];
    match spawn("newgidmap", args(&maps.gid)) {
        Ok(h) => helpers.push(h),
        Err(e) => {
            release(helpers, false);
            return Err(e);
        }
    }
    Ok(helpers)
}

/// Move this process into a new user namespace whose maps are `maps`
/// (inside → outside = host IDs), laying out the user's `given` maps
/// (same IDs outside; a refusal names them), and become `who` there.
///
/// # Errors
/// More than one thread, `newuidmap` missing, the kernel refusing
/// unprivileged user namespaces, or `newuidmap`/`newgidmap` refusing the map
/// (it is not covered by the user's own ID and `/etc/subuid` ranges). The
/// message says which and what to do.
pub fn enter_as(maps: &Maps, given: &Maps, who: Become) -> Result<()> {
    let n = threads();
    if n > 1 {
        return Err(Error::usage(format!(
            "internal error: cannot enter a user namespace from a process with {n} threads"
        )));
    }
    // Our IDs as the host sees them, before the namespace changes the view.
    let own_uid = rustix::process::getuid().as_raw();
    let own_gid = rustix::process::getgid().as_raw();
    let helpers = start_helpers(maps, std::process::id())?;
    // SAFETY: CLONE_NEWUSER only changes this process's user namespace and
    // credentials; it does not unshare the file table or memory that Rust
    // code relies on (the reason rustix marks `unshare` unsafe).
    let unshared = unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER) };
    let refused = release(helpers, unshared.is_ok());
    if let Err(e) = unshared {
        return Err(Error::io_nopath(
            "cannot create a user namespace (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, or an AppArmor restriction)",
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        ));
    }
    if !refused.is_empty() {
        return Err(Error::map(format!(
            "the map was refused (uid {} gid {}): {}; the outside IDs must be your own or in your /etc/subuid and /etc/subgid ranges",
            given.uid,
            given.gid,
            refused.join("; ")
        )));
    }
    take_ids(
        who.inside(&maps.uid, own_uid),
        who.inside(&maps.gid, own_gid),
        "the user namespace",
    )
}

/// Take the credentials `uid` and `gid` inside the user namespace just
/// entered (`what` names it in messages), with no supplementary groups.
///
/// # Errors
/// The kernel refusing an ID.
pub(super) fn take_ids(uid: Option<u32>, gid: Option<u32>, what: &str) -> Result<()> {
    let cannot = |id: String, e: rustix::io::Errno| {
        Error::io_nopath(
            format!("cannot take {id} inside {what}"),
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        )
    };
    if let Some(gid) = gid {
        let g = rustix::fs::Gid::from_raw(gid);
        rustix::thread::set_thread_res_gid(g, g, g).map_err(|e| cannot(format!("gid {gid}"), e))?;
    }
    let _ = rustix::thread::set_thread_groups(&[]);
    if let Some(uid) = uid {
        let u = rustix::fs::Uid::from_raw(uid);
        rustix::thread::set_thread_res_uid(u, u, u).map_err(|e| cannot(format!("uid {uid}"), e))?;
    }
    super::forget_privileged();
    Ok(())
}

/// As root, the maps are written by a child of this process forked before
/// the unshare: a map that names other IDs than the writer's own must be
/// written from the parent namespace, by a process with `CAP_SETUID`
/// there, and root needs no `newuidmap` (nor `/etc/subuid` ranges) for it.
struct RootWriter {
    child: libc::pid_t,
    /// One byte on it lets the child write; closing it, exit.
    go: Option<std::io::PipeWriter>,
}

impl RootWriter {
    /// Fork the writer of `uid_map` and `gid_map` (the kernel's text) for
    /// process `pid`; it waits for [`RootWriter::release`].
    fn fork(pid: u32, uid_map: &str, gid_map: &str) -> std::io::Result<RootWriter> {
        use std::os::fd::AsRawFd;
        let (rd, wr) = std::io::pipe()?;
        // Everything the child touches is made before the fork: after it,
        // only system calls (no allocation, no lock).
        let files = [
            (c_path(pid, "uid_map")?, uid_map.as_bytes()),
            (c_path(pid, "gid_map")?, gid_map.as_bytes()),
        ];
        let (rd_fd, wr_fd) = (rd.as_raw_fd(), wr.as_raw_fd());
        // SAFETY: the process has one thread (checked by the caller), and
        // the child runs only async-signal-safe system calls on memory that
        // exists before the fork, then _exit(2)s.
        let child = unsafe { libc::fork() };
        if child < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if child == 0 {
            // SAFETY: as above; the file names are NUL-terminated.
            unsafe {
                libc::close(wr_fd);
                let mut b = 0u8;
                if libc::read(rd_fd, (&raw mut b).cast(), 1) != 1 {
                    libc::_exit(3);
                }
                for (path, text) in &files {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        libc::_exit(*libc::__errno_location());
                    }
                    // The kernel takes a map in one write only.
                    let n = libc::write(fd, text.as_ptr().cast(), text.len());
                    if n < 0 {
                        libc::_exit(*libc::__errno_location());
                    }
                    if n as usize != text.len() {
                        libc::_exit(libc::EIO);
                    }
                }
                libc::_exit(0);
            }
        }
        drop(rd);
        Ok(RootWriter {
            child,
            go: Some(wr),
        })
    }

    /// Let the child write (`go`), or make it exit.
    fn release(&mut self, go: bool) {
        if let Some(mut w) = self.go.take()
            && go
        {
            let _ = w.write_all(b"g");
        }
    }

    /// Wait for the child: what it could not write.
    fn wait(mut self) -> std::result::Result<(), String> {
        self.release(false);
        let mut status = 0;
        // SAFETY: waits for the child forked above; `status` is a valid int.
        if unsafe { libc::waitpid(self.child, &raw mut status, 0) } < 0 {
            return Err(format!(
                "cannot wait for the map writer: {}",
                std::io::Error::last_os_error()
            ));
        }
        match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
            (true, 0) => Ok(()),
            (true, 3) => Err("the map writer was not let go".into()),
            (true, code) => Err(format!(
                "cannot write the map: {}",
                std::io::Error::from_raw_os_error(code)
            )),
            _ => Err("the map writer was killed".into()),
        }
    }
}

/// `/proc/PID/FILE` as a C string.
fn c_path(pid: u32, file: &str) -> std::io::Result<std::ffi::CString> {
    std::ffi::CString::new(format!("/proc/{pid}/{file}")).map_err(std::io::Error::other)
}

/// Can the invoking user build this map with `newuidmap`: is every outside
/// ID its own or in its subordinate ranges?
pub fn coverable(maps: &Maps, who: &crate::idmap::Invoker) -> bool {
    let sub = |file: &std::path::Path| -> Vec<(u64, u64)> {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|t| crate::idmap::parse_subid(&t, "", who.name.as_deref(), who.uid).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|r| (u64::from(r.start), u64::from(r.start) + u64::from(r.count)))
            .collect()
    };
    let ok = |exts: Vec<(u64, u64)>, own: u32, ranges: &[(u64, u64)]| {
        exts.into_iter().all(|(a, b)| {
            (a == u64::from(own) && b == a + 1) || ranges.iter().any(|&(s, e)| a >= s && b <= e)
        })
    };
    fn outside<K: IdKind>(m: &IdMap<K>) -> Vec<(u64, u64)> {
        m.extents()
            .iter()
            .map(|e| {
                (
                    u64::from(e.outside),
                    u64::from(e.outside) + u64::from(e.count),
                )
            })
            .collect()
    }
    ok(outside(&maps.uid), who.uid, &sub(&who.subuid_file))
        && ok(outside(&maps.gid), who.gid, &sub(&who.subgid_file))
}
