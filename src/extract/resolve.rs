//! Finding and making parent directories beneath the destination, never
//! following a symlink; a worker's cache of the last one.

use std::io;
use std::sync::Arc;

use crate::member::{is_joined, join};
use crate::sys::Dir;
use crate::sys::errno;

use super::staging::Staging;
use super::worker::Worker;

/// A worker's last parent directory.
pub(super) struct Cached {
    key: Vec<u8>,
    dir: Arc<Dir>,
    pub(super) setgid: bool,
    /// The [`Staging`] epoch in which it was found inside a new subtree.
    fresh: Option<u64>,
}

/// A directory opened by [`walk_dirs_making`].
pub(super) struct Walked {
    pub(super) dir: Dir,
    /// The index of the first component made by this walk, if any (that
    /// one and every one after it are new).
    pub(super) made: Option<usize>,
    /// The directory lies in a new subtree, under a temporary name.
    pub(super) in_new_subtree: bool,
}

/// Open `comps` under `root` one component at a time without following
/// symlinks, creating missing directories (mode 0755) when `create`.
pub(super) fn walk_dirs(root: &Dir, comps: &[&[u8]], create: bool) -> io::Result<Dir> {
    walk_dirs_making(root, comps, create, None).map(|w| w.dir)
}

/// As [`walk_dirs`], and which components it made. With `staging`, the
/// first one made is made under a temporary name.
///
/// openat2 resolves many components per call beneath the directory,
/// refusing symlinks; paths longer than PATH_MAX go in segments. A missing
/// component (to be created) or a kernel without openat2 falls back to one
/// openat(O_NOFOLLOW) per component, which refuses symlinks the same way.
fn walk_dirs_making(
    root: &Dir,
    comps: &[&[u8]],
    create: bool,
    staging: Option<&Staging>,
) -> io::Result<Walked> {
    let mut made = Made::default();
    let mut cur: Option<Dir> = None;
    let mut i = 0;
    let mut fast = true;
    while i < comps.len() {
        let base = cur.as_ref().unwrap_or(root);
        if fast {
            match open_segment(base, comps, i, create)? {
                Some((d, end)) => {
                    cur = Some(d);
                    i = end;
                    continue;
                }
                None => fast = false,
            }
        }
        cur = Some(open_or_make(base, comps, i, create, staging, &mut made)?);
        i += 1;
    }
    let dir = match cur {
        Some(d) => d,
        None => root.open_dir(b".")?,
    };
    Ok(Walked {
        dir,
        made: made.first,
        in_new_subtree: made.staged,
    })
}

/// What a walk made so far.
#[derive(Default)]
struct Made {
    first: Option<usize>,
    staged: bool,
}

/// Open as many components from `comps[i]` on as fit in one openat2 call:
/// the directory and the index after the last. `None`: fall back to one
/// component at a time.
fn open_segment(
    base: &Dir,
    comps: &[&[u8]],
    i: usize,
    create: bool,
) -> io::Result<Option<(Dir, usize)>> {
    let mut end = i;
    let mut len = 0;
    while end < comps.len() && (end == i || len + comps[end].len() < 4000) {
        len += comps[end].len() + 1;
        end += 1;
    }
    match base.open_dir_beneath(&join(&comps[i..end])) {
        Ok(Some(d)) => Ok(Some((d, end))),
        Ok(None) => Ok(None),
        Err(e) if create && errno::missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Open `comps[i]` in `base`, making it when it is missing and `create`:
/// the first one made under a temporary name when `staging` stages it.
fn open_or_make(
    base: &Dir,
    comps: &[&[u8]],
    i: usize,
    create: bool,
    staging: Option<&Staging>,
    made: &mut Made,
) -> io::Result<Dir> {
    let c = comps[i];
    match base.open_dir(c) {
        Ok(d) => return Ok(d),
        Err(e) if !(create && errno::missing(&e)) => return Err(e),
        Err(_) => {}
    }
    if made.first.is_none()
        && let Some(st) = staging
        && let Some(tmp) = st.stage(base, &comps[..=i], 0o755)?
    {
        made.first = Some(i);
        made.staged = true;
        return base.open_dir(&tmp);
    }
    match base.mkdir(c, 0o755) {
        Ok(()) => made.first = made.first.or(Some(i)),
        Err(e) if errno::exists(&e) => {}
        Err(e) => return Err(e),
    }
    base.open_dir(c)
}

impl Worker {
    /// The directory holding `comps`' last component, created as needed.
    pub(super) fn parent(&mut self, comps: &[&[u8]]) -> io::Result<Arc<Dir>> {
        let parent = &comps[..comps.len() - 1];
        if let Some(c) = &self.cache
            && is_joined(&c.key, parent)
        {
            return Ok(c.dir.clone());
        }
        let key = join(parent);
        let walked = self.resolve(parent)?;
        let d = Arc::new(walked.dir);
        // The first visit to a directory removes what a killed earlier run
        // left there; directories this run made (here or by a directory
        // entry) hold none.
        let first = {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(first) = walked.made {
                for end in first + 1..=parent.len() {
                    swept.insert(join(&parent[..end]));
                }
            }
            swept.insert(key.clone())
        };
        if first {
            self.sweep(&d);
        }
        let setgid = d.is_setgid().unwrap_or(true);
        let fresh = walked.in_new_subtree.then(|| self.staging.epoch());
        self.cache = Some(Cached {
            key,
            dir: d.clone(),
            setgid,
            fresh,
        });
        Ok(d)
    }

    /// Open the directory `comps`, creating what is missing; a missing
    /// directory whose parent is not new is made under a temporary name
    /// ([`Staging`]).
    fn resolve(&mut self, comps: &[&[u8]]) -> io::Result<Walked> {
        if let Some((i, tmp)) = self.staging.find(comps) {
            let mut at = comps.to_vec();
            at[i] = &tmp;
            // (What lies in a new subtree was made by this run, and marked
            // swept by whoever made it.)
            let w = walk_dirs_making(&self.root, &at, true, None)?;
            return Ok(Walked {
                in_new_subtree: true,
                ..w
            });
        }
        let r = walk_dirs_making(&self.root, comps, true, Some(&self.staging))?;
        if let Walked {
            made: Some(i),
            in_new_subtree: true,
            ..
        } = r
        {
            // A new subtree was just made in a directory that existed:
            // sweep that one too, once (it may hold a killed run's).
            let first = self
                .swept
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(join(&comps[..i]));
            if first && let Ok(p) = walk_dirs(&self.root, &comps[..i], false) {
                self.sweep(&p);
            }
        }
        Ok(r)
    }

    /// Remove what a killed earlier run left in `d` (see
    /// [`Dir::sweep_stale_temporaries`]).
    fn sweep(&mut self, d: &Dir) {
        let n = d.sweep_stale_temporaries();
        if n > 0 {
            self.warn_n(
                "removed temporaries left by an interrupted extraction",
                n as u64,
            );
        }
    }

    /// Is the cached parent inside a new subtree, not yet renamed into place?
    pub(super) fn in_new_subtree(&self) -> bool {
        self.cache
            .as_ref()
            .is_some_and(|c| c.fresh == Some(self.staging.epoch()))
    }

    /// `comps` is a directory this run made: nothing to sweep there.
    pub(super) fn made_dir(&self, comps: &[&[u8]]) {
        self.swept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(join(comps));
    }
}
