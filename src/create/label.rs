//! Labels (DESIGN §3 step 3, §6): the `--context` given; else the label a
//! file carries on disk (`user.alientar.context`); else its directory's,
//! up to the nearest labelled directory — above the paths archived too,
//! up to the file system's root or a mount boundary. An empty label on
//! disk marks a file explicitly unlabelled: it stops inheritance.
//!
//! The archive's label, declared once in the global header, is known
//! before the first byte is written: the `--context`, else the label the
//! first path archived gets (its own, else the one it inherits from
//! above). Entries whose label differs carry their own record.

use super::CreateOptions;
use crate::entry::{Entry, Kind, LABEL_XATTR};
use std::collections::HashMap;

/// The labels on disk the walk does not meet: above each path archived.
#[derive(Default)]
pub(super) struct DiskLabels {
    /// For each path archived that carries no label (by member name), the
    /// label it inherits from above (none: no labelled directory above, or
    /// an empty label).
    above: HashMap<Vec<u8>, Option<String>>,
    /// The archive's label.
    pub(super) archive: Option<String>,
}

impl DiskLabels {
    /// Look above the paths of `opts` (none with `--context`, which labels
    /// every entry). A path that does not exist inherits nothing (the walk
    /// reports it).
    pub(super) fn find(opts: &CreateOptions) -> DiskLabels {
        if opts.owners.context.is_some() {
            return DiskLabels {
                above: HashMap::new(),
                archive: opts.owners.context.clone(),
            };
        }
        let mut labels = DiskLabels::default();
        let roots = crate::walk::roots(&opts.dir, &opts.paths).unwrap_or_default();
        for (i, (path, name)) in roots.into_iter().enumerate() {
            // A path carrying a label (the walk reads it) inherits nothing.
            let label = match crate::sys::path::lgetxattr(&path, LABEL_XATTR) {
                Ok(Some(own)) => label_of(own),
                _ => {
                    let above = crate::sys::ancestors::nearest_xattr_above(&path, LABEL_XATTR)
                        .and_then(|f| label_of(f.value));
                    labels.above.entry(name).or_insert_with(|| above.clone());
                    above
                }
            };
            if i == 0 {
                labels.archive = label;
            }
        }
        labels
    }

    /// The labels the paths archived inherit from above, and the archive's,
    /// for the global header (the walk finds those on the files
    /// themselves).
    pub(super) fn found(&self) -> impl Iterator<Item = &String> {
        self.above.values().flatten().chain(&self.archive)
    }
}

/// A label read from disk: none when empty.
fn label_of(value: Vec<u8>) -> Option<String> {
    let l = String::from_utf8_lossy(&value).into_owned();
    (!l.is_empty()).then_some(l)
}

/// Gives each entry its label, entries in walk order (parents first).
pub(super) struct Labeler {
    /// The label of each directory seen, for its children.
    inherited: HashMap<Vec<u8>, Option<String>>,
    /// [`DiskLabels::above`].
    above: HashMap<Vec<u8>, Option<String>>,
}

impl Labeler {
    pub(super) fn new(disk: &DiskLabels) -> Labeler {
        Labeler {
            inherited: HashMap::new(),
            above: disk.above.clone(),
        }
    }

    /// Set `e.label` (on entry: the label its file carries, if any; an
    /// empty one marks it unlabelled).
    pub(super) fn assign(&mut self, opts: &CreateOptions, e: &mut Entry) {
        let label = if opts.owners.context.is_some() {
            opts.owners.context.clone()
        } else {
            let l = match e.label.take() {
                Some(own) => Some(own).filter(|l| !l.is_empty()),
                None => self.inherited_by(&e.path),
            };
            if e.kind == Kind::Dir {
                self.inherited.insert(e.path.clone(), l.clone());
            }
            l
        };
        e.label = label;
    }

    /// The label the entry at `path` inherits: its directory's when the
    /// walk met it, else (the top of a path archived) the one from above.
    fn inherited_by(&self, path: &[u8]) -> Option<String> {
        let parent = path.iter().rposition(|&b| b == b'/').map(|i| &path[..i]);
        match parent.and_then(|p| self.inherited.get(p)) {
            Some(l) => l.clone(),
            None => self.above.get(path).cloned().flatten(),
        }
    }
}
