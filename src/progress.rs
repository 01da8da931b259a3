//! Progress of a long operation: counters the library updates, and a
//! terminal display (an [`indicatif`] bar on stderr) that reads them.
//!
//! The library side is [`Progress`]: a handle to a few atomic counters
//! (bytes done, the total when it is known, entries done). Updating one is
//! a relaxed atomic add, so calling it per entry or per data chunk costs
//! nothing measurable. A [`Progress::hidden`] handle has no display at all.
//!
//! The display side runs on a ticker thread that redraws at most 10 times
//! a second. It is started by the first update, not when the handle is
//! made: commands that enter a user namespace must do so while the process
//! still has a single thread (see [`crate::sys::userns`]), and every
//! command enters it before its first update. A caller that knows no
//! namespace will be entered may [`Progress::start`] the ticker at once.
//!
//! Reading commands (extract, remap, diff) count the member data they
//! have processed. [`Progress::watch_archive`] finds the total for them:
//! an archive with a seek table and an entry index says how much data it
//! holds (the index is read by the ticker thread, off the command's path);
//! for any other archive file, the bar follows the archive's own read
//! position instead — the open file found by device and inode among the
//! process's descriptors, its offset read from `/proc/self/fdinfo` —
//! against the file's size (for a compressed archive, the compressed
//! position: the only one whose total is known before the end). A pipe
//! has neither: the display is then a spinner with the bytes and entries
//! done.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the display is redrawn.
pub const TICK: Duration = Duration::from_millis(100);

const UNKNOWN: u64 = u64::MAX;

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

struct Display {
    bar: ProgressBar,
    /// Where the bar goes once started (hidden until then).
    target: Mutex<Option<ProgressDrawTarget>>,
    archive: Mutex<Option<Watched>>,
    ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
    is_bar: AtomicBool,
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

impl Counters {
    fn entries_text(&self) -> String {
        let n = self.entries.load(Relaxed);
        match known(self.total_entries.load(Relaxed)) {
            Some(t) => format!("{n}/{t} entries"),
            None => format!("{n} entries"),
        }
    }
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

    /// A bar on stderr, if stderr is a terminal (else [`Progress::hidden`]).
    /// `verb` names the operation in the bar ("creating", "extracting"...).
    pub fn stderr(verb: &'static str) -> Progress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        Progress::on(ProgressDrawTarget::stderr_with_hz(10), verb)
    }

    /// A bar drawn to `target` once started (for tests and embedding).
    pub fn on(target: ProgressDrawTarget, verb: &'static str) -> Progress {
        let mut p = Progress::hidden();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(spinner_style(&p.counters));
        bar.set_prefix(verb);
        p.display = Some(Arc::new(Display {
            bar,
            target: Mutex::new(Some(target)),
            archive: Mutex::new(None),
            ticker: Mutex::new(None),
            is_bar: AtomicBool::new(false),
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
        if let Some(t) = lock(&d.target).take() {
            d.bar.set_draw_target(t);
        }
        let (c, d2) = (Arc::clone(&self.counters), Arc::clone(d));
        let spawned = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                while !c.stop.load(Relaxed) {
                    d2.draw(&c);
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
            d.bar.finish_and_clear();
        }
    }

    /// Run `f` with the bar hidden (to print a line without tearing it).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.display {
            Some(d) => d.bar.suspend(f),
            None => f(),
        }
    }
}

impl Display {
    /// Redraw from the counters (the ticker thread's job): one draw.
    fn draw(&self, c: &Arc<Counters>) {
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
            // offset does not move; without an index they get a spinner.
            if total.is_none()
                && !w.seekable
                && let Some((pos, size)) = w.position()
            {
                (bytes, total) = (pos, Some(size));
            }
        }
        if total.is_some() && !self.is_bar.swap(true, Relaxed) {
            self.bar.set_style(bar_style(c));
        }
        self.bar.update(|s| {
            if let Some(t) = total {
                s.set_len(t);
                s.set_pos(bytes.min(t));
            } else {
                s.set_pos(bytes);
            }
        });
    }
}

fn entries_key(
    c: &Arc<Counters>,
) -> impl Fn(&indicatif::ProgressState, &mut dyn fmt::Write) + Clone + Send + Sync + 'static {
    let c = Arc::clone(c);
    move |_: &indicatif::ProgressState, w: &mut dyn fmt::Write| {
        let _ = w.write_str(&c.entries_text());
    }
}

fn bar_style(c: &Arc<Counters>) -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {entries}",
    )
    .expect("valid template")
    .with_key("entries", entries_key(c))
    .progress_chars("=> ")
}

fn spinner_style(c: &Arc<Counters>) -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {prefix} {binary_bytes} {binary_bytes_per_sec} {entries}, {elapsed}",
    )
    .expect("valid template")
    .with_key("entries", entries_key(c))
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
        let index = s.index()?;
        let bytes = index
            .iter()
            .filter(|i| i.entry.kind == crate::entry::Kind::File)
            .map(|i| i.entry.size)
            .sum();
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

    #[test]
    fn draws_to_a_hidden_target_without_panicking() {
        let p = Progress::on(ProgressDrawTarget::hidden(), "testing");
        p.add_entry();
        p.set_total(100, 1);
        p.add_bytes(50);
        p.display.as_ref().unwrap().draw(&p.counters);
        p.finish();
        assert!(p.counters.stop.load(Relaxed));
    }
}
