//! Hard links: made after every worker is done (their targets must exist),
//! in archive order.

use std::io;

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::member::{safe_components, split};

use super::batch::Task;
use super::leftovers::Leftovers;
use super::old_files::Existing;
use super::place::place;
use super::resolve::walk_dirs;
use super::worker::Worker;

/// Make the hard links `links` for which `is_last` holds (a later entry of
/// the same name wins), and that `old` does not leave out.
pub(super) fn make_links(
    w: &mut Worker,
    links: Vec<Task>,
    is_last: impl Fn(&Task) -> bool,
    old: &mut Existing,
    left: &mut Leftovers,
) {
    for l in links {
        if !is_last(&l) {
            continue;
        }
        if old.leaves_out(&w.root, &l.key, &l.ctx, false, &mut |e| {
            left.error(l.seq, e)
        }) {
            continue;
        }
        match hardlink(w, &l.key, &l.ctx) {
            Ok(()) => left.done += 1,
            Err(e) => left.errors.push((l.seq, e)),
        }
    }
}

/// Make a hard link `key` → the earlier member `ctx.link`, under a
/// temporary name renamed into place.
fn hardlink(w: &mut Worker, key: &[u8], ctx: &Entry) -> Result<()> {
    let comps = split(key);
    let path = String::from_utf8_lossy(key).into_owned();
    let io_err = |op: &str, err: io::Error| Error::io(op, &path, err);
    let target = ctx.link.as_deref().unwrap_or_default();
    let (tcomps, _) = safe_components(target)
        .map_err(|m| Error::unsafe_path(format!("hard link target: {m}")).with_path(&path))?;
    if tcomps.is_empty() {
        return Err(Error::unsafe_path("hard link to an empty name").with_path(&path));
    }
    if tcomps == comps {
        return Ok(());
    }
    let shown = || crate::quote::escaped(target);
    let tdir = walk_dirs(&w.root, &tcomps[..tcomps.len() - 1], false).map_err(|x| {
        let op = format!(
            "cannot hard-link {{}} to {} (the target's directory cannot be opened)",
            shown()
        );
        io_err(&op, x)
    })?;
    let dir = w
        .parent(&comps)
        .map_err(|x| io_err("cannot create the parent directories of", x))?;
    let tmp = w.tmp_name();
    dir.hardlink(&tdir, tcomps[tcomps.len() - 1], &tmp)
        .map_err(|x| io_err(&format!("cannot link {{}} to {}", shown()), x))?;
    let r = place(&dir, &tmp, comps[comps.len() - 1])
        .map_err(|x| io_err("cannot rename {} into place", x));
    // Renaming over another link to the same inode is a no-op that leaves tmp.
    let _ = dir.unlink(&tmp, false);
    if matches!(r, Ok(true)) {
        w.cache = None;
    }
    r.map(|_| ())
}
