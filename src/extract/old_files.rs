//! What extract does with names that exist: `--keep-old-files`,
//! `--skip-old-files`, `--overwrite` (the last in
//! [`super::worker::Worker`]), or alientar's default, replacement.

use std::os::unix::ffi::OsStrExt;

use rustix::fs::FileType;

use crate::entry::{Entry, Kind};
use crate::error::Error;
use crate::sys::Dir;
use crate::sys::errno::{self, Errno};

/// What extract does with a name that exists already.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum OldFiles {
    /// alientar's default: a file is written under a temporary name (or
    /// unnamed) and then put in place of what was there, so the name always
    /// shows the old file or the new one, never a partial one; an existing
    /// directory is kept and gets the archive's metadata. (GNU tar's
    /// default removes the old file first.)
    #[default]
    Replace,
    /// `--overwrite`: an existing regular file is emptied and written in
    /// place, as GNU tar does: the same inode, so its other hard links see
    /// the new contents, but a reader may see it partly written. Other
    /// names are replaced as by default.
    Overwrite,
    /// `-k`/`--keep-old-files`: an existing name is an error (reported,
    /// the file left as it is); an existing directory is left untouched,
    /// its metadata too.
    Keep,
    /// `--skip-old-files`: an existing name is skipped silently; an
    /// existing directory is left untouched, its metadata too.
    Skip,
}

impl OldFiles {
    /// Does an existing name keep this entry out?
    pub(super) fn keeps_existing(self) -> bool {
        matches!(self, OldFiles::Keep | OldFiles::Skip)
    }
}

/// Finds the names that exist, for `--keep-old-files` and
/// `--skip-old-files` (on the reading thread, after the workers have
/// applied every earlier entry of the same name).
pub(super) struct Existing {
    policy: OldFiles,
    /// The last parent directory looked up.
    parent: Option<LastParent>,
}

/// A parent directory looked up, by its key.
struct LastParent {
    key: Vec<u8>,
    dir: Dir,
}

impl Existing {
    pub(super) fn new(policy: OldFiles) -> Existing {
        Existing {
            policy,
            parent: None,
        }
    }

    /// True when the entry `key` is to be left out because its name
    /// exists; `report` gets the error (`--keep-old-files`). `fresh`: no
    /// earlier entry of this run named this directory (one that did may
    /// have made it: then it is not an old one).
    pub(super) fn leaves_out(
        &mut self,
        root: &Dir,
        key: &[u8],
        e: &Entry,
        fresh: bool,
        report: &mut dyn FnMut(Error),
    ) -> bool {
        if !self.policy.keeps_existing() || key.is_empty() || (e.kind == Kind::Dir && !fresh) {
            return false;
        }
        let Some(kind) = self.lookup(root, key) else {
            return false;
        };
        let old_dir = kind == FileType::Directory;
        if self.policy == OldFiles::Keep && !(old_dir && e.kind == Kind::Dir) {
            report(Error::io(
                "cannot overwrite {} (--keep-old-files)",
                std::path::Path::new(std::ffi::OsStr::from_bytes(key)),
                errno::error(Errno::EXIST),
            ));
        }
        true
    }

    /// The type of what `key` names now, if anything (a parent that is
    /// missing or not a directory: nothing; the worker reports that).
    fn lookup(&mut self, root: &Dir, key: &[u8]) -> Option<FileType> {
        let (parent, name) = match key.iter().rposition(|&b| b == b'/') {
            Some(i) => (&key[..i], &key[i + 1..]),
            None => (&key[..0], key),
        };
        if self.parent.as_ref().is_none_or(|p| p.key != parent) {
            let comps = crate::member::split(parent);
            self.parent = super::resolve::walk_dirs(root, &comps, false)
                .ok()
                .map(|dir| LastParent {
                    key: parent.to_vec(),
                    dir,
                });
        }
        let dir = &self.parent.as_ref()?.dir;
        dir.lstat(name).ok().map(|m| m.kind())
    }
}
