//! Tree → entries: a sorted walk, then `lstat`, `readlink` and xattrs of
//! every file in parallel. Owners come out in the host view.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::entry::{Entry, Kind, LABEL_XATTR};
use crate::error::{Error, Result};

/// One file found by the walk.
#[derive(Clone, Debug)]
pub struct WalkedFile {
    /// Where it is on disk.
    pub fs_path: PathBuf,
    /// The entry, host view, label taken from its own xattr if any (in
    /// [`Entry::label`]; an empty one, which marks the file unlabelled and
    /// stops inheritance, as an empty string).
    pub entry: Entry,
    /// Device, for hard-link detection.
    pub dev: u64,
    /// Inode, for hard-link detection.
    pub ino: u64,
    /// Link count.
    pub nlink: u64,
    /// Status change time (`None` for an entry a manifest adds, which is
    /// not on disk): an incremental archive stores what changed since.
    pub ctime: Option<crate::entry::Time>,
    /// The owner came from an override record (`--from-xattrs`,
    /// `--from-manifest`) and is already in the context view.
    pub fixed: bool,
}

/// The result of a walk: files in archive order and the per-file errors met.
#[derive(Debug, Default)]
pub struct Walk {
    /// Files in archive order.
    pub files: Vec<WalkedFile>,
    /// Files that could not be read (the walk goes on without them).
    pub errors: Vec<Error>,
    /// Sockets skipped (tar does not archive them).
    pub sockets: Vec<PathBuf>,
}

/// Normalize a path given on the command line into the member-name prefix.
/// Returns the name and whether a leading `/` was removed.
pub fn member_prefix(p: &Path) -> (Vec<u8>, bool) {
    let mut b = p.as_os_str().as_bytes();
    let mut stripped = false;
    while let Some(r) = b.strip_prefix(b"/") {
        b = r;
        stripped = true;
    }
    while b.len() > 1 && b.ends_with(b"/") {
        b = &b[..b.len() - 1];
    }
    if b.is_empty() {
        b = b".";
    }
    (b.to_vec(), stripped)
}

/// Directories deeper than this are walked one at a time (walkdir, which
/// keeps a bounded number of directories open and no recursion); above it,
/// directories are read and their entries stat'ed in parallel.
const PARALLEL_DEPTH: usize = 32;

/// One thing the walk met, in archive order.
#[derive(Debug)]
pub enum Item {
    /// A file to archive.
    File(Box<WalkedFile>),
    /// A socket (tar does not archive them).
    Socket(PathBuf),
    /// A file or directory that could not be read (the walk goes on).
    Error(Error),
}

impl From<Result<Found>> for Item {
    fn from(r: Result<Found>) -> Item {
        match r {
            Ok(Found::File(s)) => Item::File(s),
            Ok(Found::Socket(p)) => Item::Socket(p),
            Err(e) => Item::Error(e),
        }
    }
}

/// Walk `paths` (relative to `base`) in sorted order and stat everything.
///
/// # Errors
/// A path given on the command line that does not exist. Errors below it
/// are collected in [`Walk::errors`].
pub fn walk(base: &Path, paths: &[PathBuf]) -> Result<Walk> {
    let roots = roots(base, paths)?;
    let mut out = Walk::default();
    // Nobody consumes this walk as it goes: whole subtrees at once, from
    // the top, in parallel.
    walk_roots(&roots, 1, &mut |batch| {
        for it in batch {
            match it {
                Item::File(s) => out.files.push(*s),
                Item::Socket(p) => out.sockets.push(p),
                Item::Error(e) => out.errors.push(e),
            }
        }
        true
    });
    Ok(out)
}

/// The paths to walk: for each path given (relative to `base`), where it
/// is and its member name.
///
/// # Errors
/// A path that does not exist (before anything is walked).
pub fn roots(base: &Path, paths: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    paths
        .iter()
        .map(|p| {
            // `-C DIR .` walks DIR itself: no `.` component to resolve in
            // every later path (the member names keep their `./`).
            let root = if p.as_os_str() == "." && !base.as_os_str().is_empty() {
                base.to_path_buf()
            } else {
                base.join(p)
            };
            crate::sys::lstat_path(&root).map_err(|e| Error::io("cannot stat", &root, e))?;
            Ok((root, member_prefix(p).0))
        })
        .collect()
}

/// Directories this close to the top are handed on entry by entry, so that
/// whoever consumes the walk can start before it ends; below them, whole
/// subtrees at a time.
const STREAM_DEPTH: usize = 2;

/// Most entries of one directory whose subtrees are walked at once (the
/// first windows are smaller, so the consumer starts early).
const WINDOW: usize = 8;

/// Walk `roots` (from [`roots`]) in sorted order, handing what is found to
/// `f` in archive order, in batches, as the walk goes. `f` returns false to
/// stop the walk.
pub fn walk_each(roots: &[(PathBuf, Vec<u8>)], f: &mut dyn FnMut(Vec<Item>) -> bool) {
    walk_roots(roots, STREAM_DEPTH, f);
}

/// As [`walk_each`], entry by entry above `stream_depth`.
fn walk_roots(
    roots: &[(PathBuf, Vec<u8>)],
    stream_depth: usize,
    f: &mut dyn FnMut(Vec<Item>) -> bool,
) {
    for (root, prefix) in roots {
        let top = stat_one(None, root.clone(), prefix.clone());
        let dir = subdir(&top);
        if !f(vec![top.into()]) {
            return;
        }
        if let Some((path, name)) = dir
            && !stream_dir(&path, &name, 1, stream_depth, f)
        {
            return;
        }
    }
}

/// The path and member name of a directory found, to descend into.
fn subdir(f: &Result<Found>) -> Option<(PathBuf, Vec<u8>)> {
    match f {
        Ok(Found::File(s)) if s.entry.kind == Kind::Dir => {
            Some((s.fs_path.clone(), s.entry.path.clone()))
        }
        _ => None,
    }
}

/// Hand on what is below the directory `path`: near the top entry by entry
/// (descending in order), deeper as whole subtrees. False when `f` stopped.
fn stream_dir(
    path: &Path,
    name: &[u8],
    depth: usize,
    stream_depth: usize,
    f: &mut dyn FnMut(Vec<Item>) -> bool,
) -> bool {
    if depth >= stream_depth {
        return f(walk_dir(path, name, depth)
            .into_iter()
            .map(Item::from)
            .collect());
    }
    let found = match read_and_stat(path, name) {
        Ok(v) => v,
        Err(e) => return f(vec![Item::Error(e)]),
    };
    if depth + 1 >= stream_depth {
        // The subdirectories are handed on as whole subtrees: walk a few
        // at a time in parallel (one directory's read overlaps another's
        // stat calls), handed on in order.
        let mut items = found.into_iter();
        let mut size = 1;
        loop {
            let window: Vec<Result<Found>> = items.by_ref().take(size).collect();
            if window.is_empty() {
                return true;
            }
            size = (size * 2).min(WINDOW);
            let below: Vec<Option<Vec<Result<Found>>>> = window
                .par_iter()
                .map(|item| subdir(item).map(|(p, n)| walk_dir(&p, &n, depth + 1)))
                .collect();
            for (item, below) in window.into_iter().zip(below) {
                if !f(vec![item.into()]) {
                    return false;
                }
                if let Some(b) = below
                    && !f(b.into_iter().map(Item::from).collect())
                {
                    return false;
                }
            }
        }
    }
    for item in found {
        let sub = subdir(&item);
        if !f(vec![item.into()]) {
            return false;
        }
        if let Some((p, n)) = sub
            && !stream_dir(&p, &n, depth + 1, stream_depth, f)
        {
            return false;
        }
    }
    true
}

/// Member name of `child` in the directory named `parent`.
fn child_name(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut n = Vec::with_capacity(parent.len() + 1 + child.len());
    n.extend_from_slice(parent);
    n.push(b'/');
    n.extend_from_slice(child);
    n
}

/// Everything below the directory `path` (member name `name`), in archive
/// order: each entry followed by what is below it, names sorted bytewise.
/// Names are stat'ed relative to the open directory, in parallel; the
/// directory is closed before its subdirectories are walked (in parallel
/// too), so open descriptors stay few whatever the tree's width.
fn walk_dir(path: &Path, name: &[u8], depth: usize) -> Vec<Result<Found>> {
    if depth >= PARALLEL_DEPTH {
        return walk_sequential(path, name);
    }
    let found = match read_and_stat(path, name) {
        Ok(v) => v,
        Err(e) => return vec![Err(e)],
    };
    let below: Vec<Vec<Result<Found>>> = found
        .par_iter()
        .map(|f| match f {
            Ok(Found::File(s)) if s.entry.kind == Kind::Dir => {
                walk_dir(&s.fs_path, &s.entry.path, depth + 1)
            }
            _ => Vec::new(),
        })
        .collect();
    let mut out = Vec::with_capacity(found.len() + below.iter().map(Vec::len).sum::<usize>());
    for (f, b) in found.into_iter().zip(below) {
        out.push(f);
        out.extend(b);
    }
    out
}

/// The entries of the directory `path` (member name `name`), sorted,
/// stat'ed in parallel relative to the open directory, which is closed
/// before returning.
fn read_and_stat(path: &Path, name: &[u8]) -> Result<Vec<Result<Found>>> {
    let unreadable = |e| Error::io("cannot read directory", path, e);
    let dir = crate::sys::Dir::open_nofollow(path).map_err(unreadable)?;
    let mut names = dir.names().map_err(unreadable)?;
    names.sort_unstable();
    Ok(names
        .par_iter()
        .map(|n| {
            stat_one(
                Some((&dir, n)),
                path.join(std::ffi::OsStr::from_bytes(n)),
                child_name(name, n),
            )
        })
        .collect())
}

/// As [`walk_dir`], one name at a time, for very deep trees.
fn walk_sequential(path: &Path, name: &[u8]) -> Vec<Result<Found>> {
    let mut out = Vec::new();
    for item in crate::sys::tree::walk_below(path) {
        match item {
            Ok(p) => {
                let rel = p.strip_prefix(path).unwrap_or(Path::new(""));
                let n = child_name(name, rel.as_os_str().as_bytes());
                out.push(stat_one(None, p, n));
            }
            Err(e) => out.push(Err(Error::io("cannot read directory", e.path, e.error))),
        }
    }
    out
}

pub use crate::sys::tree::read_xattrs;

/// User xattrs need read permission. A file we own with mode 0 (a device
/// placeholder left by the `xattr` and `userns` sinks) is made readable to
/// us for the moment it takes to read them, then given its mode back.
pub fn read_xattrs_of_unreadable(
    path: &Path,
    md: &crate::sys::Meta,
) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    if md.uid != crate::sys::tree::euid() {
        return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    }
    let mode = md.mode & 0o7777;
    crate::sys::tree::chmod(path, mode | 0o400)?;
    let r = read_xattrs(path);
    crate::sys::tree::chmod(path, mode)?;
    r
}

enum Found {
    File(Box<WalkedFile>),
    Socket(PathBuf),
}

/// Where a file is: its name in its open directory when the walk has one,
/// and its path (for messages, and for what cannot be asked by name).
#[derive(Clone, Copy)]
struct Place<'a> {
    at: Option<(&'a crate::sys::Dir, &'a [u8])>,
    path: &'a Path,
}

impl Place<'_> {
    fn lstat(&self) -> Result<crate::sys::Meta> {
        match self.at {
            Some((d, n)) => d.lstat(n),
            None => crate::sys::lstat_path(self.path),
        }
        .map_err(|e| Error::io("cannot stat", self.path, e))
    }

    /// An unreadable file is left out (as GNU tar does), not archived as
    /// zeros: the archive's layout is planned before data is read.
    fn check_readable(&self, size: u64) -> Result<()> {
        let readable = || match self.at {
            Some((d, n)) => d.readable(n),
            None => crate::sys::readable(self.path),
        };
        if size > 0 && !crate::sys::privileged() && !readable() {
            return Err(Error::io(
                "cannot open {} (left out; an ordinary user reads foreign-owned files with --userns and a map that covers their owners)",
                self.path,
                std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            ));
        }
        Ok(())
    }

    fn read_link(&self) -> Result<Vec<u8>> {
        match self.at {
            Some((d, n)) => d.read_link(n),
            None => crate::sys::tree::read_link(self.path),
        }
        .map_err(|e| Error::io("cannot read symlink", self.path, e))
    }

    /// The file's xattrs (`md` is its `lstat`).
    fn xattrs(&self, md: &crate::sys::Meta, kind: Kind) -> Result<Vec<(String, Vec<u8>)>> {
        let path = self.path;
        // Most files have no xattrs: asked relative to the open directory, that
        // answer costs one syscall and no walk of the whole path.
        let read = if matches!(self.at, Some((d, n)) if d.has_xattrs(n) == Some(false)) {
            Ok(Vec::new())
        } else {
            read_xattrs(path)
        };
        match read {
            Ok(x) => Ok(x),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && kind == Kind::File => {
                read_xattrs_of_unreadable(path, md)
                    .map_err(|e| Error::io("cannot read xattrs of", path, e))
            }
            Err(e) => Err(Error::io("cannot read xattrs of", path, e)),
        }
    }
}

/// The entry kind of a file `lstat` described; `None` for a socket.
fn kind_of(md: &crate::sys::Meta) -> Option<Kind> {
    use rustix::fs::FileType;
    Some(match md.kind() {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::CharacterDevice => Kind::Char,
        FileType::BlockDevice => Kind::Block,
        FileType::Fifo => Kind::Fifo,
        _ => return None,
    })
}

/// Stat one file: relative to its open directory when `at` is given
/// (directory and name), else by `path`.
fn stat_one(at: Option<(&crate::sys::Dir, &[u8])>, path: PathBuf, name: Vec<u8>) -> Result<Found> {
    let place = Place { at, path: &path };
    let md = place.lstat()?;
    let Some(kind) = kind_of(&md) else {
        return Ok(Found::Socket(path));
    };
    let mut e = Entry::new(name, kind);
    e.mode = md.mode & 0o7777;
    e.uid = u64::from(md.uid);
    e.gid = u64::from(md.gid);
    e.mtime = md.mtime;
    if kind == Kind::File {
        e.size = md.size;
        place.check_readable(e.size)?;
    }
    if kind == Kind::Symlink {
        e.link = Some(place.read_link()?);
    }
    if kind.is_device() {
        (e.dev_major, e.dev_minor) = crate::sys::tree::major_minor(md.rdev);
    }
    let mut xattrs = place.xattrs(&md, kind)?;
    if let Some(i) = xattrs.iter().position(|(n, _)| n == LABEL_XATTR) {
        let (_, v) = xattrs.remove(i);
        // Kept when empty: that marks the file unlabelled (see
        // [`WalkedFile::entry`]).
        e.label = Some(String::from_utf8_lossy(&v).into_owned());
    }
    e.xattrs = xattrs;
    Ok(Found::File(Box::new(WalkedFile {
        fs_path: path,
        entry: e,
        dev: md.dev,
        ino: md.ino,
        nlink: md.nlink,
        ctime: Some(md.ctime),
        fixed: false,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Member names as the streaming walk hands them on, with the number
    /// of batches it took.
    fn streamed(base: &Path, stream_depth: usize) -> (Vec<Vec<u8>>, usize) {
        let roots = roots(base, &[PathBuf::from(".")]).unwrap();
        let (mut names, mut batches) = (Vec::new(), 0);
        walk_roots(&roots, stream_depth, &mut |batch| {
            batches += 1;
            for it in batch {
                if let Item::File(s) = it {
                    names.push(s.entry.path);
                }
            }
            true
        });
        (names, batches)
    }

    #[test]
    fn streaming_walk_hands_on_the_sorted_preorder() {
        let t = tempfile::tempdir().unwrap();
        // 20 entries at the top (more than one window), directories and
        // files mixed, subtrees two levels deep.
        let mut want = vec![b".".to_vec()];
        for i in 0..20 {
            let top = format!("e{i:02}");
            if i % 3 == 0 {
                std::fs::write(t.path().join(&top), b"x").unwrap();
                want.push(format!("./{top}").into_bytes());
                continue;
            }
            std::fs::create_dir(t.path().join(&top)).unwrap();
            want.push(format!("./{top}").into_bytes());
            for j in 0..3 {
                let sub = format!("{top}/s{j}");
                std::fs::create_dir(t.path().join(&sub)).unwrap();
                want.push(format!("./{sub}").into_bytes());
                std::fs::write(t.path().join(&sub).join("f"), b"y").unwrap();
                want.push(format!("./{sub}/f").into_bytes());
            }
        }
        for depth in [1, STREAM_DEPTH, STREAM_DEPTH + 1] {
            let (names, batches) = streamed(t.path(), depth);
            assert_eq!(
                names
                    .iter()
                    .map(|n| String::from_utf8_lossy(n))
                    .collect::<Vec<_>>(),
                want.iter()
                    .map(|n| String::from_utf8_lossy(n))
                    .collect::<Vec<_>>(),
                "stream depth {depth}"
            );
            if depth == STREAM_DEPTH {
                // The top, each top entry, and each subtree: one batch each.
                assert_eq!(batches, 1 + 20 + 13, "stream depth {depth}");
            }
        }
        let collected: Vec<_> = walk(t.path(), &[PathBuf::from(".")])
            .unwrap()
            .files
            .into_iter()
            .map(|s| s.entry.path)
            .collect();
        assert_eq!(collected, want);
    }

    #[test]
    fn streaming_walk_stops_when_told() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..12 {
            std::fs::create_dir_all(t.path().join(format!("d{i:02}/x"))).unwrap();
        }
        let roots = roots(t.path(), &[PathBuf::from(".")]).unwrap();
        let mut seen = 0;
        walk_roots(&roots, STREAM_DEPTH, &mut |_| {
            seen += 1;
            seen < 5
        });
        assert_eq!(seen, 5, "no batch after the one that said stop");
    }
}
