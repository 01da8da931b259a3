//! Which entries extract takes, and what it changes in them first.

use crate::entry::{Entry, Kind};
use crate::member::{safe_components, strip_entry};
use crate::select::MemberFilter;
use crate::transform::Transform;

use super::ExtractOptions;

/// Member patterns and exclusions match the names as stored (as in GNU
/// tar), then the transform renames, `--strip-components` strips and
/// `--no-same-permissions` applies the umask.
pub(super) struct Admit {
    pats: MemberFilter,
    strip: u32,
    transform: Option<Transform>,
    umask: Option<u32>,
    keep_root: bool,
}

impl Admit {
    pub(super) fn new(opts: &ExtractOptions) -> Admit {
        Admit {
            pats: MemberFilter::new(&opts.patterns, opts.matching, &opts.exclude),
            strip: opts.strip_components,
            transform: opts.transform.clone().filter(|t| !t.is_empty()),
            umask: opts.apply_umask.then(crate::sys::umask),
            keep_root: opts.old_files.keeps_existing(),
        }
    }

    /// `None`: leave the entry out. Else the entry as it is to be
    /// extracted, and its name as stored when the transform changed it
    /// (what `-v` shows, as GNU tar does).
    pub(super) fn admit(&mut self, e: &mut Entry) -> Option<Option<Vec<u8>>> {
        if !self.pats.admits(&e.path) {
            return None;
        }
        let mut stored = None;
        if self.transform.is_some() || self.strip > 0 {
            let before = e.path.clone();
            if let Some(x) = &self.transform {
                x.apply_entry(e);
            }
            if !strip_entry(e, self.strip) {
                return None;
            }
            stored = (before != e.path).then_some(before);
        }
        if let Some(m) = self.umask {
            e.mode &= 0o777 & !m;
        }
        // The destination always exists: with -k or --skip-old-files its
        // own metadata stays.
        let root = || safe_components(&e.path).is_ok_and(|(c, _)| c.is_empty());
        if self.keep_root && e.kind == Kind::Dir && root() {
            return None;
        }
        Some(stored)
    }

    /// The patterns no entry matched.
    pub(super) fn unmatched(&self) -> Vec<String> {
        self.pats.unmatched()
    }
}
