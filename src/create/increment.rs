//! `create --incremental-from PREV`: which members an increment stores,
//! which it carries, and which names of PREV's state it deletes.
//!
//! A member is stored when its name is not in PREV's state (added), or
//! when it differs from the entry there (changed): in type, mode, owners
//! (context view), link target (hard links: the first name of the group),
//! device numbers, label, xattr names or ACLs, size or modification time
//! (where PREV stored the entry itself), or when its status change time is
//! at or after PREV's state time (a write, `chmod`, `chown`, `setxattr`,
//! `link`, `unlink` or `rename` of the file since PREV began). A hard link
//! whose target is stored is stored too: extract makes the target anew.
//! So is the directory of a member stored (unless both are directories
//! that were) or of a name deleted: extracting the increment changes that
//! directory's time, which its member sets back. Everything else is
//! carried: the increment's index records it without
//! data, so that the increment alone is the state the next one follows.
//!
//! What the walk leaves out is not deleted, as GNU tar's
//! `--listed-incremental` marks an excluded name present but not dumped:
//! a name of PREV's state that `--exclude` and the like exclude (matched
//! as stored in PREV, or one of its directories), or that is below a
//! directory whose contents were not walked (`--one-file-system`,
//! `--exclude-caches*`). Nor is it carried: the increment's state does not
//! have it, so an increment that walks it again stores it as new.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::members::{Member, Members, Records};
use super::prev::{Prev, Was, xattr_digest};
use super::{Env, Watch};
use crate::entry::{Entry, Kind, Time};
use crate::error::Result;
use crate::frame::chain::{ChainInfo, Change};
use crate::report::Report;
use crate::tar::{keys, write as tw};
use crate::walk::WalkedFile;

/// What an archive is to an incremental chain (`create --incremental`,
/// `--incremental-from`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Incremental {
    /// Nothing: a standalone archive.
    #[default]
    No,
    /// The full archive a chain starts with: it records its state time, so
    /// that the first increment finds every file changed since by its
    /// change time.
    Full,
    /// An increment over the archive `PREV` (a chain's full archive or
    /// increment, or any other archive): only what is new or changed since
    /// PREV's state, and the names of that state which are gone.
    From(PathBuf),
}

/// What an archive made as `inc` says of itself, if it is one of a chain:
/// its state time is a little before now (a second before the
/// coarse clock's second, so that file systems that keep whole or even
/// seconds still stamp a later change at or after it).
pub(super) fn chain_info(inc: &Incremental) -> Option<ChainInfo> {
    let increment = match inc {
        Incremental::No => return None,
        Incremental::Full => false,
        Incremental::From(_) => true,
    };
    let now = crate::sys::clock::coarse_now();
    Some(ChainInfo {
        increment,
        time: Time {
            sec: now.sec - 1,
            nsec: 0,
        },
    })
}

/// Write the increment of `files` (translated, in archive order) over
/// `prev`: the global header `header`, the listing headers, the members
/// stored; the index records the rest.
///
/// # Errors
/// A write error.
pub(super) fn write(
    prev: Prev,
    files: Vec<WalkedFile>,
    header: Records,
    env: &Env,
    (members, watch, report): (&mut Members, &mut Watch, &mut Report),
) -> Result<()> {
    let formed: Vec<Member> = files.into_iter().map(|s| members.form(s)).collect();
    let opts = env.opts;
    let excluded = |n: &[u8]| crate::walk::excluded(&opts.select, &opts.paths, n);
    let plan = plan(prev, formed, &excluded);
    let bytes = plan.stored.iter().map(|(m, _)| m.entry.size).sum();
    watch.progress.set_total(bytes, plan.stored.len() as u64);
    members.header(header);
    let mut lead = Vec::new();
    tw::encode_listing(keys::ALIENTAR_DELETED, &plan.deleted, &mut lead);
    tw::encode_listing(keys::ALIENTAR_CHANGED, &plan.changed(), &mut lead);
    members.lead(&lead)?;
    if let Some(index) = members.index() {
        for e in &plan.carried {
            index.carry(e);
        }
        for d in &plan.deleted {
            index.delete(d);
        }
    } else {
        report.warnings.push(
            "this increment has no entry index (it is not zstd-compressed): it cannot be the \
             previous archive of another increment"
                .into(),
        );
    }
    for (m, c) in plan.stored {
        members.put(m, c, watch, report)?;
    }
    Ok(())
}

/// What an increment is made of, in archive order.
pub(super) struct Plan {
    /// Members written, with what each is to PREV.
    pub(super) stored: Vec<(Member, Change)>,
    /// Members left as PREV's state has them.
    pub(super) carried: Vec<Entry>,
    /// Names of PREV's state that are gone, each before its directory.
    pub(super) deleted: Vec<Vec<u8>>,
}

impl Plan {
    /// The names of the stored members that replace an entry of PREV.
    pub(super) fn changed(&self) -> Vec<Vec<u8>> {
        self.stored
            .iter()
            .filter(|(_, c)| *c == Change::Changed)
            .map(|(m, _)| m.entry.path.clone())
            .collect()
    }
}

/// PREV's state, loaded; a warning in `report` when it records no state
/// time.
///
/// # Errors
/// As [`Prev::load`].
pub(super) fn load(prev: &Path, report: &mut Report) -> Result<Prev> {
    let p = Prev::load(prev)?;
    if p.time.is_none() {
        report.warnings.push(format!(
            "{} was not made with --incremental or --incremental-from: a file whose contents \
             changed without a change of its size, modification time, mode, owner or xattrs \
             is not stored",
            prev.display()
        ));
    }
    Ok(p)
}

/// Split `members` (in archive order) into what the increment over `prev`
/// stores and carries, and find what it deletes: the names of `prev`'s
/// state not walked, but those the walk left out (`excluded` by name, or
/// below a directory it did not walk).
pub(super) fn plan(mut prev: Prev, members: Vec<Member>, excluded: &dyn Fn(&[u8]) -> bool) -> Plan {
    let (mut changes, touch) = decide(&mut prev, &members);
    let pruned: HashSet<&[u8]> = members
        .iter()
        .filter(|m| m.pruned)
        .map(|m| m.entry.path.as_slice())
        .collect();
    let mut deleted: Vec<Vec<u8>> = prev
        .entries
        .into_iter()
        .filter(|(p, w)| !w.seen && !excluded(p) && !below_any(p, &pruned))
        .map(|(p, _)| p)
        .collect();
    deleted.sort_unstable_by(|a, b| walk_order(b, a));
    store_directories(&members, &mut changes, &touch, &deleted);
    let mut plan = Plan {
        stored: Vec::new(),
        carried: Vec::new(),
        deleted,
    };
    for (m, c) in members.into_iter().zip(changes) {
        match c {
            Some(c) => plan.stored.push((m, c)),
            None => plan.carried.push(m.entry),
        }
    }
    plan
}

/// What each of `members` is to `prev`'s state (`None` when unchanged),
/// and whether extracting it changes its directory (all but a directory
/// that was one: that one is kept). Marks the entries of `prev` found.
fn decide(prev: &mut Prev, members: &[Member]) -> (Vec<Option<Change>>, Vec<bool>) {
    // Stored names a later hard link may point to.
    let mut stored: HashSet<&[u8]> = HashSet::new();
    let mut out = Vec::with_capacity(members.len());
    let mut touch = Vec::with_capacity(members.len());
    for m in members {
        let e = &m.entry;
        let (change, kept_dir) = match prev.entries.get_mut(&e.path) {
            None => (Some(Change::Added), false),
            Some(w) => {
                w.seen = true;
                let target_stored = e.kind == Kind::HardLink
                    && e.link.as_deref().is_some_and(|t| stored.contains(t));
                let w = &prev.entries[&e.path];
                let changed = target_stored || differs(prev, w, e, m.ctime);
                let kept_dir = w.kind == Kind::Dir && e.kind == Kind::Dir;
                (changed.then_some(Change::Changed), kept_dir)
            }
        };
        if change.is_some() && e.kind == Kind::File {
            stored.insert(&e.path);
        }
        touch.push(change.is_some() && !kept_dir);
        out.push(change);
    }
    (out, touch)
}

/// Store the directory of every name deleted and of every member whose
/// extraction changes it (`touch`): extracting the increment changes that
/// directory's time, which extract then sets back from its member, as for
/// a directory that changed.
fn store_directories(
    members: &[Member],
    changes: &mut [Option<Change>],
    touch: &[bool],
    deleted: &[Vec<u8>],
) {
    let dirs: HashMap<&[u8], usize> = members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.entry.kind == Kind::Dir)
        .map(|(i, m)| (m.entry.path.as_slice(), i))
        .collect();
    let parent = |p: &[u8]| {
        p.iter()
            .rposition(|&b| b == b'/')
            .and_then(|i| dirs.get(&p[..i]).copied())
    };
    let mut more: Vec<usize> = members
        .iter()
        .zip(touch)
        .filter(|(_, t)| **t)
        .filter_map(|(m, _)| parent(&m.entry.path))
        .collect();
    more.extend(deleted.iter().filter_map(|d| parent(d)));
    for i in more {
        // (Not stored yet: unchanged, so in PREV's state.)
        changes[i].get_or_insert(Change::Changed);
    }
}

/// Does `e` (status change time `ctime`) differ from `w`, its entry in
/// `prev`'s state?
fn differs(prev: &Prev, w: &Was, e: &Entry, ctime: Option<Time>) -> bool {
    if w.kind != e.kind
        || w.mode != e.mode
        || (w.uid, w.gid) != (e.uid, e.gid)
        || w.link != e.link
        || w.dev != (e.dev_major, e.dev_minor)
        || prev.label_of(w) != e.label.as_deref()
        || w.xattrs != xattr_digest(&e.xattrs)
        || w.stored.is_some_and(|s| s != (e.size, e.mtime))
    {
        return true;
    }
    // Not on disk (added by a manifest): nothing tells it did not change.
    prev.time.is_some_and(|t| ctime.is_none_or(|c| c >= t))
}

/// Is `name` below one of the directories `dirs`?
fn below_any(name: &[u8], dirs: &HashSet<&[u8]>) -> bool {
    !dirs.is_empty()
        && name
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'/' && dirs.contains(&name[..i]))
}

/// The order of the walk: names compared component by component, so that a
/// directory comes before what is in it.
fn walk_order(a: &[u8], b: &[u8]) -> Ordering {
    a.split(|&c| c == b'/').cmp(b.split(|&c| c == b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletions_come_before_their_directory() {
        let mut v: Vec<&[u8]> = vec![b"a", b"a.b", b"a/x", b"a/x/1", b"b", b"a/y"];
        v.sort_by(|a, b| walk_order(b, a));
        assert_eq!(v, [&b"b"[..], b"a.b", b"a/y", b"a/x/1", b"a/x", b"a"]);
    }
}
