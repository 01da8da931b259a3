//! The layer `create --oci --base` adds: what differs between the base
//! image's final view and the tree, as image-spec's layer.md represents a
//! changeset.
//!
//! A member is stored when its name is not in the view (added), or when
//! it differs from the view's entry there (changed): in type, mode, owners
//! (both in the context view), modification time (as stored: whole
//! seconds unless `--nanoseconds`), size, link target, device numbers or
//! xattrs (names and values) — what the increment logic compares, but for
//! the change time and the label, which an image does not record. Where a
//! regular file's metadata are all the view's, its content decides (read
//! from the base's layer and the tree): an image has no state time that a
//! change time could be held against, and images are commonly built with
//! every time set alike (`SOURCE_DATE_EPOCH`, `--mtime`), so an edit that
//! keeps the size would otherwise be lost without a word; umoci compares
//! content too (its mtree's sha256digest).
//!
//! Around what is stored:
//! - a hard link group is stored whole when one of its names is (the file
//!   and every link to it), so that no link names a file of a lower layer,
//!   which layer.md says extraction may fail on (overlay storage does);
//! - every directory above a stored member or a whiteout is stored, so
//!   that applying the layer gives each its attributes;
//! - a name of the view the tree does not have is removed by a whiteout
//!   `.wh.NAME` in its directory — one for the topmost such name, none
//!   below a name the tree replaced by a non-directory (the replacement
//!   removes what was under it) — unless the walk left it out
//!   (`--exclude` and the like, or below a directory not walked), as an
//!   increment deletes none of those;
//! - a directory that replaced a non-directory gets an opaque whiteout
//!   (`.wh..wh..opq`), as does one that would need two whiteouts or more
//!   while nothing of the view below it is left as it was (all removed or
//!   stored again): one opaque whiteout then stands for them. Elsewhere
//!   whiteouts are explicit, as layer.md recommends.
//!
//! Whiteouts follow their directory's member, before anything else in it
//! (layer.md: "whiteout files appear before sibling directory entries").

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::create::Watch;
use crate::create::members::{Member, Members};
use crate::entry::{Entry, Kind};
use crate::error::Result;
use crate::frame::chain::Change;
use crate::member::safe_components;
use crate::report::Report;

/// The name of the opaque whiteout.
pub(super) const OPAQUE: &[u8] = b".wh..wh..opq";

/// A member name as a name of the view: `./etc/x` and `etc/x` are
/// `etc/x`, the root (`.`) is empty; `None` for a name with `..`.
pub(in crate::create) fn key(path: &[u8]) -> Option<Vec<u8>> {
    safe_components(path).ok().map(|(c, _)| c.join(&b'/'))
}

/// The directories above `key`, nearest first, the root (empty) last.
fn ancestors(key: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut end = Some(key.len());
    std::iter::from_fn(move || {
        let e = end?;
        if e == 0 {
            end = None;
            return None;
        }
        match key[..e].iter().rposition(|&b| b == b'/') {
            Some(i) => {
                end = Some(i);
                Some(&key[..i])
            }
            None => {
                end = Some(0);
                Some(&key[..0])
            }
        }
    })
}

/// Does `e`, a member, differ from `b`, the view's entry of its name, by
/// its metadata?
pub(super) fn differs(b: &Entry, e: &Entry) -> bool {
    let link = |x: &Entry| match x.kind {
        Kind::HardLink => x.link.as_deref().and_then(key),
        _ => x.link.clone(),
    };
    fn xattrs(x: &Entry) -> Vec<&(String, Vec<u8>)> {
        let mut v: Vec<&(String, Vec<u8>)> = x.xattrs.iter().collect();
        v.sort();
        v
    }
    let device = matches!(e.kind, Kind::Char | Kind::Block);
    b.kind != e.kind
        || b.mode != e.mode
        || (b.uid, b.gid) != (e.uid, e.gid)
        || b.mtime != e.mtime
        || (e.kind == Kind::File && b.size != e.size)
        || link(b) != link(e)
        || (device && (b.dev_major, b.dev_minor) != (e.dev_major, e.dev_minor))
        || xattrs(b) != xattrs(e)
}

/// The members whose content must decide: regular files with data whose
/// metadata are the view's. Their names and files.
pub(in crate::create) fn undecided(
    base: &HashMap<Vec<u8>, Entry>,
    members: &[Member],
) -> HashMap<Vec<u8>, std::path::PathBuf> {
    members
        .iter()
        .filter(|m| m.entry.kind == Kind::File && m.entry.size > 0)
        .filter_map(|m| {
            let k = key(&m.entry.path)?;
            let b = base.get(&k)?;
            (!differs(b, &m.entry)).then(|| (k, m.fs_path.clone()))
        })
        .collect()
}

/// The new layer: which members it stores, and the whiteouts in each
/// directory.
pub(in crate::create) struct Delta {
    /// For each member, in order: stored.
    pub(in crate::create) stored: Vec<bool>,
    /// Whiteout names (the opaque one first) by the name of their
    /// directory.
    pub(in crate::create) whiteouts: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
}

/// What is compared: the view, the members and their names, and what is
/// stored.
struct Planner<'a> {
    base: &'a HashMap<Vec<u8>, Entry>,
    members: &'a [Member],
    keys: &'a [Option<Vec<u8>>],
    /// The members' places by name.
    at: HashMap<&'a [u8], usize>,
    stored: Vec<bool>,
}

/// Plan the layer of `members` (in archive order) over the view `base`;
/// `content_differs`: the names whose content differs ([`undecided`]);
/// `excluded`: a name of the view the walk left out by name.
pub(in crate::create) fn plan(
    base: &HashMap<Vec<u8>, Entry>,
    members: &[Member],
    content_differs: &HashSet<Vec<u8>>,
    excluded: &dyn Fn(&[u8]) -> bool,
) -> Delta {
    let keys: Vec<Option<Vec<u8>>> = members.iter().map(|m| key(&m.entry.path)).collect();
    let stored = members
        .iter()
        .zip(&keys)
        .map(|(m, k)| match k.as_ref().map(|k| (k, base.get(k))) {
            Some((k, Some(b))) => differs(b, &m.entry) || content_differs.contains(k),
            _ => true,
        })
        .collect();
    let at = keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| Some((k.as_deref()?, i)))
        .collect();
    let mut p = Planner {
        base,
        members,
        keys: &keys,
        at,
        stored,
    };
    p.link_groups();
    let gone = p.gone(excluded);
    let opaque = p.opaque(&gone);
    let whiteouts = whiteouts(&gone, &opaque);
    p.parents(&whiteouts);
    Delta {
        stored: p.stored,
        whiteouts,
    }
}

/// The whiteouts by directory: the opaque ones first, then one for each
/// name `gone` not below an opaque directory.
fn whiteouts(gone: &[Vec<u8>], opaque: &HashSet<Vec<u8>>) -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut out: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for d in opaque {
        out.entry(d.clone()).or_default().push(OPAQUE.to_vec());
    }
    for g in gone {
        if ancestors(g).any(|a| opaque.contains(a)) {
            continue;
        }
        let (dir, name) = match g.iter().rposition(|&b| b == b'/') {
            Some(i) => (g[..i].to_vec(), &g[i + 1..]),
            None => (Vec::new(), &g[..]),
        };
        out.entry(dir)
            .or_default()
            .push([&b".wh."[..], name].concat());
    }
    for names in out.values_mut() {
        names.sort_by(|a, b| (a.as_slice() != OPAQUE, a).cmp(&(b.as_slice() != OPAQUE, b)));
    }
    out
}

impl Planner<'_> {
    /// Is the member named `k` a directory?
    fn is_dir(&self, k: &[u8]) -> bool {
        self.at
            .get(k)
            .is_some_and(|&i| self.members[i].entry.kind == Kind::Dir)
    }

    /// Store every name of a hard link group when one is stored.
    fn link_groups(&mut self) {
        let mut groups: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, m) in self.members.iter().enumerate() {
            if m.entry.kind == Kind::HardLink
                && let Some(t) = m.entry.link.as_deref().and_then(key)
            {
                groups.entry(t).or_default().push(i);
            }
        }
        for (target, mut links) in groups {
            links.extend(self.at.get(target.as_slice()).copied());
            if links.iter().any(|&i| self.stored[i]) {
                for i in links {
                    self.stored[i] = true;
                }
            }
        }
    }

    /// The names of the view a whiteout must remove: not in the tree, not
    /// left out by the walk, and with every directory above them a
    /// directory of the tree (below a name removed or replaced, the
    /// whiteout or the replacement removes them). In name order.
    fn gone(&self, excluded: &dyn Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
        let pruned: Vec<&[u8]> = self
            .members
            .iter()
            .zip(self.keys)
            .filter(|(m, _)| m.pruned)
            .filter_map(|(_, k)| k.as_deref())
            .collect();
        let mut gone: Vec<Vec<u8>> = self
            .base
            .keys()
            .filter(|k| !k.is_empty() && !self.at.contains_key(k.as_slice()))
            .filter(|k| !excluded(k) && !excluded(&[&b"./"[..], k].concat()))
            .filter(|k| !ancestors(k).any(|a| pruned.contains(&a)))
            .filter(|k| ancestors(k).all(|a| a.is_empty() || self.is_dir(a)))
            .cloned()
            .collect();
        gone.sort_unstable();
        gone
    }

    /// The directories that get an opaque whiteout (see the module's
    /// documentation), none below another.
    fn opaque(&self, gone: &[Vec<u8>]) -> HashSet<Vec<u8>> {
        let gone_set: HashSet<&[u8]> = gone.iter().map(Vec::as_slice).collect();
        // Directories below which a name of the view is left as it was
        // (neither removed nor stored again).
        let mut keeps: HashSet<&[u8]> = HashSet::new();
        for k in self.base.keys() {
            let restated = self.at.get(k.as_slice()).is_some_and(|&i| self.stored[i]);
            let removed = gone_set.contains(k.as_slice())
                || ancestors(k).any(|a| gone_set.contains(a) || self.replaced(a));
            if !restated && !removed {
                keeps.extend(ancestors(k));
            }
        }
        let mut count: HashMap<&[u8], usize> = HashMap::new();
        for g in gone {
            for a in ancestors(g) {
                *count.entry(a).or_default() += 1;
            }
        }
        let mut out: HashSet<Vec<u8>> = HashSet::new();
        for (m, k) in self.members.iter().zip(self.keys) {
            let Some(k) = k.as_deref() else { continue };
            if m.entry.kind != Kind::Dir || ancestors(k).any(|a| out.contains(a)) {
                continue;
            }
            let was_dir = self.base.get(k).map(|b| b.kind == Kind::Dir);
            let cheaper = count.get(k).copied().unwrap_or(0) >= 2 && !keeps.contains(k);
            if was_dir == Some(false) || (was_dir == Some(true) && cheaper) {
                out.insert(k.to_vec());
            }
        }
        out
    }

    /// Is `k` a directory of the view that the tree replaced by a
    /// non-directory?
    fn replaced(&self, k: &[u8]) -> bool {
        self.base.get(k).is_some_and(|b| b.kind == Kind::Dir)
            && self
                .at
                .get(k)
                .is_some_and(|&i| self.members[i].entry.kind != Kind::Dir)
    }

    /// Store every directory above a stored member, and every directory
    /// that holds whiteouts.
    fn parents(&mut self, whiteouts: &BTreeMap<Vec<u8>, Vec<Vec<u8>>>) {
        let mut dirs: Vec<&[u8]> = whiteouts.keys().map(Vec::as_slice).collect();
        for (i, k) in self.keys.iter().enumerate() {
            if self.stored[i]
                && let Some(k) = k.as_deref()
            {
                dirs.extend(ancestors(k).next());
            }
        }
        for d in dirs {
            for a in std::iter::once(d).chain(ancestors(d)) {
                match self.at.get(a) {
                    Some(&i) if self.stored[i] && a != d => break,
                    Some(&i) => self.stored[i] = true,
                    None => {}
                }
            }
        }
    }
}

/// Write the layer: the members `delta` stores, in order, each
/// directory's whiteouts after it (those of a directory that is no member,
/// the root when the paths name what is in it, first); `label`: the
/// image's context, which the whiteouts are in too.
///
/// # Errors
/// A write error.
pub(in crate::create) fn write(
    delta: Delta,
    members: Vec<Member>,
    label: Option<&str>,
    (out, watch, report): (&mut Members, &mut Watch, &mut Report),
) -> Result<()> {
    let Delta {
        stored,
        mut whiteouts,
    } = delta;
    let stored_members = || members.iter().zip(&stored).filter(|(_, s)| **s);
    let bytes = stored_members().map(|(m, _)| m.entry.size).sum();
    let count = stored_members().count() + whiteouts.values().map(Vec::len).sum::<usize>();
    watch.progress.set_total(bytes, count as u64);
    let dirs: HashSet<Vec<u8>> = members
        .iter()
        .filter(|m| m.entry.kind == Kind::Dir)
        .filter_map(|m| key(&m.entry.path))
        .collect();
    let homeless: Vec<Vec<u8>> = whiteouts
        .keys()
        .filter(|d| !dirs.contains(*d))
        .cloned()
        .collect();
    for d in homeless {
        let names = whiteouts.remove(&d).unwrap_or_default();
        let dir = Entry::new(d, Kind::Dir);
        put_whiteouts(&dir, names, label, (out, watch, report))?;
    }
    for (m, s) in members.into_iter().zip(stored) {
        if !s {
            continue;
        }
        let dir = (m.entry.kind == Kind::Dir).then(|| m.entry.clone());
        out.put(m, Change::Plain, watch, report)?;
        if let Some(dir) = dir
            && let Some(names) = key(&dir.path).and_then(|k| whiteouts.remove(&k))
        {
            put_whiteouts(&dir, names, label, (out, watch, report))?;
        }
    }
    Ok(())
}

/// Write the whiteouts `names` in the directory `dir` (its member): empty
/// files, mode 0, owned by 0:0, with the directory's time.
fn put_whiteouts(
    dir: &Entry,
    names: Vec<Vec<u8>>,
    label: Option<&str>,
    (out, watch, report): (&mut Members, &mut Watch, &mut Report),
) -> Result<()> {
    for n in names {
        let mut path = dir.path.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&n);
        let mut e = Entry::new(path, Kind::File);
        e.mtime = dir.mtime;
        e.label = label.map(str::to_string);
        out.marker(e, watch, report)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, kind: Kind) -> Entry {
        let mut e = Entry::new(path.as_bytes().to_vec(), kind);
        e.mode = 0o644;
        e
    }

    fn member(e: Entry) -> Member {
        Member {
            seen: e.mtime,
            entry: e,
            shown: None,
            fs_path: std::path::PathBuf::new(),
            ctime: None,
            pruned: false,
            data: None,
        }
    }

    /// The names stored and the whiteouts, as `path` lines in the order
    /// they are written.
    fn layer(base: &[Entry], tree: &[Entry]) -> Vec<String> {
        let base: HashMap<Vec<u8>, Entry> = base
            .iter()
            .map(|b| (key(&b.path).unwrap(), b.clone()))
            .collect();
        let members: Vec<Member> = tree.iter().cloned().map(member).collect();
        let d = plan(&base, &members, &HashSet::new(), &|_| false);
        let mut out = Vec::new();
        let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if let Some(w) = d.whiteouts.get(&b""[..])
            && !members.iter().any(|m| m.entry.path == b".")
        {
            out.extend(w.iter().map(|n| show(n)));
        }
        for (m, s) in members.iter().zip(&d.stored) {
            if !s {
                continue;
            }
            out.push(show(&m.entry.path));
            if let Some(w) = key(&m.entry.path).and_then(|k| d.whiteouts.get(&k)) {
                out.extend(
                    w.iter()
                        .map(|n| format!("{}/{}", show(&m.entry.path), show(n))),
                );
            }
        }
        out
    }

    #[test]
    fn ancestors_run_up_to_the_root() {
        let a: Vec<&[u8]> = ancestors(b"a/b/c").collect();
        assert_eq!(a, [&b"a/b"[..], b"a", b""]);
        assert_eq!(ancestors(b"a").collect::<Vec<_>>(), [&b""[..]]);
        assert_eq!(ancestors(b"").count(), 0);
    }

    #[test]
    fn one_whiteout_for_the_topmost_name_gone() {
        let base = [
            e(".", Kind::Dir),
            e("./d", Kind::Dir),
            e("./d/x", Kind::File),
            e("./d/y", Kind::Dir),
            e("./d/y/z", Kind::File),
            e("./k", Kind::Dir),
            e("./k/a", Kind::File),
            e("./k/b", Kind::File),
        ];
        let tree = [
            e(".", Kind::Dir),
            e("./d", Kind::Dir),
            e("./d/x", Kind::File),
            e("./k", Kind::Dir),
            e("./k/a", Kind::File),
        ];
        assert_eq!(
            layer(&base, &tree),
            [".", "./d", "./d/.wh.y", "./k", "./k/.wh.b"]
        );
    }

    #[test]
    fn replacements_remove_what_was_under_them() {
        let base = [
            e(".", Kind::Dir),
            e("./d", Kind::Dir),
            e("./d/x", Kind::File),
            e("./f", Kind::File),
        ];
        let tree = [
            e(".", Kind::Dir),
            e("./d", Kind::File),
            e("./f", Kind::Dir),
            e("./f/n", Kind::File),
        ];
        assert_eq!(
            layer(&base, &tree),
            [".", "./d", "./f", "./f/.wh..wh..opq", "./f/n"]
        );
    }

    #[test]
    fn an_opaque_directory_where_nothing_below_is_kept() {
        let mut base = vec![
            e(".", Kind::Dir),
            e("./m", Kind::Dir),
            e("./m/s", Kind::Dir),
        ];
        base.extend(["./m/1", "./m/2", "./m/s/3", "./m/keep"].map(|p| e(p, Kind::File)));
        let mut tree = vec![e(".", Kind::Dir), e("./m", Kind::Dir)];
        tree.push(e("./m/keep", Kind::File));
        // m/keep is left as it was: explicit whiteouts.
        assert_eq!(
            layer(&base, &tree),
            [".", "./m", "./m/.wh.1", "./m/.wh.2", "./m/.wh.s"]
        );
        // m/keep changed (stored again): one opaque whiteout.
        tree[2].mode = 0o600;
        assert_eq!(
            layer(&base, &tree),
            [".", "./m", "./m/.wh..wh..opq", "./m/keep"]
        );
    }

    #[test]
    fn hard_link_groups_are_stored_whole() {
        let mut link = e("./b", Kind::HardLink);
        link.link = Some(b"./a".to_vec());
        let base = [e(".", Kind::Dir), e("./a", Kind::File), link.clone()];
        let mut changed = e("./a", Kind::File);
        changed.size = 3;
        let tree = [e(".", Kind::Dir), changed, link.clone()];
        assert_eq!(layer(&base, &tree), [".", "./a", "./b"]);
        // A new link to an unchanged file stores the file too.
        let mut c = link.clone();
        c.path = b"./c".to_vec();
        let tree = [e(".", Kind::Dir), e("./a", Kind::File), link, c];
        assert_eq!(layer(&base, &tree), [".", "./a", "./b", "./c"]);
    }

    #[test]
    fn whiteouts_of_a_root_that_is_no_member_come_first() {
        let base = [
            e(".", Kind::Dir),
            e("./etc", Kind::Dir),
            e("./usr", Kind::Dir),
        ];
        let tree = [e("etc", Kind::Dir)];
        assert_eq!(layer(&base, &tree), [".wh.usr"]);
    }
}
