//! Labels: the one given, else the entry's own on disk, else its parent's.

use std::collections::HashMap;

use super::CreateOptions;
use crate::entry::{Entry, Kind};

/// Gives each entry its label, entries in walk order (parents first).
#[derive(Default)]
pub(super) struct Labeler {
    /// The label of each directory seen, for its children.
    inherited: HashMap<Vec<u8>, Option<String>>,
}

impl Labeler {
    /// Set `e.label` (on entry: the label its file carries, if any).
    pub(super) fn assign(&mut self, opts: &CreateOptions, e: &mut Entry) {
        let label = if opts.owners.context.is_some() {
            opts.owners.context.clone()
        } else {
            let l = e.label.take().or_else(|| {
                let parent = e.path.iter().rposition(|&b| b == b'/')?;
                self.inherited.get(&e.path[..parent]).cloned().flatten()
            });
            if e.kind == Kind::Dir {
                self.inherited.insert(e.path.clone(), l.clone());
            }
            l
        };
        e.label = label;
    }
}
