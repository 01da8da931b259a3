//! The final directory pass: symlink-owner records, then each directory's
//! owner, mode and times, deepest first.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;

use crate::entry::Entry;
use crate::error::Error;
use crate::member::split;
use crate::sink::Applied;
use crate::sys;

use super::meta::Has;
use super::resolve::walk_dirs;
use super::worker::Worker;

/// A directory whose metadata is applied at the end.
pub(super) struct DeferredDir {
    pub(super) seq: u64,
    /// Its name as a key (empty: the destination itself).
    pub(super) key: Vec<u8>,
    pub(super) ctx: Entry,
    pub(super) host: Entry,
    /// It gets the label xattr.
    pub(super) label: bool,
}

/// Per directory, its symlinks not owned by 0:0: (name, uid, gid), as
/// [`crate::ondisk::encode_symlink_owners`] takes them.
pub(super) type SymlinkOwners = BTreeMap<Vec<u8>, Vec<(Vec<u8>, u32, u32)>>;

/// Errors by the seq of their entry.
type Errors = Vec<(u64, Error)>;

/// Below this many directories of one depth, a thread costs more than it
/// saves.
const PARALLEL_FROM: usize = 64;

/// An entry without what its deferred metadata does not need (names,
/// xattrs, already set): held for every directory until the end.
pub(super) fn slim(e: &Entry) -> Entry {
    let mut e = e.clone();
    e.path = Vec::new();
    e.xattrs = Vec::new();
    e.uname = None;
    e.gname = None;
    e
}

/// Symlink-owner records, then directory metadata: the last entry for a
/// directory wins; deepest first, each depth shared out over the workers
/// `ws` (one per thread; the first also does the symlink-owner records).
pub(super) fn finish_dirs(
    ws: &mut [Worker],
    dest: &Path,
    deferred: Vec<DeferredDir>,
    symlink_owners: SymlinkOwners,
    errors: &mut Errors,
) {
    record_symlink_owners(&mut ws[0], symlink_owners);
    let order = deepest_first(&deferred);
    for w in ws.iter_mut() {
        w.cache = None;
    }
    // Deepest first: a directory's mode may shut out an ordinary user from
    // what is below it. Directories of one depth are independent of each
    // other, so each depth is shared out over the workers given.
    for level in order.chunk_by(|&a, &b| depth(&deferred[a]) == depth(&deferred[b])) {
        if level.len() < PARALLEL_FROM || ws.len() == 1 {
            for &i in level {
                apply_dir(&mut ws[0], dest, &deferred[i], errors);
            }
            continue;
        }
        errors.extend(apply_level(ws, dest, &deferred, level));
    }
}

/// Record on each directory the owners of its symlinks: those this run
/// made, and those an earlier one recorded that are still symlinks (an
/// increment makes only the symlinks that changed).
fn record_symlink_owners(w: &mut Worker, symlink_owners: SymlinkOwners) {
    use crate::ondisk::{SYMLINK_OWNERS_XATTR, decode_symlink_owners, encode_symlink_owners};
    for (key, mut recs) in symlink_owners {
        let comps = split(&key);
        let r = walk_dirs(&w.root, &comps, false).and_then(|d| {
            if let Ok(Some(old)) = d.xattr(SYMLINK_OWNERS_XATTR) {
                let mut kept = decode_symlink_owners(&old);
                kept.retain(|(n, _, _)| {
                    !recs.iter().any(|(m, _, _)| m == n)
                        && d.lstat(n)
                            .is_ok_and(|m| m.kind() == rustix::fs::FileType::Symlink)
                });
                kept.append(&mut recs);
                recs = kept;
            }
            sys::fsetxattr(d.fd(), SYMLINK_OWNERS_XATTR, &encode_symlink_owners(&recs))
        });
        if let Err(x) = r {
            w.warn(format!("cannot record symlink owners: {x}"));
        }
    }
}

/// How deep a directory lies (0: the destination).
fn depth(d: &DeferredDir) -> usize {
    d.key.iter().filter(|&&b| b == b'/').count() + usize::from(!d.key.is_empty())
}

/// The indexes in `deferred` of the last entry for each directory,
/// deepest first, in archive order within a depth.
fn deepest_first(deferred: &[DeferredDir]) -> Vec<usize> {
    let mut last: HashMap<&[u8], usize> = HashMap::new();
    for (i, d) in deferred.iter().enumerate() {
        match last.get(d.key.as_slice()) {
            Some(&j) if deferred[j].seq > d.seq => {}
            _ => {
                last.insert(d.key.as_slice(), i);
            }
        }
    }
    let mut order: Vec<usize> = last.into_values().collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(depth(&deferred[i])), deferred[i].seq));
    order
}

/// Apply the directories `level` (of one depth) over the workers `ws`, one
/// thread each.
fn apply_level(
    ws: &mut [Worker],
    dest: &Path,
    deferred: &[DeferredDir],
    level: &[usize],
) -> Errors {
    let per = level.len().div_ceil(ws.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = ws
            .iter_mut()
            .zip(level.chunks(per))
            .map(|(w, part)| {
                scope.spawn(move || {
                    let mut errs = Vec::new();
                    for &i in part {
                        apply_dir(w, dest, &deferred[i], &mut errs);
                    }
                    errs
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// A directory's owner, xattrs, mode and times, where they differ from
/// what it has.
fn apply_dir(w: &mut Worker, dest: &Path, d: &DeferredDir, errors: &mut Errors) {
    w.seq = d.seq;
    let comps = split(&d.key);
    let dir = if comps.is_empty() {
        w.root.reopen()
    } else {
        walk_dirs(&w.root, &comps, false)
    };
    let a = Applied {
        ctx: &d.ctx,
        host: &d.host,
    };
    let r = dir.and_then(|dir| -> io::Result<()> {
        let has = sys::fstat(dir.fd()).map_or(Has::Nothing, Has::Stat);
        let xattrs = w.sink.xattrs(&a);
        w.apply_fd_with(&dir.fd(), &a, &xattrs, d.label, has)
    });
    if let Err(x) = r {
        let shown = if d.key.is_empty() {
            dest.display().to_string()
        } else {
            String::from_utf8_lossy(&d.key).into_owned()
        };
        errors.push((
            d.seq,
            Error::io("cannot set the metadata of directory", shown, x),
        ));
    }
}
