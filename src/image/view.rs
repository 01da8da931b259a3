//! An image's final view: its layers applied in order, as the image-spec's
//! layer.md says, computed from their headers before anything is written.
//!
//! - A layer's whiteouts are applied first, to what the layers below left
//!   (they never hide an entry of their own layer): `.wh.NAME` removes
//!   NAME and what is under it, `.wh..wh..opq` everything under its
//!   directory. Other `.wh..wh.` names are overlay bookkeeping and ignored.
//! - Then its entries: a directory over a directory replaces only the
//!   directory's attributes; anything else replaces the name and what was
//!   under it.
//! - An entry is refused (an error naming it; the run goes on) when its
//!   name has `..`, a directory of its path is a whiteout name, or a
//!   parent in the view is not a directory: applying it would write
//!   through a symlink (tools disagree on where such an entry lands;
//!   alientar writes nothing through a symlink). A hard link is refused
//!   when its target is not a file of the view at that point.
//! - A hard link names the data of its target as it was then: when a
//!   later layer replaces or removes the target, the link keeps that data
//!   (the first such link becomes the file, carrying the data from the
//!   target's layer; the others link to it).

use std::collections::{BTreeMap, HashMap};

use crate::entry::{Entry, Kind};
use crate::error::Error;
use crate::member::safe_components;

/// Where an entry is: its layer and its place among the layer's entries.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    /// The layer, from 0.
    pub layer: u32,
    /// The entry of the layer, from 0.
    pub index: u32,
}

/// A name of the view.
struct Node {
    /// The entry that made it; `None`: a directory only implied by a
    /// deeper entry.
    at: Option<At>,
    dir: bool,
    /// A non-directory's data: the entry that holds it (a hard link's
    /// target's).
    inode: Option<At>,
}

/// What a whiteout entry removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Whiteout {
    /// `.wh.NAME`: this name (its path in the layer).
    Name(Vec<u8>),
    /// `.wh..wh..opq`: everything under this directory.
    Opaque(Vec<u8>),
    /// Another `.wh..wh.` name: overlay bookkeeping, nothing.
    Other,
}

/// What the member `path` is when it is a whiteout.
pub fn whiteout(path: &[u8]) -> Option<Whiteout> {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let (dir, last) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (&b""[..], trimmed),
    };
    let name = last.strip_prefix(b".wh.")?;
    Some(if name == b".wh..opq" {
        Whiteout::Opaque(dir.to_vec())
    } else if name.starts_with(b".wh.") {
        Whiteout::Other
    } else {
        let mut p = dir.to_vec();
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(name);
        Whiteout::Name(p)
    })
}

/// One entry of the final view, as the second pass hands it on.
pub struct Planned {
    /// Its place in its layer.
    pub index: u32,
    /// The entry, renamed or relinked where the view says.
    pub entry: Entry,
    /// Its name in the layer, when the view renamed it.
    pub original: Option<Vec<u8>>,
}

/// The final view: per layer, the entries that survive, in layer order.
pub struct View {
    /// For each layer, its surviving entries by place.
    pub layers: Vec<Vec<Planned>>,
    /// Entries refused, with why.
    pub errors: Vec<Error>,
}

/// The view under construction.
struct Builder<'a> {
    nodes: BTreeMap<Vec<u8>, Node>,
    errors: Vec<Error>,
    names: &'a [String],
}

impl View {
    /// Apply the layers' entries in order. `names`: the layers' names,
    /// for messages.
    pub fn build(layers: Vec<Vec<Entry>>, names: &[String]) -> View {
        let mut b = Builder {
            nodes: BTreeMap::new(),
            errors: Vec::new(),
            names,
        };
        for (l, entries) in layers.iter().enumerate() {
            b.layer(l as u32, entries);
        }
        let errors = std::mem::take(&mut b.errors);
        View {
            layers: b.plan(layers),
            errors,
        }
    }
}

impl Builder<'_> {
    fn refuse(&mut self, l: u32, e: &Entry, why: &str) {
        let name = &self.names[l as usize];
        self.errors.push(
            Error::unsafe_path(why.to_string())
                .with_path(e.display_path())
                .with_context(format!("layer {} ({name})", l + 1)),
        );
    }

    /// Apply one layer: its whiteouts, then its entries.
    fn layer(&mut self, l: u32, entries: &[Entry]) {
        let mut is_whiteout = vec![false; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            if let Some(w) = whiteout(&e.path) {
                is_whiteout[i] = true;
                self.whiteout(l, e, w);
            }
        }
        for (i, e) in entries.iter().enumerate() {
            if !is_whiteout[i] {
                let at = At {
                    layer: l,
                    index: i as u32,
                };
                if let Err(why) = self.entry(at, e) {
                    self.refuse(l, e, &why);
                }
            }
        }
    }

    /// A member name as a key of the view, checked.
    fn key(path: &[u8]) -> Result<Vec<u8>, String> {
        let (comps, _) = safe_components(path)?;
        if comps.iter().any(|c| c.starts_with(b".wh.")) {
            return Err("a directory of its path is a whiteout name".into());
        }
        Ok(comps.join(&b'/'))
    }

    fn whiteout(&mut self, l: u32, e: &Entry, w: Whiteout) {
        let (target, opaque) = match w {
            Whiteout::Other => return,
            Whiteout::Name(p) => (p, false),
            Whiteout::Opaque(p) => (p, true),
        };
        if !opaque && !Self::names_one(&target) {
            return self.refuse(l, e, "bad whiteout: it names no file");
        }
        let key = match Self::key(&target) {
            Ok(k) => k,
            Err(why) => return self.refuse(l, e, &format!("bad whiteout: {why}")),
        };
        self.remove_under(&key);
        if !opaque {
            self.nodes.remove(&key);
        }
    }

    /// Does a whiteout's target name one file (`.wh.` then a name that is
    /// not empty, `.` or `..`)?
    fn names_one(target: &[u8]) -> bool {
        let last = target.rsplit(|&b| b == b'/').next().unwrap_or(b"");
        !matches!(last, b"" | b"." | b"..")
    }

    /// Remove everything under `key` (not `key` itself).
    fn remove_under(&mut self, key: &[u8]) {
        if key.is_empty() {
            self.nodes.retain(|k, _| k.is_empty());
            return;
        }
        let mut lo = key.to_vec();
        lo.push(b'/');
        // (`0` follows `/`: the range is exactly the names under `key`.)
        let mut hi = key.to_vec();
        hi.push(b'0');
        let doomed: Vec<Vec<u8>> = self.nodes.range(lo..hi).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Apply one entry. `Err`: why it is refused.
    fn entry(&mut self, at: At, e: &Entry) -> Result<(), String> {
        let key = Self::key(&e.path)?;
        let dir = e.kind == Kind::Dir;
        if key.is_empty() && !dir {
            return Err("the image's root is not a directory".into());
        }
        self.parents(&key)?;
        let inode = match e.kind {
            Kind::Dir => None,
            Kind::HardLink => Some(self.link_target(e)?),
            _ => Some(at),
        };
        match self.nodes.get_mut(&key) {
            Some(n) if n.dir && dir => n.at = Some(at),
            Some(_) => {
                self.remove_under(&key);
                self.nodes.insert(
                    key,
                    Node {
                        at: Some(at),
                        dir,
                        inode,
                    },
                );
            }
            None => {
                self.nodes.insert(
                    key,
                    Node {
                        at: Some(at),
                        dir,
                        inode,
                    },
                );
            }
        }
        Ok(())
    }

    /// Check the directories above `key`: each is a directory of the view,
    /// or is made one (implied).
    fn parents(&mut self, key: &[u8]) -> Result<(), String> {
        for (i, &b) in key.iter().enumerate() {
            if b != b'/' {
                continue;
            }
            let p = &key[..i];
            match self.nodes.get(p) {
                Some(n) if n.dir => {}
                Some(_) => {
                    return Err(format!(
                        "'{}' is not a directory in the image; nothing is written through it",
                        String::from_utf8_lossy(p)
                    ));
                }
                None => {
                    self.nodes.insert(
                        p.to_vec(),
                        Node {
                            at: None,
                            dir: true,
                            inode: None,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// The data a hard link names: its target's, which must be a file of
    /// the view now.
    fn link_target(&self, e: &Entry) -> Result<At, String> {
        let link = e.link.as_deref().unwrap_or(b"");
        let key = Self::key(link).map_err(|m| format!("hard link target: {m}"))?;
        match self.nodes.get(&key) {
            Some(Node {
                inode: Some(i),
                dir: false,
                ..
            }) => Ok(*i),
            _ => Err(format!(
                "hard link to '{}', which is not a file of the image at this layer",
                String::from_utf8_lossy(link)
            )),
        }
    }

    /// The surviving entries per layer, renamed and relinked.
    fn plan(&self, layers: Vec<Vec<Entry>>) -> Vec<Vec<Planned>> {
        let mut slots: Vec<Vec<Option<Entry>>> = layers
            .into_iter()
            .map(|v| v.into_iter().map(Some).collect())
            .collect();
        let mut out: Vec<Vec<Planned>> = slots.iter().map(|_| Vec::new()).collect();
        let mut take = |at: At, rename: Option<&[u8]>, link: Option<&[u8]>| {
            let Some(mut e) = slots[at.layer as usize][at.index as usize].take() else {
                return;
            };
            let original = rename.map(|r| std::mem::replace(&mut e.path, r.to_vec()));
            if let Some(l) = link {
                e.link = Some(l.to_vec());
            }
            out[at.layer as usize].push(Planned {
                index: at.index,
                entry: e,
                original,
            });
        };
        // The names that hold each inode's data.
        let mut holders: HashMap<At, Vec<(At, &[u8])>> = HashMap::new();
        for (k, n) in &self.nodes {
            match (n.at, n.inode) {
                (Some(at), Some(i)) => holders.entry(i).or_default().push((at, k)),
                (Some(at), None) => take(at, None, None),
                _ => {}
            }
        }
        for (inode, mut names) in holders {
            names.sort();
            // The file itself where it still stands, else the first link,
            // which becomes the file.
            let (file_at, file_key) = names
                .iter()
                .find(|(at, _)| *at == inode)
                .copied()
                .unwrap_or(names[0]);
            let renamed = (file_at != inode).then_some(file_key);
            take(inode, renamed, None);
            for (at, _) in names.iter().filter(|(at, _)| *at != file_at) {
                take(*at, None, Some(file_key));
            }
        }
        for l in &mut out {
            l.sort_by_key(|p| p.index);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, kind: Kind) -> Entry {
        Entry::new(path.as_bytes().to_vec(), kind)
    }

    fn link(path: &str, kind: Kind, to: &str) -> Entry {
        let mut x = e(path, kind);
        x.link = Some(to.as_bytes().to_vec());
        x
    }

    /// The view as `path [-> link]` lines in the order the second pass
    /// hands entries on.
    fn view(layers: Vec<Vec<Entry>>) -> (Vec<String>, usize) {
        let names: Vec<String> = (0..layers.len()).map(|i| format!("L{i}")).collect();
        let v = View::build(layers, &names);
        let lines = v
            .layers
            .iter()
            .flatten()
            .map(|p| {
                let mut s = String::from_utf8_lossy(&p.entry.path).into_owned();
                if let Some(l) = &p.entry.link {
                    s += " -> ";
                    s += &String::from_utf8_lossy(l);
                }
                s
            })
            .collect();
        (lines, v.errors.len())
    }

    #[test]
    fn whiteouts_remove_from_lower_layers_only() {
        let (got, errs) = view(vec![
            vec![
                e("a", Kind::Dir),
                e("a/b", Kind::Dir),
                e("a/b/c", Kind::File),
                e("a/x", Kind::File),
                e("keep", Kind::File),
            ],
            vec![
                // Applied first, whatever their order: the same layer's
                // a/b/new stays.
                e("a/b/new", Kind::File),
                e("a/b/.wh..wh..opq", Kind::File),
                e("a/.wh.x", Kind::File),
                e(".wh.gone", Kind::File),
            ],
        ]);
        assert_eq!(errs, 0);
        assert_eq!(got, ["a", "a/b", "keep", "a/b/new"]);
    }

    #[test]
    fn a_file_replaces_a_directory_and_what_is_under_it() {
        let (got, _) = view(vec![
            vec![e("d", Kind::Dir), e("d/f", Kind::File)],
            vec![link("d", Kind::Symlink, "/etc")],
            vec![e("d/passwd", Kind::File), e("d/.wh.shadow", Kind::File)],
        ]);
        // d/passwd would be written through the symlink: refused.
        assert_eq!(got, ["d -> /etc"]);
    }

    #[test]
    fn hostile_whiteouts_are_refused() {
        let (got, errs) = view(vec![
            vec![e("etc", Kind::Dir), e("etc/passwd", Kind::File)],
            vec![
                e("etc/.wh..", Kind::File),
                e("etc/.wh.", Kind::File),
                e("etc/.wh...", Kind::File),
                e("../.wh.etc", Kind::File),
                e("x/.wh.d/y", Kind::File),
            ],
        ]);
        assert_eq!(errs, 5);
        assert_eq!(got, ["etc", "etc/passwd"]);
    }

    #[test]
    fn hard_links_keep_the_data_their_target_had() {
        let (got, errs) = view(vec![
            vec![
                e("a", Kind::File),
                link("b", Kind::HardLink, "a"),
                link("c", Kind::HardLink, "b"),
                e("s", Kind::File),
                link("t", Kind::HardLink, "s"),
            ],
            vec![
                link("a", Kind::Symlink, "/etc/shadow"),
                e(".wh.x", Kind::File),
            ],
            vec![
                link("u", Kind::HardLink, "t"),
                link("v", Kind::HardLink, "nope"),
            ],
        ]);
        assert_eq!(errs, 1, "the link to a missing target");
        // a's data now lives at b (the first link), c links to b.
        assert_eq!(
            got,
            ["b", "c -> b", "s", "t -> s", "a -> /etc/shadow", "u -> s"]
        );
    }
}
