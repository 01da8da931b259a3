//! For an increment: the label a directory already has on disk. An
//! increment's member lands in a tree the earlier archives of its chain
//! restored, usually without its directory (a file changed in place leaves
//! its directory as it was): it gets the label xattr where its label
//! differs from the one it would inherit there, as it did when the full
//! archive was restored, and nowhere else.

use std::collections::HashMap;

use crate::entry::LABEL_XATTR;
use crate::member::split;
use crate::sys::Dir;

use super::resolve::walk_dirs;

/// Directories' labels on disk, looked up once each.
pub(super) struct DiskLabels {
    /// The destination's: its own, else the nearest one above it.
    top: Option<String>,
    /// By directory key: the label it has or inherits.
    known: HashMap<Vec<u8>, Option<String>>,
}

/// The key of the directory holding `key` (empty: the destination).
fn parent_of(key: &[u8]) -> &[u8] {
    key.iter()
        .rposition(|&b| b == b'/')
        .map_or(&key[..0], |i| &key[..i])
}

impl DiskLabels {
    /// Labels under a destination whose label is `top`.
    pub(super) fn new(top: Option<String>) -> DiskLabels {
        DiskLabels {
            top,
            known: HashMap::new(),
        }
    }

    /// The label the directory `key` has on disk beneath `root`: its own
    /// `user.alientar.context` (empty: none), else its directory's, up to
    /// the destination's. A directory that is not there (yet) has the
    /// label of the nearest one that is.
    pub(super) fn of(&mut self, root: &Dir, key: &[u8]) -> Option<String> {
        let mut chain = Vec::new();
        let mut k = key;
        let mut label = loop {
            if k.is_empty() {
                break self.top.clone();
            }
            if let Some(l) = self.known.get(k) {
                break l.clone();
            }
            chain.push(k);
            k = parent_of(k);
        };
        for k in chain.into_iter().rev() {
            let own = walk_dirs(root, &split(k), false)
                .ok()
                .and_then(|d| d.xattr(LABEL_XATTR).ok().flatten());
            if let Some(v) = own {
                label = (!v.is_empty()).then(|| String::from_utf8_lossy(&v).into_owned());
            }
            self.known.insert(k.to_vec(), label.clone());
        }
        label
    }
}
