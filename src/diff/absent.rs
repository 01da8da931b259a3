//! Files on disk the archive lacks, in the directories it holds ("Not in
//! archive"), found with memory that follows the directories, not the
//! members.
//!
//! The names of a directory's members are kept only while the archive is
//! inside that directory: the directories on the current member's path are
//! open, each with the names of its members since it was entered. When the
//! archive leaves one (the next member lies elsewhere), the directory is
//! listed on disk and what it holds beyond those names is kept: in an
//! identical tree, nothing. An archive that comes back to a directory it
//! left (an appended one) closes it again, and what is lacking is what
//! every visit lacked. Members of a directory left before its own entry
//! came (rare: tar writes a directory before its contents) are kept by the
//! hash of their names, in case the entry comes later.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

/// What the directories hold that the archive lacks, gathered as the
/// members go by.
#[derive(Default)]
pub(super) struct Absent {
    /// The directories on the current member's path, outermost first.
    open: Vec<Open>,
    /// The member directories, by name: what they lack once left.
    lacking: HashMap<Vec<u8>, Option<Vec<Vec<u8>>>>,
    /// The member directories in archive order: their names, and their
    /// names as stored (for exclusions).
    dirs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Members of directories left before their entry came, by hash.
    orphans: HashSet<u64>,
    hasher: std::hash::RandomState,
}

/// A directory the archive is inside.
struct Open {
    name: Vec<u8>,
    /// Its members' names (last component) since it was entered.
    members: HashSet<Vec<u8>>,
}

/// The names a directory (by its name) holds on disk, sorted; `None` when
/// it cannot be read.
pub(super) type Lister<'a> = dyn FnMut(&[u8]) -> Option<Vec<Vec<u8>>> + 'a;

/// Told of each file lacking: its directory's name, that name as stored,
/// and the file's name in it.
pub(super) type Found<'a> = dyn FnMut(&[u8], &[u8], &[u8]) + 'a;

impl Absent {
    /// A member (its name relative to the directory compared with, and as
    /// stored) goes by.
    pub(super) fn member(&mut self, rel: &[u8], stored: &[u8], is_dir: bool, list: &mut Lister) {
        if !rel.is_empty() {
            let (parent, name) = match rel.iter().rposition(|&b| b == b'/') {
                Some(i) => (&rel[..i], &rel[i + 1..]),
                None => (&rel[..0], rel),
            };
            while let Some(top) = self.open.last()
                && !holds(&top.name, parent)
            {
                let o = self.open.pop().expect("checked above");
                self.close(o, list);
            }
            self.enter(parent);
            let top = self.open.last_mut().expect("entered above");
            if !top.members.contains(name) {
                top.members.insert(name.to_vec());
            }
        }
        if is_dir {
            self.dirs.push((rel.to_vec(), stored.to_vec()));
            self.lacking.entry(rel.to_vec()).or_default();
            // Entered, so that it is listed when left, members or not.
            self.enter(rel);
        }
    }

    /// Open `dir` and the directories above it that are not open.
    fn enter(&mut self, dir: &[u8]) {
        if self.open.last().is_some_and(|o| o.name == dir) {
            return;
        }
        let from = match self.open.last() {
            None => 0,
            Some(o) if o.name.is_empty() => 0,
            Some(o) => o.name.len() + 1,
        };
        if self.open.is_empty() {
            self.open.push(Open {
                name: Vec::new(),
                members: HashSet::new(),
            });
        }
        for (i, &b) in dir.iter().enumerate().skip(from) {
            if b == b'/' {
                self.push_open(&dir[..i]);
            }
        }
        if !dir.is_empty() {
            self.push_open(dir);
        }
    }

    fn push_open(&mut self, name: &[u8]) {
        self.open.push(Open {
            name: name.to_vec(),
            members: HashSet::new(),
        });
    }

    /// The archive has left the directory `o`: what it lacks there.
    fn close(&mut self, o: Open, list: &mut Lister) {
        let Some(lacking) = self.lacking.get_mut(&o.name) else {
            for n in &o.members {
                let h = self.hasher.hash_one(joined(&o.name, n));
                self.orphans.insert(h);
            }
            return;
        };
        let Some(on_disk) = list(&o.name) else {
            return;
        };
        let mut now: Vec<Vec<u8>> = on_disk
            .into_iter()
            .filter(|n| !o.members.contains(n))
            .filter(|n| {
                self.orphans.is_empty()
                    || !self
                        .orphans
                        .contains(&self.hasher.hash_one(joined(&o.name, n)))
            })
            .collect();
        // (Collected in place: the listing's room, kept per directory.)
        now.shrink_to_fit();
        *lacking = Some(match lacking.take() {
            None => now,
            // Lacking in every visit.
            Some(before) => {
                let now: HashSet<Vec<u8>> = now.into_iter().collect();
                before.into_iter().filter(|n| now.contains(n)).collect()
            }
        });
    }

    /// Every directory left: each member directory, in archive order, with
    /// the names it holds that the archive lacks (sorted), and its name as
    /// stored.
    pub(super) fn finish(mut self, list: &mut Lister, found: &mut Found) {
        while let Some(o) = self.open.pop() {
            self.close(o, list);
        }
        for (d, stored) in &self.dirs {
            if let Some(Some(names)) = self.lacking.get(d) {
                for n in names {
                    found(d, stored, n);
                }
            }
        }
    }
}

/// Does directory `d` hold `p` (or is it `p`)?
fn holds(d: &[u8], p: &[u8]) -> bool {
    d.is_empty() || p == d || (p.starts_with(d) && p[d.len()] == b'/')
}

/// `dir/name` (`name` in the top directory).
fn joined(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut m = dir.to_vec();
    if !m.is_empty() {
        m.push(b'/');
    }
    m.extend_from_slice(name);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names "not in archive" for members `ms` (name, is_dir) of a
    /// tree `disk` (directory → names).
    fn absent(ms: &[(&str, bool)], disk: &[(&str, &[&str])]) -> Vec<String> {
        let mut a = Absent::default();
        let mut listed = 0;
        let mut list = |d: &[u8]| {
            listed += 1;
            disk.iter()
                .find(|(n, _)| n.as_bytes() == d)
                .map(|(_, ns)| ns.iter().map(|n| n.as_bytes().to_vec()).collect())
        };
        for (m, dir) in ms {
            a.member(m.as_bytes(), m.as_bytes(), *dir, &mut list);
        }
        let mut out = Vec::new();
        a.finish(&mut list, &mut |d, _, n| {
            out.push(String::from_utf8(joined(d, n)).unwrap())
        });
        out
    }

    const DISK: &[(&str, &[&str])] = &[
        ("", &["a", "b", "extra"]),
        ("a", &["x", "y", "z"]),
        ("b", &["c"]),
        ("b/c", &["q"]),
    ];

    #[test]
    fn in_order() {
        let ms = [
            ("", true),
            ("a", true),
            ("a/x", false),
            ("a/y", false),
            ("b", true),
            ("b/c", true),
            ("b/c/q", false),
        ];
        assert_eq!(absent(&ms, DISK), ["extra", "a/z"]);
    }

    /// An appended archive comes back to `a`: only what neither visit
    /// held is lacking.
    #[test]
    fn visited_twice() {
        let ms = [
            ("a", true),
            ("a/x", false),
            ("b", true),
            ("a/z", false),
            ("b/c/q", false),
        ];
        // (`b/c` has no entry of its own.)
        assert_eq!(absent(&ms, DISK), ["a/y", "b/c"]);
    }

    /// Members before their directory's entry, left before it came.
    #[test]
    fn entry_after_its_members() {
        let ms = [("a/x", false), ("b/c", true), ("a", true), ("a/y", false)];
        assert_eq!(absent(&ms, DISK), ["b/c/q", "a/z"]);
    }
}
