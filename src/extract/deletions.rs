//! What an increment deletes: the names its listing headers give (see
//! `tar::listed`), removed before any member is extracted, each beneath the
//! destination's handle with no symlink followed, a directory with
//! everything beneath it (what the archive's state did not have either)
//! but never what another filesystem mounted beneath holds.

use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::member::safe_components;
use crate::sys::Dir;
use crate::sys::errno::{self, Errno};

use super::read::Reading;
use super::resolve::walk_dirs;

impl Reading<'_> {
    /// Delete the names the listing headers read so far give: before the
    /// first member is handed out, else not at all (alientar writes them
    /// first; deleting what earlier members made is no increment's).
    pub(super) fn deletions(&mut self) {
        let deleted = self.input.rd.take_listed().deleted;
        if deleted.is_empty() {
            return;
        }
        if self.seq > 0 {
            self.early.warn(
                "names a listing header after the first member deletes are not deleted \
                 (an increment lists them before)",
            );
            return;
        }
        if self.input.opts.old_files.keeps_existing() {
            self.early.warn(format!(
                "{} names the increment deletes are kept (--keep-old-files, --skip-old-files)",
                deleted.len()
            ));
            return;
        }
        for name in deleted {
            let mut e = Entry::new(name, Kind::File);
            if self.input.admit.admit(&mut e).is_none() {
                continue;
            }
            if let Err(err) = delete(&self.planner.root, &e.path) {
                self.early.error(0, err);
            }
        }
    }
}

/// Remove the member name `name` beneath `root`, if it is there.
fn delete(root: &Dir, name: &[u8]) -> Result<()> {
    let path = String::from_utf8_lossy(name).into_owned();
    let (comps, _) = safe_components(name)
        .map_err(|m| Error::unsafe_path(format!("deleted name: {m}")).with_path(&path))?;
    let Some((last, parents)) = comps.split_last() else {
        return Err(
            Error::unsafe_path("the increment deletes the destination itself: not done")
                .with_path(&path),
        );
    };
    let dir = match walk_dirs(root, parents, false) {
        Ok(d) => d,
        // Nothing there: as the increment would have it.
        Err(e) if errno::missing(&e) || errno::is(&e, Errno::NOTDIR) => return Ok(()),
        Err(e) if errno::refused_path(&e) => {
            let op = "cannot delete {} (a parent directory is a symlink; not followed)";
            return Err(Error::io(op, &path, e));
        }
        Err(e) => return Err(Error::io("cannot open the directory of", &path, e)),
    };
    match dir.remove_any(last) {
        Ok(_) => Ok(()),
        Err(e) if errno::is(&e, Errno::XDEV) => Err(Error::io(
            "cannot delete {} (a filesystem is mounted beneath it; not entered)",
            &path,
            e,
        )),
        Err(e) => Err(Error::io("cannot delete", &path, e)),
    }
}
