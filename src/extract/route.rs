//! Which worker gets an entry, and when the workers must first finish what
//! they have.
//!
//! Directory entries go to a worker by their name. Other entries go by
//! their parent, in runs of [`RUN`] consecutive siblings per worker: a
//! small directory's files all on one worker (the one its own entry went
//! to), which opens the directory once instead of every worker opening
//! it; a big directory's alternately over [`SPREAD`] workers. Entries of
//! different names run on different workers: where the order between them
//! matters — a name that was a file becomes a directory, or the reverse,
//! the same name again, or an entry lies beneath a name that is not a
//! directory — the entry waits for the workers, as archive order says.
//! (Names and parents by their [`NameHash`], which the reading thread
//! computes anyway.)

use std::collections::HashSet;

use super::name_hash::NameHash;

/// Siblings in a row handed to one worker, and the workers a directory's
/// files are spread over.
const RUN: usize = 256;
const SPREAD: usize = 2;

/// The reading thread's record of what it handed out, by hash.
pub(super) struct Router {
    hasher: NameHash,
    workers: u64,
    run: Run,
    /// Names handed out as non-directories.
    nondirs: HashSet<u64>,
    /// Names known as directories (entries' own or their parents).
    seen_dirs: HashSet<u64>,
    /// The next entry must wait for the workers.
    sync_next: bool,
    /// The parent of the previous entry handed out, and whether none of
    /// its ancestors was a non-directory name.
    last_parent: Vec<u8>,
    clear_parent: bool,
}

/// The current run of siblings.
struct Run {
    /// Their parent's hash.
    parent: u64,
    /// How many of them were handed out.
    count: usize,
}

impl Router {
    pub(super) fn new(hasher: NameHash, workers: usize) -> Router {
        Router {
            hasher,
            workers: workers as u64,
            run: Run {
                parent: 0,
                count: 0,
            },
            nondirs: HashSet::new(),
            seen_dirs: HashSet::new(),
            sync_next: false,
            last_parent: Vec::new(),
            clear_parent: false,
        }
    }

    /// No entry so far named the directory `h` (nor had it as a parent).
    pub(super) fn fresh(&self, h: u64) -> bool {
        !self.seen_dirs.contains(&h)
    }

    /// Must the entry `key` (of hash `h`) wait until the workers have
    /// applied everything handed out before it?
    pub(super) fn must_wait(&mut self, key: &[u8], h: u64, is_dir: bool) -> bool {
        let mut wait = std::mem::take(&mut self.sync_next);
        wait |= self.beneath_nondir(key);
        if is_dir {
            // A name that was not a directory: the worker that has it may
            // not be this entry's (those go by parent, directories by name).
            if self.nondirs.remove(&h) {
                wait = true;
                self.sync_next = true;
            }
            self.seen_dirs.insert(h);
        } else {
            if self.seen_dirs.remove(&h) {
                wait = true;
                self.sync_next = true;
            }
            // The same name again: the worker that has the first one may
            // not be the one that gets this one.
            wait |= !self.nondirs.insert(h);
        }
        wait
    }

    /// Does `key` lie beneath a name handed out as a non-directory? Also
    /// notes its parents as directories. Siblings come together in sorted
    /// archives: when the previous entry had the same parent and none of
    /// its ancestors was a non-directory, nothing about the ancestors has
    /// changed since.
    fn beneath_nondir(&mut self, key: &[u8]) -> bool {
        let parent_len = key.iter().rposition(|&b| b == b'/').unwrap_or(0);
        if self.clear_parent && key[..parent_len] == self.last_parent[..] {
            return false;
        }
        let mut beneath = false;
        for ph in self.hasher.prefixes(key) {
            beneath |= self.nondirs.contains(&ph);
            self.seen_dirs.insert(ph);
        }
        self.clear_parent = !beneath;
        self.last_parent.clear();
        self.last_parent.extend_from_slice(&key[..parent_len]);
        let ph = self.hasher.of(&self.last_parent);
        if self.run.parent != ph {
            self.run = Run {
                parent: ph,
                count: 0,
            };
        }
        beneath
    }

    /// The worker for the entry of hash `h` (after [`Router::must_wait`]).
    pub(super) fn worker(&mut self, h: u64, is_dir: bool) -> usize {
        if is_dir {
            return (h % self.workers) as usize;
        }
        let turn = (self.run.count / RUN % SPREAD) as u64;
        self.run.count += 1;
        (self.run.parent.wrapping_add(turn) % self.workers) as usize
    }
}
