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
//!
//! What it remembers is bounded by the directories, not the files: a
//! non-directory's name is kept exactly only while its entry may still be
//! in a worker's queue (its [`Ticket`] not done: what the workers have
//! applied is on disk, where the next entry's worker sees it), and beyond
//! that in a Bloom filter ([`Seen`]), which a directory entry asks whether
//! its name was a non-directory's; a false "maybe" costs a wait for the
//! workers, never order.

use std::collections::{HashMap, HashSet};

use super::crew::{Finished, Ticket};
use super::name_hash::NameHash;

/// Siblings in a row handed to one worker, and the workers a directory's
/// files are spread over.
const RUN: usize = 256;
const SPREAD: usize = 2;

/// Names of non-directories kept exactly before the first pruning: some
/// 16 batches queued for each of up to 16 workers hold fewer.
const PRUNE_FROM: usize = 1 << 15;

/// The reading thread's record of what it handed out, by hash.
pub(super) struct Router {
    hasher: NameHash,
    workers: u64,
    run: Run,
    /// Names handed out as non-directories whose entries may not be
    /// applied yet, with the batch that holds each.
    nondirs: HashMap<u64, Ticket>,
    /// `nondirs` is pruned of what is done when it reaches this size.
    prune_at: usize,
    /// Every name handed out as a non-directory, maybe.
    ever_nondir: Seen,
    finished: Finished,
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
    pub(super) fn new(hasher: NameHash, workers: usize, finished: Finished) -> Router {
        Router {
            hasher,
            workers: workers as u64,
            run: Run {
                parent: 0,
                count: 0,
            },
            nondirs: HashMap::new(),
            prune_at: PRUNE_FROM,
            ever_nondir: Seen::default(),
            finished,
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
            if self.nondirs.remove(&h).is_some() {
                wait = true;
            }
            // Either way, what lies beneath it may go to other workers: they
            // must find the directory in place.
            self.sync_next |= wait || self.ever_nondir.maybe(h);
            self.seen_dirs.insert(h);
        } else {
            if self.seen_dirs.remove(&h) {
                wait = true;
                self.sync_next = true;
            }
            // The same name again: the worker that has the first one may
            // not be the one that gets this one (unless it is done).
            self.prune();
            wait |= self
                .nondirs
                .insert(h, Ticket::DONE)
                .is_some_and(|t| !self.finished.is_done(t));
            self.ever_nondir.insert(h);
        }
        wait
    }

    /// The non-directory of hash `h` travels with ticket `t` (after
    /// [`Router::must_wait`]).
    pub(super) fn handed(&mut self, h: u64, t: Ticket) {
        if let Some(x) = self.nondirs.get_mut(&h) {
            *x = t;
        }
    }

    /// Forget the non-directories the workers have applied, when there
    /// are many: what remains is what the queues hold.
    fn prune(&mut self) {
        if self.nondirs.len() < self.prune_at {
            return;
        }
        let fin = &self.finished;
        self.nondirs.retain(|_, t| !fin.is_done(*t));
        self.nondirs.shrink_to(PRUNE_FROM);
        self.prune_at = (self.nondirs.len() * 2).max(PRUNE_FROM);
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
            beneath |= self
                .nondirs
                .get(&ph)
                .is_some_and(|t| !self.finished.is_done(*t));
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

/// A Bloom filter of name hashes, blocked: a name's four bits lie in one
/// 64-bit word, so an insert costs one cache miss, not four. "No" is
/// certain; "maybe" is wrong with odds of some 8 in 10 000 after a million
/// names, 3 in 100 after four million (2^19 words, 4 MiB, allocated at the
/// first name and touched as names come).
#[derive(Default)]
struct Seen(Vec<u64>);

impl Seen {
    const WORDS: u64 = 1 << 19;

    /// The word of hash `h`, and its four bits there, from a remix of it.
    fn slot(h: u64) -> (usize, u64) {
        let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let word = ((z >> 32) % Self::WORDS) as usize;
        let bits = (0..4).fold(0u64, |m, i| m | 1 << ((z >> (6 * i)) & 63));
        (word, bits)
    }

    fn insert(&mut self, h: u64) {
        if self.0.is_empty() {
            self.0 = vec![0; Self::WORDS as usize];
        }
        let (w, bits) = Self::slot(h);
        self.0[w] |= bits;
    }

    fn maybe(&self, h: u64) -> bool {
        let (w, bits) = Self::slot(h);
        !self.0.is_empty() && self.0[w] & bits == bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand out `n` files of directory `dir` to worker 0 in batches of 64;
    /// the worker applies each batch as soon as `applied` says.
    fn hand_files(r: &mut Router, fin: &Finished, dir: &str, n: u64, applied: bool) -> u64 {
        let mut waits = 0;
        for i in 0..n {
            let key = format!("{dir}/f{i}");
            let h = r.hasher.of(key.as_bytes());
            waits += u64::from(r.must_wait(key.as_bytes(), h, false));
            r.handed(h, Ticket::new(0, i / 64 + 1));
            if applied && i % 64 == 63 {
                fin.count(0);
            }
        }
        waits
    }

    /// Regression: the router kept every file's name hash until the end
    /// (18 MiB at a million files). Names the workers applied are pruned.
    #[test]
    fn files_applied_are_forgotten() {
        let fin = Finished::new(2);
        let mut r = Router::new(NameHash::new(), 2, fin.clone());
        assert_eq!(hand_files(&mut r, &fin, "d", 200_000, true), 0);
        assert!(r.nondirs.len() <= PRUNE_FROM, "{} kept", r.nondirs.len());
    }

    /// What the workers have not applied is kept: the same names again
    /// wait for them; once applied, the names come again without waiting.
    #[test]
    fn files_in_flight_are_remembered() {
        let fin = Finished::new(2);
        let mut r = Router::new(NameHash::new(), 2, fin.clone());
        hand_files(&mut r, &fin, "d", 3 * PRUNE_FROM as u64, false);
        assert_eq!(hand_files(&mut r, &fin, "d", 1000, false), 1000);
        for _ in 0..PRUNE_FROM {
            fin.count(0);
        }
        assert_eq!(
            hand_files(&mut r, &fin, "e", 3 * PRUNE_FROM as u64, true),
            0
        );
        assert_eq!(hand_files(&mut r, &fin, "d", 1000, true), 0);
    }

    /// A file's name that becomes a directory long after the file was
    /// applied and forgotten: the entry after the directory still waits
    /// for the workers (what lies beneath it may go to another worker).
    #[test]
    fn file_then_directory_after_pruning() {
        let fin = Finished::new(2);
        let mut r = Router::new(NameHash::new(), 2, fin.clone());
        hand_files(&mut r, &fin, "d", 1, true);
        fin.count(0);
        hand_files(&mut r, &fin, "e", 3 * PRUNE_FROM as u64, true);
        let h = r.hasher.of(b"d/f0");
        assert!(!r.nondirs.contains_key(&h), "pruned");
        assert!(!r.must_wait(b"d/f0", h, true), "the file is applied");
        let c = b"d/f0/x";
        assert!(
            r.must_wait(c, r.hasher.of(c), false),
            "the next entry waits"
        );
        // A new directory's entry does not.
        let n = b"newdir";
        assert!(!r.must_wait(n, r.hasher.of(n), true));
        let c = b"newdir/x";
        assert!(!r.must_wait(c, r.hasher.of(c), false));
    }

    /// The Bloom filter answers "maybe" for every name put in, and rarely
    /// for others.
    #[test]
    fn seen_has_no_false_negatives() {
        let mut s = Seen::default();
        let hasher = NameHash::new();
        assert!(!s.maybe(1));
        for i in 0..1_000_000u32 {
            s.insert(hasher.of(&i.to_le_bytes()));
        }
        assert!((0..1_000_000u32).all(|i| s.maybe(hasher.of(&i.to_le_bytes()))));
        let false_maybes = (1_000_000..1_100_000u32)
            .filter(|i| s.maybe(hasher.of(&i.to_le_bytes())))
            .count();
        assert!(false_maybes < 150, "{false_maybes} in 100 000");
    }
}
