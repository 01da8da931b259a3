//! Names remembered by a 64-bit digest, and the labels of directories.

use std::collections::HashMap;

use crate::entry::{Entry, Kind};
use crate::sys::Dir;

use super::disk_labels::DiskLabels;

/// A 64-bit digest of a name: the reading thread remembers names by it, so
/// its memory does not grow with their length (a collision, at odds of
/// 2^-64, costs a label xattr or a hard link's order, never safety).
#[derive(Clone)]
pub(super) struct NameHash(u64);

impl NameHash {
    /// A seeded FNV-1a: the hash of every prefix of a name comes in one
    /// pass ([`NameHash::prefixes`]), so deep paths cost their length, not
    /// its square.
    pub(super) fn new() -> NameHash {
        use std::hash::BuildHasher;
        NameHash(std::hash::RandomState::new().hash_one(0u8) | 1)
    }

    /// The hash of the empty name, to extend with [`NameHash::step`].
    pub(super) fn seed(&self) -> u64 {
        self.0
    }

    pub(super) fn step(h: u64, b: u8) -> u64 {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }

    pub(super) fn of(&self, key: &[u8]) -> u64 {
        key.iter().fold(self.0, |h, &b| Self::step(h, b))
    }

    /// The hash of each parent prefix of `key` (`a`, `a/b` for `a/b/c`).
    pub(super) fn prefixes(&self, key: &[u8]) -> Vec<u64> {
        let mut out = Vec::new();
        let mut h = self.0;
        for &b in key {
            if b == b'/' {
                out.push(h);
            }
            h = Self::step(h, b);
        }
        out
    }
}

/// The label xattr goes where an entry's label differs from its parent's:
/// on a labelled entry whose directory was not handed out (the top of what
/// is extracted) or has another label, and, as an empty value, on an
/// unlabelled entry in a labelled directory.
pub(super) struct Labels {
    /// Directories handed out, by the hash of their key: their label.
    of_dir: HashMap<u64, Option<String>>,
    hash: NameHash,
    /// Extracting an increment: the labels of the directories on disk,
    /// for entries whose directory was not handed out.
    disk: Option<DiskLabels>,
}

impl Labels {
    pub(super) fn new(hash: NameHash) -> Labels {
        Labels {
            of_dir: HashMap::new(),
            hash,
            disk: None,
        }
    }

    /// Compare the label of an entry whose directory was not handed out
    /// with its directory's on disk (an increment's entries: see
    /// [`DiskLabels`]), not with none.
    pub(super) fn use_disk(&mut self, top: Option<String>) {
        self.disk.get_or_insert_with(|| DiskLabels::new(top));
    }

    /// Does the entry `key` (beneath `root`) get the label xattr?
    pub(super) fn wants(&mut self, key: &[u8], e: &Entry, root: &Dir) -> bool {
        // Symlinks cannot carry user xattrs; nor can FIFOs and devices,
        // where only a label is tried (its failure is a warning).
        if e.kind == Kind::Symlink
            || (e.label.is_none() && !matches!(e.kind, Kind::File | Kind::Dir))
        {
            return false;
        }
        if key.is_empty() {
            return e.label.is_some();
        }
        let parent = key
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(&key[..0], |i| &key[..i]);
        match (self.of_dir.get(&self.hash.of(parent)), &mut self.disk) {
            (Some(l), _) => *l != e.label,
            (None, Some(d)) => d.of(root, parent) != e.label,
            (None, None) => e.label.is_some(),
        }
    }

    /// The directory `h` was handed out with this label.
    pub(super) fn note_dir(&mut self, h: u64, label: Option<String>) {
        self.of_dir.insert(h, label);
    }

    /// Was a directory of hash `h` handed out?
    pub(super) fn is_dir(&self, h: u64) -> bool {
        self.of_dir.contains_key(&h)
    }
}
