//! New subtrees made under temporary names (see the module documentation
//! of [`super`]).

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;
use crate::member::{is_joined, join, split};
use crate::sys::Dir;

use super::name_hash::NameHash;
use super::resolve::walk_dirs;

/// The new subtrees, shared by the workers: by the hash of the name each
/// will get, that name (as a key) and its temporary name in the same
/// parent. No entry is inside another, since only a directory whose parent
/// is not new is staged.
#[derive(Clone)]
pub(super) struct Staging(Arc<StagingInner>);

/// A directory made under a temporary name.
struct Staged {
    /// The name it will get, as a key.
    key: Vec<u8>,
    /// Its temporary name, in the same parent.
    tmp: Vec<u8>,
}

struct StagingInner {
    /// By the hash of their key.
    names: Mutex<HashMap<u64, Staged>>,
    hash: NameHash,
    /// Advanced by each [`Staging::publish`]: a worker's cached "inside a
    /// new subtree" holds only for the epoch it was found in.
    epoch: AtomicU64,
    counter: AtomicU64,
}

impl Staging {
    pub(super) fn new() -> Staging {
        Staging(Arc::new(StagingInner {
            names: Mutex::default(),
            hash: NameHash::new(),
            epoch: AtomicU64::new(0),
            counter: AtomicU64::new(0),
        }))
    }

    fn names(&self) -> MutexGuard<'_, HashMap<u64, Staged>> {
        self.0.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn epoch(&self) -> u64 {
        self.0.epoch.load(Ordering::Acquire)
    }

    /// The first component of `comps` that is a staged directory: its index
    /// and temporary name. (Prefixes are hashed in one pass: paths thousands
    /// of components deep cost their length.)
    pub(super) fn find(&self, comps: &[&[u8]]) -> Option<(usize, Vec<u8>)> {
        let names = self.names();
        if names.is_empty() {
            return None;
        }
        let mut h = self.0.hash.seed();
        for (i, c) in comps.iter().enumerate() {
            if i > 0 {
                h = NameHash::step(h, b'/');
            }
            h = c.iter().fold(h, |h, &b| NameHash::step(h, b));
            if let Some(s) = names.get(&h)
                && is_joined(&s.key, &comps[..=i])
            {
                return Some((i, s.tmp.clone()));
            }
        }
        None
    }

    /// Make the directory `comps` (whose parent, `base`, is not new) under
    /// a temporary name, or find the one made already. `None` when
    /// something stands under its name: the caller deals with that.
    pub(super) fn stage(
        &self,
        base: &Dir,
        comps: &[&[u8]],
        mode: u32,
    ) -> io::Result<Option<Vec<u8>>> {
        let key = join(comps);
        let h = self.0.hash.of(&key);
        let mut names = self.names();
        match names.get(&h) {
            Some(s) if s.key == key => return Ok(Some(s.tmp.clone())),
            // Another name of the same hash (odds 2^-64): not staged.
            Some(_) => return Ok(None),
            None => {}
        }
        let name = comps[comps.len() - 1];
        if base.lstat(name).is_ok() {
            return Ok(None);
        }
        let n = self.0.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = format!(".alientar-{}-new-{n}", std::process::id()).into_bytes();
        base.mkdir(&tmp, mode)?;
        names.insert(
            h,
            Staged {
                key,
                tmp: tmp.clone(),
            },
        );
        Ok(Some(tmp))
    }

    /// Rename every staged directory to its own name. Only while no worker
    /// runs (they may hold the temporary names). Errors name the path.
    pub(super) fn publish(&self, root: &Dir) -> Vec<Error> {
        let staged = std::mem::take(&mut *self.names());
        if staged.is_empty() {
            return Vec::new();
        }
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
        let mut errors = Vec::new();
        for Staged { key, tmp } in staged.into_values() {
            let comps = split(&key);
            let r = walk_dirs(root, &comps[..comps.len() - 1], false)
                .and_then(|d| d.rename_noreplace(&tmp, comps[comps.len() - 1]));
            if let Err(e) = r {
                errors.push(Error::io(
                    format!(
                        "cannot rename the new directory {} into place as {{}}",
                        String::from_utf8_lossy(&tmp)
                    ),
                    &*String::from_utf8_lossy(&key),
                    e,
                ));
            }
        }
        errors
    }
}
