//! The label guard: entries of one context extracted into a tree that is
//! labelled as another's — the confusion the label exists to prevent
//! (DESIGN §6). The destination's label is the nearest label on disk from
//! `-C DIR` upwards (as `create` looks above the paths it archives).
//!
//! It warns, once per label, and the run goes on: nothing is lost, the
//! entries keep their own label (written on disk where they start), and
//! their owners go through the map they would have had anyway. `--context`
//! says which context wins, and then nothing is said: every entry is
//! restored through its map and labelled with it.

use std::collections::HashSet;
use std::path::PathBuf;

use super::ExtractOptions;
use crate::entry::{Entry, LABEL_XATTR};

/// Watches the entries' labels against the destination's.
pub(super) struct LabelGuard {
    /// The destination's label, and the directory above it that carries
    /// it (none: the destination itself); none with `--context`.
    dest: Option<(String, Option<PathBuf>)>,
    /// The destination's label on disk, `--context` or not.
    on_disk: Option<String>,
    /// `-C DIR`, for messages.
    shown: PathBuf,
    /// The labels warned about.
    warned: HashSet<String>,
}

impl LabelGuard {
    /// The guard of an extraction into `opts.dest`: none with
    /// `--context`, or when nothing labels the destination.
    pub(super) fn new(opts: &ExtractOptions) -> LabelGuard {
        let found = crate::sys::ancestors::nearest_xattr(&opts.dest, LABEL_XATTR).and_then(|f| {
            let l = String::from_utf8_lossy(&f.value).into_owned();
            (!l.is_empty()).then_some((l, (f.levels > 0).then_some(f.dir)))
        });
        let on_disk = found.as_ref().map(|(l, _)| l.clone());
        let dest = found.filter(|_| opts.owners.context.is_none());
        LabelGuard {
            dest,
            on_disk,
            shown: opts.dest.clone(),
            warned: HashSet::new(),
        }
    }

    /// The destination's label on disk (its own, else the nearest above).
    pub(super) fn dest_label(&self) -> Option<String> {
        self.on_disk.clone()
    }

    /// The warning for `e`, the first time an entry of its label comes
    /// when that is not the destination's. Unlabelled entries (plain
    /// numbers) take the destination's label: nothing to say.
    pub(super) fn check(&mut self, e: &Entry) -> Option<String> {
        let (dest, dir) = self.dest.as_ref()?;
        let l = e.label.as_ref().filter(|l| *l != dest)?;
        if !self.warned.insert(l.clone()) {
            return None;
        }
        let on = dir
            .as_ref()
            .map(|d| format!(" (inherited from {})", d.display()))
            .unwrap_or_default();
        Some(format!(
            "entries labelled '{l}' are extracted into {}, whose context label on disk is '{dest}'{on}: \
             they keep their label; --context says which context wins: --context {l} (the entries', \
             as now) or --context {dest} (the destination's: its map and its label)",
            self.shown.display()
        ))
    }
}
