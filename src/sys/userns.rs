//! Entering a user namespace built from an ID map with `newuidmap` /
//! `newgidmap`, as an ordinary user.
//!
//! `unshare(CLONE_NEWUSER)` fails with `EINVAL` once a process has a second
//! thread, so [`enter`] must run before any rayon, zstd or writer thread
//! exists: the commands call it first thing, from the main thread. The
//! process itself moves into the new namespace (no re-exec): a helper child
//! is started *before* the unshare (so the setuid `newuidmap` runs in the
//! original namespace, where it has the privilege to write our maps), waits
//! on a pipe until we have unshared, then writes `/proc/PID/uid_map`; a
//! second one, at the same time, `gid_map`.

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

/// Let the waiting helpers go (`go`: a line on their stdin; else their
/// stdin is closed and they exit without running their tool), then wait
/// for each: its tool, exit status and what it wrote to stderr.
fn release(
    helpers: Vec<(&'static str, std::process::Child)>,
    go: bool,
) -> Vec<(
    &'static str,
    std::io::Result<std::process::ExitStatus>,
    String,
)> {
    let mut helpers = helpers;
    // Every helper is let go before any is waited for: they run together.
    for (_, h) in &mut helpers {
        if let Some(mut stdin) = h.stdin.take()
            && go
        {
            let _ = stdin.write_all(b"go\n");
        }
    }
    helpers
        .into_iter()
        .map(|(tool, mut h)| {
            let mut err = String::new();
            if let Some(mut s) = h.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            (tool, h.wait(), err)
        })
        .collect()
}

/// Move this process into a new user namespace whose uid and gid maps are
/// `maps` (inside → outside = host IDs), then take the
/// namespace's credentials: our own ID if the map holds it, else 0.
///
/// # Errors
/// More than one thread, `newuidmap` missing, the kernel refusing
/// unprivileged user namespaces, or `newuidmap`/`newgidmap` refusing the map
/// (it is not covered by the user's own ID and `/etc/subuid` ranges). The
/// message says which and what to do.
pub fn enter(maps: &Maps) -> Result<()> {
    enter_laid_out(maps, maps)
}

/// As [`enter`], into a namespace whose maps `maps` lay out the user's
/// `given` maps differently inside (same IDs outside): a refusal names
/// `given`.
///
/// # Errors
/// As [`enter`].
pub fn enter_laid_out(maps: &Maps, given: &Maps) -> Result<()> {
    let n = threads();
    if n > 1 {
        return Err(Error::usage(format!(
            "internal error: cannot enter a user namespace from a process with {n} threads"
        )));
    }
    if !available() {
        return Err(Error::usage(
            "newuidmap/newgidmap not found: install the `uidmap` package (Debian/Ubuntu) or `shadow-utils`",
        ));
    }
    let pid = std::process::id();
    // Our IDs as the host sees them, before the namespace changes the view.
    let own_uid = rustix::process::getuid().as_raw();
    let own_gid = rustix::process::getgid().as_raw();
    // One helper per map, both started before the unshare and both let go
    // after it, so that newuidmap and newgidmap (setuid programs, a few ms
    // each to start) run at the same time. Each waits for a line on its
    // stdin, then becomes the tool.
    let spawn = |tool: &'static str, map: String| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("read _ || exit 3; exec {tool} {pid} {map}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map(|h| (tool, h))
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
    // SAFETY: CLONE_NEWUSER only changes this process's user namespace and
    // credentials; it does not unshare the file table or memory that Rust
    // code relies on (the reason rustix marks `unshare` unsafe).
    let unshared = unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER) };
    let outcomes = release(helpers, unshared.is_ok());
    if let Err(e) = unshared {
        return Err(Error::io_nopath(
            "cannot create a user namespace (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, or an AppArmor restriction)",
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        ));
    }
    let mut refused = Vec::new();
    for (tool, status, err) in outcomes {
        let status = status.map_err(|e| Error::io_nopath(format!("cannot wait for {tool}"), e))?;
        if !status.success() {
            let which = if status.code() == Some(3) {
                "the newuidmap helper"
            } else {
                tool
            };
            // (The tools name themselves in their messages.)
            refused.push(match err.trim() {
                "" => format!("{which} failed ({status})"),
                e if e.starts_with(tool) => e.to_owned(),
                e => format!("{which}: {e}"),
            });
        }
    }
    if !refused.is_empty() {
        return Err(Error::map(format!(
            "the map was refused (uid {} gid {}): {}; the outside IDs must be your own or in your /etc/subuid and /etc/subgid ranges",
            given.uid,
            given.gid,
            refused.join("; ")
        )));
    }
    // Take credentials that exist in the namespace.
    let inside_gid = maps
        .gid
        .to_context(own_gid)
        .or_else(|| maps.gid.to_host(0).map(|_| 0));
    let inside_uid = maps
        .uid
        .to_context(own_uid)
        .or_else(|| maps.uid.to_host(0).map(|_| 0));
    if let Some(g) = inside_gid {
        let g = rustix::fs::Gid::from_raw(g);
        rustix::thread::set_thread_res_gid(g, g, g).map_err(|e| {
            Error::io_nopath("cannot set the gid inside the user namespace", e.into())
        })?;
    }
    let _ = rustix::thread::set_thread_groups(&[]);
    if let Some(u) = inside_uid {
        let u = rustix::fs::Uid::from_raw(u);
        rustix::thread::set_thread_res_uid(u, u, u).map_err(|e| {
            Error::io_nopath("cannot set the uid inside the user namespace", e.into())
        })?;
    }
    super::forget_privileged();
    Ok(())
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
