//! Live contexts: a running user namespace named by `pid:PID` (a process
//! in it) or `ns:PATH` (a namespace file, such as a bind-mounted
//! `/proc/PID/ns/user`), or by a registry entry's `userns = "PATH"`.
//!
//! Its maps are read when it is named; create, extract and diff then run
//! inside it (`setns(2)`, no new namespace, no `newuidmap`), which the user
//! that owns the namespace may do. [`namespaces`] lists those the invoking
//! user can enter (`contexts --live`).

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use crate::context::{Maps, Registry};
use crate::error::{Error, Result};
use crate::idmap::{GidMap, IdMap, UidMap};
use crate::sys::live as sys;
use crate::sys::userns::Become;

/// A running user namespace: how it was named, its maps and a handle to
/// enter it by (opened when named, so the namespace cannot change under
/// the name before it is entered).
#[derive(Clone, Debug)]
pub struct Live {
    /// How it was named: `pid:1234` or `ns:PATH`.
    pub spec: String,
    /// Its uid and gid maps (inside → IDs of this process's namespace).
    pub maps: Maps,
    fd: Arc<OwnedFd>,
}

impl PartialEq for Live {
    fn eq(&self, other: &Live) -> bool {
        self.spec == other.spec && self.maps == other.maps
    }
}

impl Live {
    /// Is `spec` a live form (`pid:PID` or `ns:PATH`)?
    pub fn is_spec(spec: &str) -> bool {
        spec.starts_with("pid:") || spec.starts_with("ns:")
    }

    /// Open the namespace `spec` names (`pid:PID` or `ns:PATH`).
    ///
    /// # Errors
    /// Not a live form; a process that does not exist (any more); a file
    /// that is no user namespace; maps that cannot be read or parsed.
    pub fn open(spec: &str) -> Result<Live> {
        if let Some(pid) = spec.strip_prefix("pid:") {
            let pid: u32 = pid.trim().parse().ok().filter(|&p| p > 0).ok_or_else(|| {
                Error::usage(format!(
                    "'{spec}': pid: takes a process ID, e.g. pid:1234 (podman inspect --format '{{{{.State.Pid}}}}' CONTAINER)"
                ))
            })?;
            return Live::open_pid(pid);
        }
        if let Some(path) = spec.strip_prefix("ns:") {
            return Live::open_file(Path::new(path), spec);
        }
        Err(Error::usage(format!(
            "'{spec}' is not a running namespace: expected pid:PID or ns:PATH"
        )))
    }

    /// The user namespace of process `pid`.
    ///
    /// # Errors
    /// As [`Live::open`].
    pub fn open_pid(pid: u32) -> Result<Live> {
        let spec = format!("pid:{pid}");
        let ns = format!("/proc/{pid}/ns/user");
        let fd = sys::open(Path::new(&ns)).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Error::context(format!(
                "{spec}: no process {pid} is running (has it ended? a container's process changes when it restarts)"
            )),
            Some(libc::EACCES) | Some(libc::EPERM) => Error::context(format!(
                "{spec}: cannot open the user namespace of process {pid} (permission denied): \
                 the process is another user's, and only the namespace's owner or root may enter it"
            )),
            _ => Error::io("cannot open the user namespace of process", &ns, e),
        })?;
        let read = |f: &str| {
            let p = format!("/proc/{pid}/{f}");
            std::fs::read_to_string(&p).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ESRCH) => {
                    Error::context(format!("{spec}: process {pid} ended"))
                }
                _ => Error::io("cannot read", &p, e),
            })
        };
        let (uid, gid) = (read("uid_map")?, read("gid_map")?);
        Live::from_texts(spec, fd, &uid, &gid)
    }

    /// The user namespace the file `path` is (`spec` names it in messages).
    fn open_file(path: &Path, spec: &str) -> Result<Live> {
        let fd = sys::open(path).map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                Error::context(format!(
                    "{spec}: {} is not a user namespace file (a bind mount of /proc/PID/ns/user is)",
                    path.display()
                ))
            } else {
                Error::io("cannot open the user namespace file", path, e)
            }
        })?;
        let (uid, gid) = sys::maps_of(fd.as_fd()).map_err(|e| {
            if e.raw_os_error() == Some(libc::EPERM) {
                let owner = sys::owner_uid(fd.as_fd())
                    .map_or_else(|_| "another user".into(), |u| format!("uid {u}"));
                Error::context(format!(
                    "{spec}: cannot read the maps of this user namespace: it belongs to {owner}, and only its owner or root may enter it"
                ))
            } else {
                Error::io("cannot read the maps of the user namespace", path, e)
            }
        })?;
        Live::from_texts(spec.to_string(), fd, &uid, &gid)
    }

    fn from_texts(spec: String, fd: OwnedFd, uid: &str, gid: &str) -> Result<Live> {
        let maps = Maps {
            uid: UidMap::parse_proc(uid, &format!("{spec} uid_map"))?,
            gid: GidMap::parse_proc(gid, &format!("{spec} gid_map"))?,
        };
        Ok(Live {
            spec,
            maps,
            fd: Arc::new(fd),
        })
    }

    /// Move this process into the namespace, as the invoking user's own
    /// IDs where it maps them, else as its root. Call before any thread
    /// exists.
    ///
    /// # Errors
    /// More than one thread; the namespace is not the user's (the message
    /// says who may enter it).
    pub fn enter(&self) -> Result<()> {
        self.enter_as(Become::Own)
    }

    /// [`Live::enter`], becoming `who` inside.
    ///
    /// # Errors
    /// As [`Live::enter`].
    pub fn enter_as(&self, who: Become) -> Result<()> {
        let (uid, gid) = crate::sys::creds::real_ids();
        sys::join(
            self.fd.as_fd(),
            &self.spec,
            who.inside(&self.maps.uid, uid),
            who.inside(&self.maps.gid, gid),
        )
    }

    /// The registry's contexts whose maps are this namespace's, by name.
    pub fn contexts(&self, reg: &Registry) -> Vec<String> {
        matching_contexts(&self.maps, reg)
    }
}

/// The names of the registry's contexts (not those that name a namespace)
/// whose maps, resolved for the invoking user, are `maps`.
fn matching_contexts(maps: &Maps, reg: &Registry) -> Vec<String> {
    reg.iter()
        .filter(|c| c.userns.is_none())
        .filter(|c| reg.maps(&c.name).is_ok_and(|m| m == *maps))
        .map(|c| c.name.clone())
        .collect()
}

/// The view of a tree from inside a namespace with `maps`: each ID it maps
/// reads as itself.
pub fn inside_view(maps: &Maps) -> Maps {
    fn same<K: crate::idmap::IdKind>(m: &IdMap<K>) -> IdMap<K> {
        let ext = m
            .extents()
            .iter()
            .map(|e| crate::idmap::Extent {
                inside: e.inside,
                outside: e.inside,
                count: e.count,
            })
            .collect();
        // The inside ranges of a valid map do not overlap: a valid map.
        IdMap::new(ext).unwrap_or_else(|_| IdMap::identity())
    }
    Maps {
        uid: same(&maps.uid),
        gid: same(&maps.gid),
    }
}

/// A user namespace the invoking user can enter, as `contexts --live`
/// shows it.
#[derive(Clone, Debug)]
pub struct LiveNamespace {
    /// The oldest process in it (`pid:PID` enters it).
    pub pid: u32,
    /// The user that owns it.
    pub owner: u32,
    /// Its maps, if they could be read.
    pub maps: Option<Maps>,
    /// The command line of its oldest process.
    pub command: String,
    /// How many processes are in it.
    pub processes: usize,
    /// The registry's contexts with the same maps.
    pub contexts: Vec<String>,
}

/// The user namespaces the invoking user can enter: those it owns (root:
/// every one), but not the one it is in; by PID.
pub fn namespaces(reg: &Registry) -> Vec<LiveNamespace> {
    let me = crate::sys::creds::real_ids().0;
    let root = me == 0;
    let mut by_ns: BTreeMap<(u64, u64), Vec<sys::Found>> = BTreeMap::new();
    for f in sys::scan() {
        if root || f.owner == me {
            by_ns.entry(f.id).or_default().push(f);
        }
    }
    let mut out: Vec<LiveNamespace> = by_ns
        .into_values()
        .filter_map(|mut procs| {
            procs.sort_by_key(|f| (f.started, f.pid));
            let first = procs.first()?;
            let maps = Live::open_pid(first.pid).ok().map(|l| l.maps);
            let contexts = maps
                .as_ref()
                .map(|m| matching_contexts(m, reg))
                .unwrap_or_default();
            Some(LiveNamespace {
                pid: first.pid,
                owner: first.owner,
                maps,
                command: command_line(first.pid),
                processes: procs.len(),
                contexts,
            })
        })
        .collect();
    out.sort_by_key(|n| n.pid);
    out
}

/// A process's command line, arguments joined by spaces.
fn command_line(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        // A kernel thread or a zombie: its name.
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        return format!("[{}]", comm.trim());
    }
    words.join(" ")
}
