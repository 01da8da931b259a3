//! Progress of a long operation: counters the library updates, and an
//! [`Observer`] (the binary's terminal bar) that is shown them.
//!
//! The library side is [`Progress`]: a handle to a few atomic counters
//! (bytes done, the total when it is known, entries done). Updating one is
//! a relaxed atomic add, so calling it per entry or per data chunk costs
//! nothing measurable. A [`Progress::hidden`] handle has no observer.
//!
//! An observed handle runs a ticker thread that hands the observer a
//! [`Snapshot`] of the counters at most 10 times a second. It is started by
//! the first update, not when the handle is made: commands that enter a
//! user namespace must do so while the process still has a single thread
//! (see [`crate::sys::userns`]), and every command enters it before its
//! first update. A caller that knows no namespace will be entered may
//! [`Progress::start`] the ticker at once.
//!
//! Reading commands (extract, remap, diff) count the member data they
//! have processed. [`Progress::watch_archive`] finds the total for them:
//! an archive with a seek table and an entry index says how much data it
//! holds (the index is read by the ticker thread, off the command's path);
//! for any other archive file, the snapshot follows the archive's own read
//! position instead — the open file found by device and inode among the
//! process's descriptors, its offset read from `/proc/self/fdinfo` —
//! against the file's size (for a compressed archive, the compressed
//! position: the only one whose total is known before the end). A pipe
//! has neither: the snapshot then has no total.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the observer is shown the counters.
pub const TICK: Duration = Duration::from_millis(100);

const UNKNOWN: u64 = u64::MAX;

/// What a display does with an operation's progress (the binary's
/// terminal bar implements it). Its methods are called from the command's
/// thread (`start`, `finish`, `suspend`) and from the ticker thread (`draw`).
pub trait Observer: Send + Sync {
    /// The first update came: appear.
    fn start(&self);
    /// Show the counters as they are now (at most ten times a second).
    fn draw(&self, now: &Snapshot);
    /// The operation is over: disappear.
    fn finish(&self);
    /// Run `f` with the display hidden (to print a line without tearing it).
    fn suspend(&self, f: &mut dyn FnMut());
}

/// The counters at one tick, with the archive's read position standing in
/// for the bytes when that is all that is known (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Bytes done (or the archive's read position).
    pub bytes: u64,
    /// Total bytes, if known (or the archive's size).
    pub total_bytes: Option<u64>,
    /// Entries done.
    pub entries: u64,
    /// Total entries, if known.
    pub total_entries: Option<u64>,
}

/// A handle to the counters of one operation (cheap to clone).
#[derive(Clone)]
pub struct Progress {
    counters: Arc<Counters>,
    display: Option<Arc<Display>>,
}

struct Counters {
    bytes: AtomicU64,
    total_bytes: AtomicU64,
    entries: AtomicU64,
    total_entries: AtomicU64,
    started: AtomicBool,
    stop: AtomicBool,
}

/// The observer and what the ticker thread needs besides the counters.
struct Display {
    observer: Box<dyn Observer>,
    archive: Mutex<Option<Watched>>,
    ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("bytes", &self.bytes())
            .field("total_bytes", &self.total_bytes())
            .field("entries", &self.entries())
            .field("displayed", &self.display.is_some())
            .finish()
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::hidden()
    }
}

fn known(v: u64) -> Option<u64> {
    Some(v).filter(|&t| t != UNKNOWN)
}

impl Progress {
    /// Counters only, shown nowhere.
    pub fn hidden() -> Progress {
        Progress {
            counters: Arc::new(Counters {
                bytes: AtomicU64::new(0),
                total_bytes: AtomicU64::new(UNKNOWN),
                entries: AtomicU64::new(0),
                total_entries: AtomicU64::new(UNKNOWN),
                started: AtomicBool::new(false),
                stop: AtomicBool::new(false),
            }),
            display: None,
        }
    }

    /// Counters shown to `observer` once started.
    pub fn observed(observer: Box<dyn Observer>) -> Progress {
        let mut p = Progress::hidden();
        p.display = Some(Arc::new(Display {
            observer,
            archive: Mutex::new(None),
            ticker: Mutex::new(None),
        }));
        p
    }

    /// True when something is shown.
    pub fn is_displayed(&self) -> bool {
        self.display.is_some()
    }

    /// Find the total for a reading command: from `archive`'s index when
    /// `whole` (the whole archive is processed: no member patterns) and it
    /// has one, else by its read position against its size (`-`: standard
    /// input, when it is a file). See the module documentation.
    pub fn watch_archive(&self, archive: &Path, whole: bool) {
        if let Some(d) = &self.display {
            *lock(&d.archive) = Watched::new(archive).map(|mut w| {
                w.use_index = whole && archive != Path::new("-");
                w.path = archive.to_path_buf();
                w
            });
        }
    }

    /// The totals, when they are known (create knows them after its walk).
    pub fn set_total(&self, bytes: u64, entries: u64) {
        self.counters.total_bytes.store(bytes, Relaxed);
        self.counters.total_entries.store(entries, Relaxed);
        self.start();
    }

    /// `n` more bytes done.
    #[inline]
    pub fn add_bytes(&self, n: u64) {
        self.counters.bytes.fetch_add(n, Relaxed);
        self.ensure_started();
    }

    /// One more entry done.
    #[inline]
    pub fn add_entry(&self) {
        self.counters.entries.fetch_add(1, Relaxed);
        self.ensure_started();
    }

    /// Bytes done so far.
    pub fn bytes(&self) -> u64 {
        self.counters.bytes.load(Relaxed)
    }

    /// Total bytes, if known.
    pub fn total_bytes(&self) -> Option<u64> {
        known(self.counters.total_bytes.load(Relaxed))
    }

    /// Entries done so far.
    pub fn entries(&self) -> u64 {
        self.counters.entries.load(Relaxed)
    }

    /// Total entries, if known.
    pub fn total_entries(&self) -> Option<u64> {
        known(self.counters.total_entries.load(Relaxed))
    }

    #[inline]
    fn ensure_started(&self) {
        if self.display.is_some() && !self.counters.started.load(Relaxed) {
            self.start();
        }
    }

    /// Start the display's ticker thread now (it is otherwise started by
    /// the first update). Only call this when the operation will not enter
    /// a user namespace. Does nothing for a hidden handle.
    pub fn start(&self) {
        let Some(d) = &self.display else { return };
        if self.counters.started.swap(true, Relaxed) {
            return;
        }
        d.observer.start();
        let (c, d2) = (Arc::clone(&self.counters), Arc::clone(d));
        let spawned = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                while !c.stop.load(Relaxed) {
                    d2.observer.draw(&d2.snapshot(&c));
                    std::thread::sleep(TICK);
                }
            });
        if let Ok(h) = spawned {
            *lock(&d.ticker) = Some(h);
        }
    }

    /// Stop the display and erase it (call before printing the outcome).
    pub fn finish(&self) {
        self.counters.stop.store(true, Relaxed);
        if let Some(d) = &self.display {
            if let Some(h) = lock(&d.ticker).take() {
                let _ = h.join();
            }
            d.observer.finish();
        }
    }

    /// Run `f` with the display hidden (to print a line without tearing it).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let Some(d) = &self.display else { return f() };
        let (mut f, mut out) = (Some(f), None);
        d.observer.suspend(&mut || {
            if let Some(f) = f.take() {
                out = Some(f());
            }
        });
        // An observer that did not run it: run it here.
        out.unwrap_or_else(|| f.take().map(|f| f()).expect("run once"))
    }
}

impl Display {
    /// The counters now, the archive's index or read position filling in
    /// a total that is not known (the ticker thread's job).
    fn snapshot(&self, c: &Counters) -> Snapshot {
        let mut bytes = c.bytes.load(Relaxed);
        let mut total = known(c.total_bytes.load(Relaxed));
        if let Some(w) = lock(&self.archive).as_mut() {
            if !w.probed {
                w.probed = true;
                if let Some((b, n)) = w.index_totals() {
                    c.total_bytes.store(b, Relaxed);
                    c.total_entries.store(n, Relaxed);
                    total = Some(b);
                }
            }
            // Seekable archives are read with positional reads: their
            // offset does not move; without an index they get no total.
            if total.is_none()
                && !w.seekable
                && let Some((pos, size)) = w.position()
            {
                (bytes, total) = (pos, Some(size));
            }
        }
        Snapshot {
            bytes,
            total_bytes: total,
            entries: c.entries.load(Relaxed),
            total_entries: known(c.total_entries.load(Relaxed)),
        }
    }
}

/// An open archive whose read position we follow.
struct Watched {
    dev: u64,
    ino: u64,
    size: u64,
    /// The descriptor that had it open when last looked.
    fd: Option<PathBuf>,
    /// Looked for and not found this many times.
    misses: u32,
    /// The last position seen (kept once the file is closed).
    last: Option<u64>,
    /// The archive, to read its index from.
    path: PathBuf,
    /// Take the totals from the index, if there is one.
    use_index: bool,
    /// The index has been looked for.
    probed: bool,
    /// A zstd archive with a seek table (read with positional reads).
    seekable: bool,
}

impl Watched {
    fn new(archive: &Path) -> Option<Watched> {
        let md = if archive == Path::new("-") {
            std::fs::metadata("/proc/self/fd/0").ok()?
        } else {
            std::fs::metadata(archive).ok()?
        };
        md.is_file().then(|| Watched {
            dev: md.dev(),
            ino: md.ino(),
            size: md.len(),
            fd: None,
            misses: 0,
            last: None,
            path: archive.to_path_buf(),
            use_index: false,
            probed: false,
            seekable: false,
        })
    }

    /// (data bytes, entries) from the archive's index, if it has one.
    /// Marks a seekable archive as such either way.
    fn index_totals(&mut self) -> Option<(u64, u64)> {
        if self.path == Path::new("-") {
            return None;
        }
        let f = std::fs::File::open(&self.path).ok()?;
        let s = crate::frame::read::Seekable::probe(f)?;
        self.seekable = true;
        if !self.use_index {
            return None;
        }
        let mut index = s.index_reader()?;
        let mut e = crate::entry::Entry::new(Vec::new(), crate::entry::Kind::File);
        let mut bytes = 0;
        while let Ok(Some(_)) = index.next_into(&mut e) {
            if e.kind == crate::entry::Kind::File {
                bytes += e.size;
            }
        }
        Some((bytes, index.len() as u64))
    }

    /// (read position, size), or None when the file is not (or no longer) open.
    fn position(&mut self) -> Option<(u64, u64)> {
        if let Some(fd) = &self.fd
            && let Some(p) = self.pos_of(fd)
        {
            self.last = Some(p);
            return Some((p, self.size));
        }
        self.fd = None;
        if self.misses > 50 {
            return self.last.map(|p| (p, self.size));
        }
        for e in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
            let fd = e.path();
            if let Some(p) = self.pos_of(&fd) {
                self.fd = Some(fd);
                self.last = Some(p);
                return Some((p, self.size));
            }
        }
        self.misses += 1;
        self.last.map(|p| (p, self.size))
    }

    /// The offset of `/proc/self/fd/N`, if it is our file.
    fn pos_of(&self, fd: &Path) -> Option<u64> {
        let md = std::fs::metadata(fd).ok()?;
        if md.dev() != self.dev || md.ino() != self.ino {
            return None;
        }
        let n = fd.file_name()?;
        let info = std::fs::read_to_string(Path::new("/proc/self/fdinfo").join(n)).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("pos:"))
            .and_then(|v| v.trim().parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_counts_and_starts_nothing() {
        let p = Progress::hidden();
        p.set_total(10, 2);
        p.add_bytes(4);
        p.add_entry();
        assert_eq!(
            (p.bytes(), p.total_bytes(), p.entries(), p.total_entries()),
            (4, Some(10), 1, Some(2))
        );
        assert!(!p.counters.started.load(Relaxed));
        p.finish();
    }

    #[test]
    fn watches_an_open_file_position() {
        use std::io::{Read, Seek, SeekFrom};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, vec![7u8; 10_000]).unwrap();
        let mut w = Watched::new(&path).unwrap();
        assert_eq!(w.position(), None, "not open yet");
        w.misses = 0;
        let mut f = std::fs::File::open(&path).unwrap();
        f.seek(SeekFrom::Start(4096)).unwrap();
        assert_eq!(w.position(), Some((4096, 10_000)));
        let mut b = [0u8; 100];
        f.read_exact(&mut b).unwrap();
        assert_eq!(w.position(), Some((4196, 10_000)));
    }

    /// Records what it is told.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Observer for Arc<Log> {
        fn start(&self) {
            lock(&self.0).push("start".into());
        }
        fn draw(&self, now: &Snapshot) {
            lock(&self.0).push(format!("draw {now:?}"));
        }
        fn finish(&self) {
            lock(&self.0).push("finish".into());
        }
        fn suspend(&self, f: &mut dyn FnMut()) {
            lock(&self.0).push("suspend".into());
            f();
        }
    }

    #[test]
    fn observer_is_started_by_the_first_update_and_shown_the_counters() {
        let log = Arc::new(Log::default());
        let p = Progress::observed(Box::new(Arc::clone(&log)));
        assert!(lock(&log.0).is_empty(), "nothing before the first update");
        p.add_entry();
        p.set_total(100, 1);
        p.add_bytes(50);
        let now = p.display.as_ref().unwrap().snapshot(&p.counters);
        let want = Snapshot {
            bytes: 50,
            total_bytes: Some(100),
            entries: 1,
            total_entries: Some(1),
        };
        assert_eq!(now, want);
        assert_eq!(p.suspend(|| 7), 7);
        p.finish();
        assert!(p.counters.stop.load(Relaxed));
        let log = lock(&log.0);
        assert_eq!(log.first().map(String::as_str), Some("start"));
        assert_eq!(log.last().map(String::as_str), Some("finish"));
        assert_eq!(log.iter().filter(|l| *l == "start").count(), 1);
        assert!(log.iter().any(|l| l == "suspend"));
    }
}
