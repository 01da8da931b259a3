//! Tree → entries: a sorted walk, then `lstat`, `readlink` and xattrs of
//! every file in parallel (small regular files, when the walk streams to
//! `create`, opened, stat'ed and read at once: [`Prefetched`]). Owners come
//! out in the host view. What the
//! [`Select`] leaves out is never stat'ed, and an excluded directory never
//! read: names are matched as the directory lists them, cache tags and
//! devices looked at as directories are found.

use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::entry::{Entry, Kind, LABEL_XATTR};
use crate::error::{Error, Result};
use crate::select::{CACHEDIR_SIGNATURE, CACHEDIR_TAG, ExcludeCaches, Select};

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
    /// A directory whose contents the walk left out, all or all but its
    /// cache tag (`--one-file-system`, `--exclude-caches*`): an increment
    /// deletes nothing below it.
    pub pruned: bool,
    /// The owner came from an override record (`--from-xattrs`,
    /// `--from-manifest`) and is already in the context view.
    pub fixed: bool,
    /// A small regular file's data, read by the walk (see [`Prefetched`]).
    pub data: Option<Arc<Prefetched>>,
}

/// Regular files at most this long are read by the streaming walk: where
/// the system calls cost more than the reading (files of 2 to 4 KiB read
/// by the walk made create slower, the frames' jobs then having less to
/// do).
const PREFETCH_MAX: u64 = 1 << 10;

/// The bytes of prefetched data held at once, at most: past it, files are
/// read when their frame is built, as larger ones are.
const PREFETCH_BUDGET: usize = 16 << 20;

/// Bytes of [`Prefetched`] data held now.
static PREFETCHED: AtomicUsize = AtomicUsize::new(0);

/// A small file's data, read by the walk right after its `lstat`: opened
/// by name in its directory, checked to be the file stat'ed (`fstat`),
/// asked for xattrs through the descriptor (`flistxattr`, no lookup of the
/// name as `listxattrat` makes), read and closed. Two lookups of its name
/// where reading it when its frame is built took three, on the walk's
/// parallel threads. It holds up to one byte more than the size stat'ed,
/// so a file that grew is told from one that did not. What a walk holds of
/// it is bounded by [`PREFETCH_BUDGET`].
pub struct Prefetched {
    bytes: Vec<u8>,
    /// Its share of [`PREFETCHED`].
    counted: usize,
}

impl Prefetched {
    /// Is a file of `size` bytes read by the walk?
    fn wanted(size: u64) -> bool {
        size > 0 && size <= PREFETCH_MAX
    }

    /// Read up to `size + 1` bytes of `f` (a file of `size` bytes when
    /// stat'ed), if `size` is small and the budget has room. `None` leaves
    /// the reading (and the report of a read error) to the frame's job.
    fn read(f: &std::fs::File, size: u64) -> Option<Prefetched> {
        if !Prefetched::wanted(size) {
            return None;
        }
        let want = size as usize + 1;
        if PREFETCHED.fetch_add(want, Ordering::Relaxed) + want > PREFETCH_BUDGET {
            PREFETCHED.fetch_sub(want, Ordering::Relaxed);
            return None;
        }
        // Given back on drop.
        let mut p = Prefetched {
            bytes: Vec::with_capacity(want),
            counted: want,
        };
        // Read to the size; the byte after it comes with the first read
        // (a regular file's read stops short only at its end).
        while p.bytes.len() < want - 1 {
            let at = p.bytes.len();
            match crate::sys::pread_append(f, &mut p.bytes, want - at, at as u64) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(p)
    }

    /// The data read: the file's bytes, one more than its size if it grew.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `bytes` as if read (not counted in the budget).
    #[cfg(test)]
    pub(crate) fn of(bytes: &[u8]) -> Prefetched {
        Prefetched {
            bytes: bytes.to_vec(),
            counted: 0,
        }
    }
}

impl Drop for Prefetched {
    fn drop(&mut self) {
        PREFETCHED.fetch_sub(self.counted, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Prefetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prefetched({} bytes)", self.bytes.len())
    }
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

/// Directories deeper than this are walked one at a time, depth first,
/// without recursion; above it, directories are read and their entries
/// stat'ed in parallel.
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
            Ok(Found::File(s) | Found::Dir(s, _)) => Item::File(s),
            Ok(Found::Socket(p)) => Item::Socket(p),
            Err(e) => Item::Error(e),
        }
    }
}

/// Walk `paths` (relative to `base`) in sorted order and stat everything,
/// leaving out what `select` says.
///
/// # Errors
/// A path given on the command line that does not exist. Errors below it
/// are collected in [`Walk::errors`].
pub fn walk(base: &Path, paths: &[PathBuf], select: &Select) -> Result<Walk> {
    let plan = plan(base, paths, select)?;
    let mut out = Walk::default();
    // Nobody consumes this walk as it goes: whole subtrees at once, from
    // the top, in parallel.
    for root in &plan.roots {
        let rules = Rules::new(plan.select, root.absolute);
        let top = stat_one(None, root.path.clone(), root.name.clone(), false);
        let Some(top) = rules.classify(top, None) else {
            continue;
        };
        let below = subdir(&top).map(|s| walk_dir(rules, &s, 1));
        for it in std::iter::once(top).chain(below.into_iter().flatten()) {
            match it {
                Ok(Found::File(s) | Found::Dir(s, _)) => out.files.push(*s),
                Ok(Found::Socket(p)) => out.sockets.push(p),
                Err(e) => out.errors.push(e),
            }
        }
    }
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
            let root = root_path(base, p);
            crate::sys::lstat_path(&root).map_err(|e| Error::io("cannot stat", &root, e))?;
            Ok((root, member_prefix(p).0))
        })
        .collect()
}

/// Where the path `p` given relative to `base` is.
fn root_path(base: &Path, p: &Path) -> PathBuf {
    // `-C DIR .` walks DIR itself: no `.` component to resolve in every
    // later path (the member names keep their `./`).
    if p.as_os_str() == "." && !base.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(p)
    }
}

/// A path to walk.
#[derive(Debug)]
struct Root {
    path: PathBuf,
    /// Its member name.
    name: Vec<u8>,
    /// It was given with a leading `/` (exclusions see it).
    absolute: bool,
}

/// What a walk goes through and what it leaves out.
#[derive(Debug)]
pub struct Plan<'a> {
    roots: Vec<Root>,
    select: &'a Select,
}

/// The walk of `paths` (relative to `base`), leaving out what `select`
/// says: a path it excludes is not looked at.
///
/// # Errors
/// A path that does not exist (before anything is walked).
pub fn plan<'a>(base: &Path, paths: &[PathBuf], select: &'a Select) -> Result<Plan<'a>> {
    let mut roots = Vec::with_capacity(paths.len());
    for p in paths {
        let (name, absolute) = member_prefix(p);
        if Rules::new(select, absolute).excluded(&name) {
            continue;
        }
        let path = root_path(base, p);
        crate::sys::lstat_path(&path).map_err(|e| Error::io("cannot stat", &path, e))?;
        roots.push(Root {
            path,
            name,
            absolute,
        });
    }
    Ok(Plan { roots, select })
}

/// What the walk below one path leaves out.
#[derive(Clone, Copy)]
struct Rules<'a> {
    select: &'a Select,
    /// The path was given with a leading `/`: names are matched with it,
    /// as GNU tar matches them.
    absolute: bool,
    /// Small regular files are read as they are found ([`Prefetched`]).
    prefetch: bool,
}

impl<'a> Rules<'a> {
    fn new(select: &'a Select, absolute: bool) -> Rules<'a> {
        Rules {
            select,
            absolute,
            prefetch: false,
        }
    }

    /// Is the member `name` excluded by name?
    fn excluded(&self, name: &[u8]) -> bool {
        let x = &self.select.exclude;
        if x.is_empty() {
            return false;
        }
        if !self.absolute {
            return x.excludes(name);
        }
        let mut full = Vec::with_capacity(name.len() + 1);
        full.push(b'/');
        full.extend_from_slice(name);
        x.excludes(&full)
    }

    /// What of `found` to walk: a directory in the directory on the device
    /// `parent` (`None`: a path given) may be on another filesystem or
    /// tagged as a cache.
    fn classify(&self, found: Result<Found>, parent: Option<u64>) -> Option<Result<Found>> {
        let Ok(Found::File(s)) = found else {
            return Some(found);
        };
        if s.entry.kind != Kind::Dir {
            return Some(Ok(Found::File(s)));
        }
        if self.select.one_file_system && parent.is_some_and(|d| d != s.dev) {
            return Some(Ok(Found::Dir(pruned(s), Below::Nothing)));
        }
        let tagged =
            || crate::sys::tree::starts_with(&s.fs_path.join(os(CACHEDIR_TAG)), CACHEDIR_SIGNATURE);
        let below = match self.select.caches {
            Some(how) if tagged() => match how {
                ExcludeCaches::Contents => Below::Tag,
                ExcludeCaches::Under => Below::Nothing,
                ExcludeCaches::All => return None,
            },
            _ => Below::All,
        };
        let s = if below == Below::All { s } else { pruned(s) };
        Some(Ok(Found::Dir(s, below)))
    }
}

fn pruned(mut s: Box<WalkedFile>) -> Box<WalkedFile> {
    s.pruned = true;
    s
}

/// Would the walk of `paths` leave out the member `name` by its name, or
/// one of the directories it is in (`--exclude` and the like)? The name is
/// matched as the walk matches the names it finds: as given, with the
/// leading `/` of a path given with one.
pub fn excluded(select: &Select, paths: &[PathBuf], name: &[u8]) -> bool {
    if select.exclude.is_empty() {
        return false;
    }
    paths.iter().any(|p| {
        let (root, absolute) = member_prefix(p);
        let below = name
            .strip_prefix(root.as_slice())
            .is_some_and(|r| r.is_empty() || r.starts_with(b"/"));
        if !below {
            return false;
        }
        let rules = Rules::new(select, absolute);
        let mut n = name;
        loop {
            if rules.excluded(n) {
                return true;
            }
            if n == root.as_slice() {
                return false;
            }
            match n.iter().rposition(|&b| b == b'/') {
                Some(i) => n = &n[..i],
                None => return false,
            }
        }
    })
}

fn os(b: &[u8]) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(b)
}

/// Subdirectories of one directory whose entries are read at once, in
/// parallel, before their turn comes (the first windows are smaller, so
/// that whoever consumes the walk starts early).
const WINDOW: usize = 8;

/// Items handed on at once, at most.
const BATCH: usize = 512;

/// Walk as `plan` says, in sorted order, handing what is found to `f` in
/// archive order, in batches, as the walk goes. `f` returns false to stop
/// the walk. Small regular files come with their data ([`Prefetched`]):
/// whoever takes them is to write them soon.
///
/// The walk holds the entries of a few directories per level of the tree,
/// whatever its size: those of each directory it is in (those not yet
/// handed on), and those of the next [`WINDOW`] subdirectories there, read
/// in parallel ahead of their turn. Deeper directories are read when their
/// turn comes, not before.
pub fn walk_each(plan: &Plan, f: &mut dyn FnMut(Vec<Item>) -> bool) {
    let mut out = Handout {
        batch: Vec::new(),
        f,
    };
    for root in &plan.roots {
        let rules = Rules {
            prefetch: true,
            ..Rules::new(plan.select, root.absolute)
        };
        let top = stat_one(None, root.path.clone(), root.name.clone(), false);
        let Some(top) = rules.classify(top, None) else {
            continue;
        };
        let below = subdir(&top).map(|s| read_and_stat(rules, &s));
        if !stream_tree(rules, (top, below), &mut out) || !out.flush() {
            return;
        }
    }
}

/// What the walk hands on, gathered in batches.
struct Handout<'f> {
    batch: Vec<Item>,
    f: &'f mut dyn FnMut(Vec<Item>) -> bool,
}

impl Handout<'_> {
    /// False when the consumer stopped the walk.
    fn push(&mut self, it: Item) -> bool {
        self.batch.push(it);
        self.batch.len() < BATCH || self.flush()
    }

    fn flush(&mut self) -> bool {
        self.batch.is_empty() || (self.f)(std::mem::take(&mut self.batch))
    }
}

/// A directory's entries (or the error reading it gave).
type Listing = Result<Vec<Result<Found>>>;

/// A directory being handed on: its entries not handed on yet, the first
/// of them with their own entries read if they are directories.
struct Level {
    rest: std::vec::IntoIter<Result<Found>>,
    ready: std::collections::VecDeque<(Result<Found>, Option<Listing>)>,
    /// Subdirectories in the next window.
    window: usize,
}

impl Level {
    fn new(found: Vec<Result<Found>>) -> Level {
        Level {
            rest: found.into_iter(),
            ready: Default::default(),
            window: 1,
        }
    }

    /// The next entry, with its own entries if it is a directory walked.
    fn next(&mut self, rules: Rules) -> Option<(Result<Found>, Option<Listing>)> {
        if self.ready.is_empty() {
            self.read_window(rules);
        }
        self.ready.pop_front()
    }

    /// Take entries up to the window's count of subdirectories and read
    /// those in parallel (one directory's read overlaps another's stat
    /// calls).
    fn read_window(&mut self, rules: Rules) {
        let mut taken = Vec::new();
        let mut dirs = 0;
        for f in self.rest.by_ref() {
            dirs += usize::from(subdir(&f).is_some());
            taken.push(f);
            if dirs == self.window {
                break;
            }
        }
        self.window = (self.window * 2).min(WINDOW);
        if dirs == 0 {
            self.ready.extend(taken.into_iter().map(|f| (f, None)));
            return;
        }
        let below: Vec<Option<Listing>> = taken
            .par_iter()
            .map(|f| subdir(f).map(|s| read_and_stat(rules, &s)))
            .collect();
        self.ready.extend(taken.into_iter().zip(below));
    }
}

/// Hand on `top` and everything below it (its entries given), in archive
/// order: each entry, then what is below it. False when `out`'s consumer
/// stopped the walk. Iterative, so that no depth of tree overflows the
/// stack.
fn stream_tree(rules: Rules, top: (Result<Found>, Option<Listing>), out: &mut Handout) -> bool {
    let mut levels: Vec<Level> = Vec::new();
    let mut next = Some(top);
    while let Some((found, below)) = next.take() {
        if !out.push(found.into()) {
            return false;
        }
        let gone = match below {
            Some(Ok(v)) => {
                levels.push(Level::new(v));
                None
            }
            Some(Err(e)) => Some(Item::Error(e)),
            None => None,
        };
        if let Some(e) = gone
            && !out.push(e)
        {
            return false;
        }
        while let Some(level) = levels.last_mut() {
            if level.ready.is_empty() && !out.flush() {
                // (Handed on before the next directories are read.)
                return false;
            }
            if let Some(n) = level.next(rules) {
                next = Some(n);
                break;
            }
            levels.pop();
        }
    }
    true
}

/// A directory found, to walk below.
struct Sub {
    path: PathBuf,
    /// Its member name.
    name: Vec<u8>,
    /// Its device.
    dev: u64,
    /// Only its cache tag is walked.
    only_tag: bool,
}

/// The directory found in `f` to walk below, if any.
fn subdir(f: &Result<Found>) -> Option<Sub> {
    match f {
        Ok(Found::Dir(s, below)) if *below != Below::Nothing => Some(Sub {
            path: s.fs_path.clone(),
            name: s.entry.path.clone(),
            dev: s.dev,
            only_tag: *below == Below::Tag,
        }),
        _ => None,
    }
}

/// The path of `name` in the directory at `dir`, in one allocation
/// (`Path::join` makes two for every file).
fn join(dir: &Path, name: &[u8]) -> PathBuf {
    let d = dir.as_os_str().as_bytes();
    let mut p = Vec::with_capacity(d.len() + 1 + name.len());
    p.extend_from_slice(d);
    if !d.is_empty() && !d.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    PathBuf::from(std::ffi::OsString::from_vec(p))
}

/// Member name of `child` in the directory named `parent`.
fn child_name(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut n = Vec::with_capacity(parent.len() + 1 + child.len());
    n.extend_from_slice(parent);
    n.push(b'/');
    n.extend_from_slice(child);
    n
}

/// Everything below the directory `sub`, in archive order: each entry
/// followed by what is below it, names sorted bytewise. Names are stat'ed
/// relative to the open directory, in parallel; the directory is closed
/// before its subdirectories are walked (in parallel too), so open
/// descriptors stay few whatever the tree's width.
fn walk_dir(rules: Rules, sub: &Sub, depth: usize) -> Vec<Result<Found>> {
    if depth >= PARALLEL_DEPTH {
        return walk_sequential(rules, sub);
    }
    let found = match read_and_stat(rules, sub) {
        Ok(v) => v,
        Err(e) => return vec![Err(e)],
    };
    let below: Vec<Vec<Result<Found>>> = found
        .par_iter()
        .map(|f| match subdir(f) {
            Some(s) => walk_dir(rules, &s, depth + 1),
            None => Vec::new(),
        })
        .collect();
    let mut out = Vec::with_capacity(found.len() + below.iter().map(Vec::len).sum::<usize>());
    for (f, b) in found.into_iter().zip(below) {
        out.push(f);
        out.extend(b);
    }
    out
}

/// The entries of the directory `sub` the rules keep, sorted, stat'ed in
/// parallel relative to the open directory, which is closed before
/// returning.
fn read_and_stat(rules: Rules, sub: &Sub) -> Result<Vec<Result<Found>>> {
    let path = &sub.path;
    let dir = crate::sys::Dir::open_nofollow(path).map_err(|e| unreadable_dir(path, e))?;
    let mut names = dir.names().map_err(|e| unreadable_dir(path, e))?;
    if sub.only_tag {
        names.retain(|n| n == CACHEDIR_TAG);
    }
    names.sort_unstable();
    Ok(names
        .par_iter()
        .filter_map(|n| {
            let m = child_name(&sub.name, n);
            if rules.excluded(&m) {
                return None;
            }
            let found = stat_one(Some((&dir, n)), join(path, n), m, rules.prefetch);
            rules.classify(found, Some(sub.dev))
        })
        .collect())
}

/// A directory that could not be read: gone since its parent was read
/// (GNU tar's words), or another error.
fn unreadable_dir(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return Error::changed(path, REMOVED);
    }
    Error::io("cannot read directory", path, e)
}

/// What GNU tar says of a file that was there when its directory was read
/// and gone when it was to be archived.
pub const REMOVED: &str = "File removed before we read it";

/// As [`walk_dir`], one directory at a time, depth first, for very deep
/// trees: the entries still to hand on at each level are kept, no
/// directory stays open.
fn walk_sequential(rules: Rules, top: &Sub) -> Vec<Result<Found>> {
    let mut out = Vec::new();
    let mut levels = Vec::new();
    match read_and_stat(rules, top) {
        Ok(v) => levels.push(v.into_iter()),
        Err(e) => return vec![Err(e)],
    }
    while let Some(level) = levels.last_mut() {
        let Some(f) = level.next() else {
            levels.pop();
            continue;
        };
        let sub = subdir(&f);
        out.push(f);
        if let Some(s) = sub {
            match read_and_stat(rules, &s) {
                Ok(v) => levels.push(v.into_iter()),
                Err(e) => out.push(Err(e)),
            }
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
    /// A directory, and what of it is walked.
    Dir(Box<WalkedFile>, Below),
    Socket(PathBuf),
}

/// What is walked below a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Below {
    All,
    /// Only its cache tag (`--exclude-caches`).
    Tag,
    Nothing,
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
        .map_err(|e| self.gone_or("cannot stat", e))
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
        .map_err(|e| self.gone_or("cannot read symlink", e))
    }

    /// The file's xattrs (`md` is its `lstat`); `any` tells whether it
    /// has any, if known.
    fn xattrs(
        &self,
        md: &crate::sys::Meta,
        kind: Kind,
        any: Option<bool>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let path = self.path;
        // Most files have no xattrs: asked relative to the open directory, that
        // answer costs one syscall and no walk of the whole path.
        let any = any.or_else(|| self.at.and_then(|(d, n)| d.has_xattrs(n)));
        let read = if any == Some(false) {
            Ok(Vec::new())
        } else {
            read_xattrs(path)
        };
        match read {
            Ok(x) => Ok(x),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && kind == Kind::File => {
                read_xattrs_of_unreadable(path, md)
                    .map_err(|e| self.gone_or("cannot read xattrs of", e))
            }
            Err(e) => Err(self.gone_or("cannot read xattrs of", e)),
        }
    }

    /// A file listed by its directory and gone since is reported in GNU
    /// tar's words and left out; another error is `op`'s.
    fn gone_or(&self, op: &str, e: std::io::Error) -> Error {
        if self.at.is_some() && e.kind() == std::io::ErrorKind::NotFound {
            return Error::changed(self.path, REMOVED);
        }
        Error::io(op, self.path, e)
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
/// (directory and name), else by `path`. With `prefetch`, a small regular
/// file is read ([`Prefetched`]).
fn stat_one(
    at: Option<(&crate::sys::Dir, &[u8])>,
    path: PathBuf,
    name: Vec<u8>,
    prefetch: bool,
) -> Result<Found> {
    let place = Place { at, path: &path };
    let md = place.lstat()?;
    let Some(kind) = kind_of(&md) else {
        return Ok(Found::Socket(path));
    };
    // Opened only if it is still the file stat'ed, else read (and any
    // change reported) when its frame is built.
    let file = at
        .filter(|_| prefetch && kind == Kind::File && Prefetched::wanted(md.size))
        .and_then(|(d, n)| d.open_regular_meta(n).ok())
        .filter(|(_, now)| {
            (now.dev, now.ino, now.size, now.mtime) == (md.dev, md.ino, md.size, md.mtime)
        })
        .map(|(f, _)| f);
    let mut e = Entry::new(name, kind);
    e.mode = md.mode & 0o7777;
    e.uid = u64::from(md.uid);
    e.gid = u64::from(md.gid);
    e.mtime = md.mtime;
    if kind == Kind::File {
        e.size = md.size;
        if file.is_none() {
            place.check_readable(e.size)?;
        }
    }
    if kind == Kind::Symlink {
        e.link = Some(place.read_link()?);
    }
    if kind.is_device() {
        (e.dev_major, e.dev_minor) = crate::sys::tree::major_minor(md.rdev);
    }
    let any = file.as_ref().and_then(crate::sys::has_xattrs_fd);
    let mut xattrs = place.xattrs(&md, kind, any)?;
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
        pruned: false,
        fixed: false,
        data: file.and_then(|f| Prefetched::read(&f, md.size).map(Arc::new)),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Member names as the streaming walk hands them on.
    fn streamed(base: &Path) -> Vec<Vec<u8>> {
        let select = Select::default();
        let plan = plan(base, &[PathBuf::from(".")], &select).unwrap();
        let mut names = Vec::new();
        walk_each(&plan, &mut |batch| {
            assert!(!batch.is_empty() && batch.len() <= BATCH);
            for it in batch {
                if let Item::File(s) = it {
                    names.push(s.entry.path);
                }
            }
            true
        });
        names
    }

    /// The streaming walk reads the small regular files it finds, and
    /// nothing else: not a large or empty file, a symlink, a FIFO.
    #[test]
    fn streaming_walk_reads_small_files() {
        let t = tempfile::tempdir().unwrap();
        let p = |n: &str| t.path().join(n);
        std::fs::write(p("small"), b"small file\n").unwrap();
        std::fs::write(p("limit"), vec![7u8; PREFETCH_MAX as usize]).unwrap();
        std::fs::write(p("large"), vec![8u8; PREFETCH_MAX as usize + 1]).unwrap();
        std::fs::write(p("empty"), b"").unwrap();
        std::os::unix::fs::symlink("small", p("link")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            p("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let select = Select::default();
        let plan = plan(t.path(), &[PathBuf::from(".")], &select).unwrap();
        let mut data = std::collections::BTreeMap::new();
        walk_each(&plan, &mut |batch| {
            for it in batch {
                if let Item::File(s) = it {
                    let n = String::from_utf8(s.entry.path).unwrap();
                    data.insert(n, s.data.map(|d| d.bytes().to_vec()));
                }
            }
            true
        });
        let got = |n: &str| data[&format!("./{n}")].clone();
        assert_eq!(got("small").as_deref(), Some(&b"small file\n"[..]));
        assert_eq!(got("limit").map(|d| d.len()), Some(PREFETCH_MAX as usize));
        for n in [".", "large", "empty", "link", "fifo"] {
            let key = if n == "." {
                ".".to_string()
            } else {
                format!("./{n}")
            };
            assert_eq!(data[&key], None, "{n}");
        }
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
        // A directory wider than a batch, and a chain deeper than the
        // parallel walk goes.
        std::fs::create_dir(t.path().join("w")).unwrap();
        want.push(b"./w".to_vec());
        for i in 0..BATCH + 100 {
            std::fs::write(t.path().join(format!("w/{i:04}")), b"z").unwrap();
            want.push(format!("./w/{i:04}").into_bytes());
        }
        let mut deep = String::from("./w");
        for i in 0..PARALLEL_DEPTH + 3 {
            deep.push_str(&format!("/z{i}"));
            std::fs::create_dir(t.path().join(&deep)).unwrap();
            want.push(deep.clone().into_bytes());
        }
        assert_eq!(
            streamed(t.path())
                .iter()
                .map(|n| String::from_utf8_lossy(n))
                .collect::<Vec<_>>(),
            want.iter()
                .map(|n| String::from_utf8_lossy(n))
                .collect::<Vec<_>>(),
        );
        let collected: Vec<_> = walk(t.path(), &[PathBuf::from(".")], &Select::default())
            .unwrap()
            .files
            .into_iter()
            .map(|s| s.entry.path)
            .collect();
        assert_eq!(collected, want);
    }

    /// Below the depth where the walk goes one directory at a time, it
    /// leaves out what it leaves out above it.
    #[test]
    fn deep_walk_selects_as_the_parallel_one() {
        let t = tempfile::tempdir().unwrap();
        let mut deep = t.path().to_path_buf();
        for i in 0..PARALLEL_DEPTH + 3 {
            deep.push(format!("d{i}"));
        }
        for at in [t.path().join("d0"), deep.clone()] {
            std::fs::create_dir_all(at.join("skip/below")).unwrap();
            std::fs::create_dir_all(at.join("cache/sub")).unwrap();
            std::fs::write(at.join("f.o"), b"o").unwrap();
            std::fs::write(at.join("keep"), b"k").unwrap();
            std::fs::write(at.join("cache/CACHEDIR.TAG"), CACHEDIR_SIGNATURE).unwrap();
            std::fs::write(at.join("cache/sub/x"), b"x").unwrap();
        }
        let mut select = Select {
            caches: Some(ExcludeCaches::Contents),
            ..Select::default()
        };
        for p in ["skip", "*.o"] {
            select.exclude.add(p, crate::pattern::Matching::EXCLUDE);
        }
        let names: Vec<String> = walk(t.path(), &[PathBuf::from(".")], &select)
            .unwrap()
            .files
            .into_iter()
            .map(|s| String::from_utf8(s.entry.path).unwrap())
            .collect();
        let prefix = deep.strip_prefix(t.path()).unwrap().display().to_string();
        for top in ["./d0", &format!("./{prefix}")] {
            let has = |n: &str| names.contains(&format!("{top}/{n}"));
            assert!(
                has("keep") && has("cache") && has("cache/CACHEDIR.TAG"),
                "{top}"
            );
            assert!(
                !has("skip") && !has("f.o") && !has("cache/sub"),
                "{top}: {names:?}"
            );
        }
    }

    #[test]
    fn streaming_walk_stops_when_told() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..12 {
            std::fs::create_dir_all(t.path().join(format!("d{i:02}/x"))).unwrap();
        }
        let select = Select::default();
        let plan = plan(t.path(), &[PathBuf::from(".")], &select).unwrap();
        let mut seen = 0;
        walk_each(&plan, &mut |_| {
            seen += 1;
            seen < 5
        });
        assert_eq!(seen, 5, "no batch after the one that said stop");
    }
}
