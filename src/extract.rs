//! `extract`: archive → tree.
//!
//! Each entry's context IDs are turned into host IDs through the map chosen
//! for its label (or the `--map`/`--context` override), then an owner sink
//! applies them. Every name is resolved one component at a time under the
//! destination's directory handle with `O_NOFOLLOW` ([`crate::sys`]), so no
//! member — absolute, with `..`, or behind a symlink an earlier member made —
//! lands outside the destination. Regular files, symlinks, devices and hard
//! links are made under a temporary name and renamed into place: an error or
//! a kill never leaves a truncated file under its final name. Directory
//! metadata is applied last, deepest first.
//!
//! ## New subtrees under a temporary name
//! A directory the run makes where the destination had nothing — the top of
//! a new subtree — is made as `.alientar-PID-new-N` and renamed to its own
//! name when the workers are idle: before an entry whose
//! order matters (a name changing between directory and non-directory) and
//! at the end, before hard links and directory metadata. Files inside such
//! a subtree are created under their own names (`O_CREAT | O_EXCL`): no
//! name a user relies on can show them half written, and ext4 creates a
//! named file for less than an unnamed one linked in later (no orphan-list
//! insertion and removal, one system call and one journal handle fewer: a
//! sixth less wall time for 32 000 small files). Files in directories that
//! existed before are unnamed (`O_TMPFILE`) until complete. A killed run
//! leaves its new subtrees under their temporary names; the next extraction
//! into the same place removes them.
//!
//! ## Parallel work
//! One thread reads the archive (a seekable zstd archive is decompressed
//! frame-parallel underneath, see [`crate::frame::read`]), checks names,
//! translates owners and hands each entry with its data to a worker, while
//! file creation, writes and metadata syscalls run on several threads. A
//! directory entry goes to the worker its name picks; other entries go by
//! their parent directory, in runs of 256 siblings over two workers at
//! most. So a small directory is opened by one worker, not by each, and
//! workers mostly create files in different directories: ext4 creates a
//! directory's entries one at a time under the directory's lock (32 000
//! files in one directory took 1.34–1.37 s of CPU on four workers,
//! 1.04–1.16 s on one). The worker queues are deep enough (16 batches)
//! for the reader to reach the next directories while one worker is busy
//! with a big one. A name that was handed out before waits for the workers
//! first, so every entry of the same name is applied in archive order (the
//! last one wins).
//! A worker creates missing parent directories itself (the directory's own
//! entry may be on another worker; its metadata is applied at the end
//! anyway). Hard links wait until every worker is done (their targets must
//! exist), then run in archive order; directory metadata comes last, one
//! depth at a time over one thread per core.
//!
//! Entries travel to a worker in batches. From a seekable archive a small
//! file's data is not copied: the batch holds a share of the decompressed
//! frame ([`crate::frame::read::Shared`]) and the worker writes from there;
//! a batch is sent before it would hold a second frame, so queued batches
//! keep few frames in memory. A big file's pieces are shares of frames
//! too, at most four queued at a time. Other data is copied into the
//! batch's buffer.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use std::os::unix::fs::FileExt;

use crossbeam_channel::{Receiver, Sender, bounded};

use rustix::fs::FileType;

use crate::context::Registry;
use crate::entry::{Entry, Kind, LABEL_XATTR};
use crate::error::{Error, Result};
use crate::frame::BufferPool;
use crate::member::{is_joined, join, safe_components, split};
use crate::ondisk::OVERRIDE_XATTR;
use crate::ownership::OwnerOptions;
use crate::ownership::{MapChooser, namespace_maps, namespace_origin};
use crate::report::Report;
use crate::sink::{Applied, Devices, Sink};
use crate::sys::{self, Dir};
use crate::tar::Reader;
use crate::tar::read::Chunk;
use crate::translate::{Direction, translate};

/// How owners land on disk (see [`crate::sink`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owners {
    /// `chown` when privileged; else `userns` when `newuidmap` exists and
    /// the user's subordinate ranges cover the map; else an error at the
    /// first entry that needs a foreign owner, naming the sinks that work.
    Auto,
    /// Real owners with `fchownat` (root or `CAP_CHOWN`).
    Chown,
    /// Real owners inside a user namespace built with `newuidmap`.
    Userns,
    /// Owned by the user; true owners in `user.containers.override_stat`.
    Xattr,
    /// Owned by the user; true owners in an mtree spec written to this file.
    Manifest(PathBuf),
    /// Owners dropped, like `tar --no-same-owner`; setuid/setgid bits are dropped with them.
    None,
}

/// What to extract.
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// The archive (`-` for stdin).
    pub archive: PathBuf,
    /// `-C`: the destination directory (must exist).
    pub dest: PathBuf,
    /// Member patterns; empty extracts everything.
    pub patterns: Vec<Vec<u8>>,
    /// Ownership options.
    pub owners: OwnerOptions,
    /// The owner sink.
    pub sink: Owners,
    /// What to do with names that exist (`--keep-old-files`,
    /// `--skip-old-files`, `--overwrite`).
    pub old_files: crate::gnu::OldFiles,
    /// `--transform`: member names and link targets renamed on the way to
    /// disk (patterns match the names as stored).
    pub transform: Option<crate::transform::Transform>,
    /// `--no-same-permissions`: modes lose setuid, setgid, sticky and the
    /// bits of the umask (by default they are applied exactly).
    pub apply_umask: bool,
}

/// Files up to this size travel to a worker in one piece; larger ones are
/// written in pieces of [`BIG_CHUNK`] by all the workers ([`BigFile`]).
const CHUNK: usize = 256 << 10;
const BIG_CHUNK: u64 = 1 << 20;

/// Siblings in a row handed to one worker, and the workers a directory's
/// files are spread over (see `extract`).
const RUN: usize = 256;
const SPREAD: usize = 2;

/// Batches queued per worker: deep enough that, while one worker creates a
/// directory's files, the reader hands the next directories to the others.
const QUEUE: usize = 16;

/// Big files' pieces queued at a time, over all workers: they keep the
/// large-file extraction's memory at a few frames and pieces.
const PIECES_IN_FLIGHT: usize = 4;

/// xattrs to set on a file, as a sink gives them.
type Xattrs = Vec<(String, Vec<u8>)>;

/// An entry's data as a worker receives it.
enum Data {
    None,
    /// `len` bytes at `at` in its batch's data.
    At(usize, usize),
    /// Bytes of a decompressed frame, not copied.
    Shared(crate::frame::read::Shared),
}

/// Jobs for one worker, and the file data of their entries.
#[derive(Default)]
struct Batch {
    jobs: Vec<Job>,
    /// Its entries' data in `data[..used]`; the rest of `data` is room.
    data: Vec<u8>,
    used: usize,
    /// Data and names, to send the batch when it reaches 1 MiB.
    weight: usize,
    /// The frame its `Data::Shared` entries lie in (one at most).
    frame: Option<crate::frame::read::Shared>,
}

/// A batch is sent when its data and names reach this many bytes.
const BATCH_BYTES: usize = 1 << 20;

/// A big file's bytes for one write.
enum Piece {
    /// `buf[..len]`, copied out of the archive.
    Copied(Vec<u8>, usize),
    /// Bytes of a decompressed frame, not copied.
    Shared(crate::frame::read::Shared),
}

/// A buffer for a batch's file data or a big file's piece: the data of the
/// batches the workers are done with, given back to a shared pool, so a
/// file's bytes go into memory already mapped instead of an allocation of
/// their own that another thread frees. Room for a full batch (its last
/// file, at most [`CHUNK`], may take it past [`BATCH_BYTES`]), so a buffer
/// never moves once made. Its length is how far it was ever filled, all
/// initialized (zeros, or an earlier batch's bytes): data is read into it
/// without zero-filling it each time, and only the pages used are touched.
fn data_buffer(pool: &BufferPool) -> Vec<u8> {
    let mut v = pool.take_as_given();
    v.reserve_exact((BATCH_BYTES + CHUNK).saturating_sub(v.len()));
    v
}

/// `v[at..at + len]`, zero-filling only what `v` never held before.
fn room(v: &mut Vec<u8>, at: usize, len: usize) -> &mut [u8] {
    if at + len > v.len() {
        v.resize(at + len, 0);
    }
    &mut v[at..at + len]
}

/// A file larger than [`CHUNK`]: created by the reading thread, its data
/// written at offsets by whichever workers get its pieces, given its
/// metadata and name by the worker that writes the last piece.
struct BigFile {
    file: std::fs::File,
    born: Born,
    dir: Arc<Dir>,
    tmp: Vec<u8>,
    name: Vec<u8>,
    path: String,
    ctx: Entry,
    host: Entry,
    /// The xattrs the sink gives it (set when it is sealed).
    xattrs: Xattrs,
    label: bool,
    seq: u64,
    /// Bytes still to be written, plus one held by the reader until every
    /// piece is sent: whoever brings it to zero seals the file.
    left: std::sync::atomic::AtomicU64,
    failed: std::sync::Mutex<Option<Error>>,
}

impl BigFile {
    fn fail(&self, e: Error) {
        let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(e);
        }
    }
}

/// What a worker is handed.
enum Job {
    Entry(Box<Task>),
    /// A big file's bytes, to write at the offset.
    Piece(Arc<BigFile>, u64, Piece),
    /// Answer when everything before this is done.
    Barrier(Sender<()>),
}

/// The error when a worker's queue is closed (the worker ended early).
fn worker_gone() -> Error {
    Error::io_nopath("extraction worker stopped", io::Error::other("worker gone"))
}

/// Hand out every pending batch, then wait until all workers have done all
/// they were given. False when a worker is gone.
fn sync_workers(txs: &[Sender<Batch>], batches: &mut [Batch]) -> bool {
    for (w, b) in batches.iter_mut().enumerate() {
        if !b.jobs.is_empty() && txs[w].send(std::mem::take(b)).is_err() {
            return false;
        }
    }
    let (tx, rx) = bounded(txs.len());
    for t in txs {
        let barrier = Batch {
            jobs: vec![Job::Barrier(tx.clone())],
            ..Batch::default()
        };
        if t.send(barrier).is_err() {
            return false;
        }
    }
    (0..txs.len()).all(|_| rx.recv().is_ok())
}

/// One entry for a worker.
struct Task {
    seq: u64,
    key: Vec<u8>,
    ctx: Entry,
    /// The host view when it differs from `ctx` (a map applied).
    host: Option<Entry>,
    label: bool,
    data: Data,
}

/// A directory whose metadata is applied at the end: (seq, name, context
/// view, host view, label wanted).
type Deferred = (u64, Vec<u8>, Entry, Entry, bool);
/// Per directory, its symlinks not owned by 0:0: (name, uid, gid).
type SymlinkOwners = BTreeMap<Vec<u8>, Vec<(Vec<u8>, u32, u32)>>;

/// What a worker leaves behind for the final phases.
#[derive(Default)]
struct Leftovers {
    deferred: Vec<Deferred>,
    symlink_owners: SymlinkOwners,
    warnings: BTreeMap<String, u64>,
    owner_failures: OwnerFailures,
    errors: Vec<(u64, Error)>,
    /// Errors not kept (beyond [`MAX_ERRORS`]).
    dropped: u64,
    /// Entries applied.
    done: u64,
    deferred_bytes: usize,
}

impl Leftovers {
    /// Take in what another worker left.
    fn absorb(&mut self, l: Leftovers) {
        self.deferred.extend(l.deferred);
        for (k, v) in l.symlink_owners {
            self.symlink_owners.entry(k).or_default().extend(v);
        }
        for (k, v) in l.warnings {
            *self.warnings.entry(k).or_insert(0) += v;
        }
        for (cause, f) in l.owner_failures {
            self.owner_failures.entry(cause).or_default().absorb(f);
        }
        self.errors.extend(l.errors);
        self.dropped += l.dropped;
        self.done += l.done;
    }

    fn error(&mut self, seq: u64, e: Error) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push((seq, e));
        } else {
            self.dropped += 1;
        }
    }
}

/// Owner changes refused, by cause (an OS error number): reported once per
/// cause, with a count and the first entry, instead of once per entry.
type OwnerFailures = BTreeMap<i32, OwnerFailure>;

/// The owner changes refused for one cause.
#[derive(Default)]
struct OwnerFailure {
    count: u64,
    /// The first entry in archive order: its seq, path and owner.
    first: Option<(u64, String, (u32, u32))>,
}

impl OwnerFailure {
    fn absorb(&mut self, o: OwnerFailure) {
        self.count += o.count;
        if let Some(f) = o.first {
            self.note(f);
        }
    }

    fn note(&mut self, f: (u64, String, (u32, u32))) {
        if self.first.as_ref().is_none_or(|x| f.0 < x.0) {
            self.first = Some(f);
        }
    }
}

/// The report of refused owner changes: an error per cause, and one
/// warning that says what became of those entries.
fn owner_failure_report(failures: OwnerFailures, report: &mut Report) {
    for (cause, f) in &failures {
        let Some((_, path, (u, g))) = &f.first else {
            continue;
        };
        let what = if f.count == 1 {
            format!("cannot change the owner of {path} to {u}:{g}")
        } else {
            format!(
                "cannot change the owner of {} entries (first: {path}, to {u}:{g})",
                f.count
            )
        };
        report
            .errors
            .push(Error::io_nopath(what, io::Error::from_raw_os_error(*cause)));
    }
    if !failures.is_empty() {
        report.warnings.push(
            "entries whose owner could not be changed are written owned by you, without setuid/setgid bits; \
             --owners xattr or --owners manifest=FILE record the owners instead"
                .into(),
        );
    }
}

/// Per-entry errors kept for the report (per worker); the rest are counted.
const MAX_ERRORS: usize = 1000;
/// Bytes of directory names held for their deferred metadata, per worker.
const MAX_DEFERRED: usize = 32 << 20;

/// Directories (as keys) no worker needs to sweep again.
type Swept = Arc<std::sync::Mutex<std::collections::HashSet<Vec<u8>>>>;

/// New subtrees made under temporary names (see the module documentation),
/// shared by the workers: by the hash of the name each will get, that name
/// (as a key) and its temporary name in the same parent. No entry is inside
/// another, since only a directory whose parent is not new is staged.
#[derive(Clone)]
struct Staging(Arc<StagingInner>);

/// Hash of a key → the key and its temporary name.
type StagedNames = HashMap<u64, (Vec<u8>, Vec<u8>)>;

struct StagingInner {
    names: std::sync::Mutex<StagedNames>,
    hash: NameHash,
    /// Advanced by each [`Staging::publish`]: a worker's cached "inside a
    /// new subtree" holds only for the epoch it was found in.
    epoch: std::sync::atomic::AtomicU64,
    counter: std::sync::atomic::AtomicU64,
}

impl Staging {
    fn new() -> Staging {
        Staging(Arc::new(StagingInner {
            names: std::sync::Mutex::default(),
            hash: NameHash::new(),
            epoch: std::sync::atomic::AtomicU64::new(0),
            counter: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    fn names(&self) -> std::sync::MutexGuard<'_, StagedNames> {
        self.0.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn epoch(&self) -> u64 {
        self.0.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The first component of `comps` that is a staged directory: its index
    /// and temporary name. (Prefixes are hashed in one pass: paths thousands
    /// of components deep cost their length.)
    fn find(&self, comps: &[&[u8]]) -> Option<(usize, Vec<u8>)> {
        let names = self.names();
        if names.is_empty() {
            return None;
        }
        let mut h = self.0.hash.0;
        for (i, c) in comps.iter().enumerate() {
            if i > 0 {
                h = NameHash::step(h, b'/');
            }
            h = c.iter().fold(h, |h, &b| NameHash::step(h, b));
            if let Some((key, t)) = names.get(&h)
                && is_joined(key, &comps[..=i])
            {
                return Some((i, t.clone()));
            }
        }
        None
    }

    /// Make the directory `comps` (whose parent, `base`, is not new) under
    /// a temporary name, or find the one made already. `None` when
    /// something stands under its name: the caller deals with that.
    fn stage(&self, base: &Dir, comps: &[&[u8]], mode: u32) -> io::Result<Option<Vec<u8>>> {
        let key = join(comps);
        let h = self.0.hash.of(&key);
        let mut names = self.names();
        match names.get(&h) {
            Some((k, t)) if *k == key => return Ok(Some(t.clone())),
            // Another name of the same hash (odds 2^-64): not staged.
            Some(_) => return Ok(None),
            None => {}
        }
        let name = comps[comps.len() - 1];
        if base.lstat(name).is_ok() {
            return Ok(None);
        }
        let n = self
            .0
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = format!(".alientar-{}-new-{n}", std::process::id()).into_bytes();
        base.mkdir(&t, mode)?;
        names.insert(h, (key, t.clone()));
        Ok(Some(t))
    }

    /// Rename every staged directory to its own name. Only while no worker
    /// runs (they may hold the temporary names). Errors name the path.
    fn publish(&self, root: &Dir) -> Vec<Error> {
        let staged = std::mem::take(&mut *self.names());
        if staged.is_empty() {
            return Vec::new();
        }
        self.0
            .epoch
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let mut errors = Vec::new();
        for (_, (key, tmp)) in staged {
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

/// What a file being given its metadata already has, so that
/// [`Worker::apply_fd_with`] leaves that alone.
#[derive(Clone, Copy)]
enum Has {
    /// Nothing known: owner and mode are both set.
    Nothing,
    /// Just created with its final mode: the owner is set only if the file
    /// was not born with it.
    FinalMode,
    /// What fstat says (a directory at the end of the run: most were made
    /// by this run with the right owner, and a `chown` to the same owner
    /// still costs ext4 a journaled inode update).
    Stat(sys::Meta),
}

/// A temporary name, `.alientar-PID-WORKER-N`: on the stack, since every
/// entry gets one and most never use it (an unnamed file needs none).
struct TmpName {
    buf: [u8; TmpName::MAX],
    len: usize,
}

impl TmpName {
    /// `.alientar-` and three decimal integers (u32, usize, u64) with dashes.
    const MAX: usize = 64;
}

impl std::ops::Deref for TmpName {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A worker's last parent directory.
struct Cached {
    key: Vec<u8>,
    dir: Arc<Dir>,
    setgid: bool,
    /// The [`Staging`] epoch in which it was found inside a new subtree.
    fresh: Option<u64>,
}

/// A worker's state: its own handle on the destination and a cache of the
/// last parent directory it resolved.
struct Worker {
    id: usize,
    pid: u32,
    umask: u32,
    root: Dir,
    sink: Arc<dyn Sink>,
    /// The last parent directory resolved.
    cache: Option<Cached>,
    /// New subtrees under temporary names, shared by all workers.
    staging: Staging,
    /// Effective uid and gid: a file we create is born with them.
    creds: (u32, u32),
    /// Directories swept of stale temporaries, or made by this run (which
    /// holds none), shared by all workers.
    swept: Swept,
    /// Where batch data buffers go back when done.
    buffers: BufferPool,
    /// Big files' pieces in flight, one message each (see `extract`).
    slots: Receiver<()>,
    tmp_counter: u64,
    /// The entry being applied (its seq), for records naming the first.
    seq: u64,
    /// `--overwrite`: existing regular files are written in place.
    overwrite: bool,
    left: Leftovers,
}

impl Worker {
    fn tmp_name(&mut self) -> TmpName {
        self.tmp_counter += 1;
        let mut t = TmpName {
            buf: [0; TmpName::MAX],
            len: 0,
        };
        let mut w = &mut t.buf[..];
        write!(w, ".alientar-{}-{}-{}", self.pid, self.id, self.tmp_counter)
            .expect("three integers fit");
        t.len = TmpName::MAX - w.len();
        t
    }

    fn warn_n(&mut self, what: &str, n: u64) {
        *self.left.warnings.entry(what.to_string()).or_insert(0) += n;
    }

    fn warn(&mut self, what: impl Into<String>) {
        *self.left.warnings.entry(what.into()).or_insert(0) += 1;
    }

    fn run(mut self, rx: Receiver<Batch>) -> Leftovers {
        for Batch { jobs, data, .. } in rx {
            for job in jobs {
                match job {
                    Job::Entry(t) => {
                        let t = *t;
                        let comps = split(&t.key);
                        let a = Applied {
                            ctx: &t.ctx,
                            host: t.host.as_ref().unwrap_or(&t.ctx),
                        };
                        let bytes = match &t.data {
                            Data::None => &[][..],
                            Data::At(at, len) => &data[*at..at + len],
                            Data::Shared(s) => &s[..],
                        };
                        match self.extract_entry(bytes, &t.key, &comps, &a, t.label, t.seq) {
                            Ok(()) => self.left.done += 1,
                            Err(e) => self.left.error(t.seq, e),
                        }
                    }
                    Job::Barrier(done) => {
                        let _ = done.send(());
                    }
                    Job::Piece(big, offset, piece) => {
                        let bytes = match &piece {
                            Piece::Copied(buf, len) => &buf[..*len],
                            Piece::Shared(s) => &s[..],
                        };
                        let ok = big
                            .failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .is_none();
                        if ok && let Err(x) = big.file.write_all_at(bytes, offset) {
                            big.fail(Error::io("cannot write", &big.path, x));
                        }
                        self.piece_done(&big, bytes.len() as u64);
                        if let Piece::Copied(buf, _) = piece {
                            self.buffers.give(buf);
                        }
                        // Its slot (taken by the reader before sending it).
                        let _ = self.slots.try_recv();
                    }
                }
            }
            self.buffers.give(data);
        }
        self.left
    }

    /// Create the file for a big entry (see [`BigFile`]).
    fn create_big(
        &mut self,
        key: &[u8],
        ctx: Entry,
        host: Entry,
        label: bool,
        seq: u64,
    ) -> Result<Arc<BigFile>> {
        let comps = split(key);
        let path = String::from_utf8_lossy(key).into_owned();
        let dir = self
            .parent(&comps)
            .map_err(|x| Error::io("cannot create the parent directories of", &path, x))?;
        let tmp = self.tmp_name();
        let a = Applied {
            ctx: &ctx,
            host: &host,
        };
        let (xattrs, final_mode) = self.new_file(&a, label);
        let (file, born) = self
            .open_big(
                &dir,
                comps[comps.len() - 1],
                &tmp,
                final_mode.unwrap_or(0o600),
            )
            .map_err(|x| Error::io("cannot create", &path, x))?;
        let size = ctx.size;
        Ok(Arc::new(BigFile {
            file,
            born,
            dir,
            tmp: tmp.to_vec(),
            name: comps[comps.len() - 1].to_vec(),
            path,
            ctx,
            host,
            xattrs,
            label,
            seq,
            left: std::sync::atomic::AtomicU64::new(size + 1),
            failed: std::sync::Mutex::new(None),
        }))
    }

    /// `n` bytes of a big file are done (written, skipped or given up);
    /// the one who finishes it seals it.
    fn piece_done(&mut self, big: &Arc<BigFile>, n: u64) {
        if big.left.fetch_sub(n, std::sync::atomic::Ordering::AcqRel) != n {
            return;
        }
        let failed = big.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        let r = match failed {
            Some(e) => Err(e),
            // The length covers trailing holes of a sparse member.
            None => big
                .file
                .set_len(big.ctx.size)
                .map_err(|x| Error::io("cannot set the length of", &big.path, x)),
        };
        let a = Applied {
            ctx: &big.ctx,
            host: &big.host,
        };
        // Owner and mode always: the sealing worker's cached parent is
        // not this file's, so "born with the right owner" cannot be judged.
        self.seq = big.seq;
        match self.seal(
            &big.file,
            big.born,
            &big.dir,
            &big.tmp,
            &big.name,
            &a,
            &big.xattrs,
            big.label,
            Has::Nothing,
            r,
            &big.path,
        ) {
            Ok(()) => self.left.done += 1,
            Err(e) => self.left.error(big.seq, e),
        }
    }

    /// Give a written file its metadata, then its name: link an unnamed
    /// file, rename a named temporary. On error nothing keeps the name (a
    /// file made in place in a new subtree is removed).
    #[allow(clippy::too_many_arguments)]
    fn seal(
        &mut self,
        f: &std::fs::File,
        born: Born,
        dir: &Dir,
        tmp: &[u8],
        name: &[u8],
        a: &Applied,
        xattrs: &[(String, Vec<u8>)],
        label: bool,
        has: Has,
        r: Result<()>,
        path: &str,
    ) -> Result<()> {
        let io_err = |op: &str, err: io::Error| Error::io(op, path, err);
        let r = r.and_then(|()| {
            self.apply_fd_with(f, a, xattrs, label, has)
                .map_err(|x| io_err("cannot set the metadata of", x))
        });
        if born == Born::Existing {
            return r;
        }
        if born == Born::InPlace {
            if r.is_err() {
                let _ = dir.unlink(name, false);
            }
            return r;
        }
        if born == Born::Unnamed {
            r?;
            let exists =
                |x: &io::Error| x.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error());
            return match dir.link_tmpfile(f, name) {
                Ok(()) => Ok(()),
                // The name is taken by something that is not a directory:
                // remove it, then link, as GNU tar and bsdtar replace files.
                // (A rename over an existing file would make ext4 write the
                // new file's data out first: auto_da_alloc.) The name is
                // never a partial file: the old one, none, or the new one.
                Err(x) if exists(&x) && dir.unlink(name, false).is_ok() => {
                    match dir.link_tmpfile(f, name) {
                        Ok(()) => Ok(()),
                        Err(x) => Err(io_err("cannot link {} into place", x)),
                    }
                }
                Err(x) if exists(&x) => {
                    // A directory (or an undeletable name): link under a
                    // temporary name, then rename over it.
                    dir.link_tmpfile(f, tmp)
                        .map_err(|x| io_err("cannot create", x))?;
                    self.finish_tmp(dir, tmp, name, Ok(()), path)
                }
                Err(x) => Err(io_err("cannot link {} into place", x)),
            };
        }
        self.finish_tmp(dir, tmp, name, r, path)
    }

    /// The directory holding `comps`' last component, created as needed.
    fn parent(&mut self, comps: &[&[u8]]) -> io::Result<Arc<Dir>> {
        let parent = &comps[..comps.len() - 1];
        if let Some(c) = &self.cache
            && is_joined(&c.key, parent)
        {
            return Ok(c.dir.clone());
        }
        let key = join(parent);
        let (d, made, fresh) = self.resolve(parent)?;
        let d = Arc::new(d);
        // The first visit to a directory removes what a killed earlier run
        // left there; directories this run made (here or by a directory
        // entry) hold none.
        let first = {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(first) = made {
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
        let fresh = fresh.then(|| self.staging.epoch());
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
    /// ([`Staging`]). Also returns the index of the first component made by
    /// this call, and whether the directory lies in a new subtree.
    fn resolve(&mut self, comps: &[&[u8]]) -> io::Result<(Dir, Option<usize>, bool)> {
        if let Some((i, tmp)) = self.staging.find(comps) {
            let mut at = comps.to_vec();
            at[i] = &tmp;
            // (What lies in a new subtree was made by this run, and marked
            // swept by whoever made it.)
            let (d, made, _) = walk_dirs_making(&self.root, &at, true, None)?;
            return Ok((d, made, true));
        }
        let r = walk_dirs_making(&self.root, comps, true, Some(&self.staging))?;
        if let (_, Some(i), true) = r {
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
    fn in_new_subtree(&self) -> bool {
        self.cache
            .as_ref()
            .is_some_and(|c| c.fresh == Some(self.staging.epoch()))
    }

    /// `comps` is a directory this run made: nothing to sweep there.
    fn made_dir(&self, comps: &[&[u8]]) {
        self.swept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(join(comps));
    }

    /// The outcome of giving `a` the owner `owner`: a refusal does not fail
    /// the entry (GNU tar keeps the file too) but is counted by cause, and
    /// reported once per cause at the end. True when the owner was set.
    fn owner_set(&mut self, a: &Applied, owner: (u32, u32), r: io::Result<()>) -> bool {
        let Err(x) = r else { return true };
        let f = self
            .left
            .owner_failures
            .entry(x.raw_os_error().unwrap_or(0))
            .or_default();
        f.count += 1;
        f.note((self.seq, crate::quote::escaped(&a.ctx.path), owner));
        false
    }

    /// The mode to set: the sink's, without setuid/setgid where the owner
    /// could not be set (as bsdtar does; the file is the invoking user's).
    fn mode_for(&self, a: &Applied, owned: bool) -> u32 {
        let mode = self.sink.mode(a);
        if owned { mode } else { mode & !0o6000 }
    }

    /// Would a file just created in the cached parent already have this
    /// owner (our own IDs, no setgid directory handing down its group)?
    fn born_with(&self, owner: (u32, u32)) -> bool {
        owner == self.creds && self.cache.as_ref().is_some_and(|c| !c.setgid)
    }

    /// The xattrs a new file gets, and the mode to create it with when
    /// nothing can spoil that mode: no setuid/setgid/sticky bit (chown would
    /// clear them), no bit the umask removes, no xattr to set (user xattrs
    /// need write permission). `None`: create it 0600, chmod at the end.
    fn new_file(&self, a: &Applied, label: bool) -> (Xattrs, Option<u32>) {
        let xattrs = self.sink.xattrs(a);
        let mode = self.sink.mode(a);
        let final_mode =
            mode & 0o7000 == 0 && mode & self.umask == 0 && !label && xattrs.is_empty();
        (xattrs, final_mode.then_some(mode))
    }

    /// Owner, xattrs, mode and mtime on an open file or directory, in that
    /// order (chown clears setuid bits and capabilities; user xattrs need
    /// write permission, so they come before the final mode). Owner and mode
    /// are set where `has` does not show them already.
    fn apply_fd_with(
        &mut self,
        fd: &impl std::os::fd::AsFd,
        a: &Applied,
        xattrs: &[(String, Vec<u8>)],
        label: bool,
        has: Has,
    ) -> io::Result<()> {
        let mut owned = true;
        if let Some((u, g)) = self.sink.owner(a) {
            let set = match has {
                Has::Nothing => true,
                Has::FinalMode => !self.born_with((u, g)),
                Has::Stat(m) => (m.uid, m.gid) != (u, g),
            };
            if set {
                owned = self.owner_set(a, (u, g), sys::fchown(fd, u, g));
            }
        }
        for (k, v) in xattrs {
            if let Err(err) = sys::fsetxattr(fd, k, v) {
                self.warn(format!("cannot set xattr {k}: {err}"));
            }
        }
        if label
            && let Some(l) = &a.ctx.label
            && let Err(err) = sys::fsetxattr(fd, LABEL_XATTR, l.as_bytes())
        {
            self.warn(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
        }
        let mode = self.mode_for(a, owned);
        let set = match has {
            Has::Nothing => true,
            Has::FinalMode => false,
            Has::Stat(m) => m.mode & 0o7777 != mode,
        };
        if set {
            sys::fchmod(fd, mode)?;
        }
        sys::futimens(fd, a.ctx.mtime)
    }

    /// Owner, xattrs, mode and mtime of a FIFO or device we just made as `name`.
    fn apply_at(&mut self, dir: &Dir, name: &[u8], a: &Applied, label: bool) -> io::Result<()> {
        let owned = match self.sink.owner(a) {
            Some((u, g)) => self.owner_set(a, (u, g), dir.lchown(name, u, g)),
            None => true,
        };
        for (k, v) in self.sink.xattrs(a) {
            if let Err(err) = dir.lsetxattr(name, &k, &v) {
                self.warn(format!("cannot set xattr {k}: {err}"));
            }
        }
        if label
            && let Some(l) = &a.ctx.label
            && let Err(err) = dir.lsetxattr(name, LABEL_XATTR, l.as_bytes())
        {
            self.warn(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
        }
        dir.chmod(name, self.mode_for(a, owned))?;
        dir.set_mtime(name, a.ctx.mtime)
    }

    /// Extract one entry: with `--overwrite`, a regular file whose name is
    /// an existing regular file is written into it; else [`Worker::extract_one`].
    fn extract_entry(
        &mut self,
        data: &[u8],
        key: &[u8],
        comps: &[&[u8]],
        a: &Applied,
        label: bool,
        seq: u64,
    ) -> Result<()> {
        if self.overwrite
            && a.ctx.kind == Kind::File
            && let Some(r) = self.overwrite_in_place(data, key, comps, a, label)
        {
            return r;
        }
        self.extract_one(data, key, comps, a, label, seq)
    }

    /// Write a regular file into the existing regular file of its name
    /// (GNU tar's `--overwrite`). `None` when there is none, or its
    /// directory cannot be opened: the entry is extracted as usual (which
    /// reports that).
    fn overwrite_in_place(
        &mut self,
        data: &[u8],
        key: &[u8],
        comps: &[&[u8]],
        a: &Applied,
        label: bool,
    ) -> Option<Result<()>> {
        let path = String::from_utf8_lossy(key);
        let io_err = |op: &str, err: io::Error| Error::io(op, &*path, err);
        let dir = self.parent(comps).ok()?;
        let mut f = match dir.open_regular_truncated(comps[comps.len() - 1]) {
            Ok(f) => f?,
            Err(x) => return Some(Err(io_err("cannot open {} to overwrite it", x))),
        };
        let xattrs = self.sink.xattrs(a);
        Some(
            f.write_all(data)
                .map_err(|x| io_err("cannot write", x))
                .and_then(|()| {
                    self.apply_fd_with(&f, a, &xattrs, label, Has::Nothing)
                        .map_err(|x| io_err("cannot set the metadata of", x))
                }),
        )
    }

    /// The file a big entry is written into: with `--overwrite` the
    /// existing regular file of its name, else a new one.
    fn open_big(
        &self,
        dir: &Dir,
        name: &[u8],
        tmp: &[u8],
        mode: u32,
    ) -> io::Result<(std::fs::File, Born)> {
        if self.overwrite
            && let Some(f) = dir.open_regular_truncated(name)?
        {
            return Ok((f, Born::Existing));
        }
        create_unnamed(dir, tmp, mode)
    }

    fn extract_one(
        &mut self,
        data: &[u8],
        key: &[u8],
        comps: &[&[u8]],
        a: &Applied,
        label: bool,
        seq: u64,
    ) -> Result<()> {
        self.seq = seq;
        let e = a.ctx;
        let path = String::from_utf8_lossy(key);
        let io_err = |op: &str, err: io::Error| Error::io(op, &*path, err);
        let dir = match self.parent(comps) {
            Ok(d) => d,
            Err(err) => {
                let msg = if err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
                    || err.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error())
                    || err.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error())
                {
                    "cannot create {} (a parent directory is a symlink or not a directory; not followed)"
                } else {
                    "cannot create the parent directories of"
                };
                return Err(io_err(msg, err));
            }
        };
        let name = comps[comps.len() - 1];
        let tmp = self.tmp_name();
        match e.kind {
            Kind::Dir => {
                // The top of a new subtree: under a temporary name.
                let staged = if self.in_new_subtree() {
                    None
                } else {
                    self.staging
                        .stage(&dir, comps, 0o700)
                        .map_err(|x| io_err("cannot create directory", x))?
                };
                let at: &[u8] = staged.as_deref().unwrap_or(name);
                if staged.is_some() {
                    self.made_dir(comps);
                } else {
                    match dir.lstat(name) {
                        Ok(st) if st.kind() == FileType::Directory => {}
                        Ok(_) => {
                            dir.unlink(name, false)
                                .map_err(|x| io_err("cannot replace {} with a directory", x))?;
                            dir.mkdir(name, 0o700)
                                .map_err(|x| io_err("cannot create directory", x))?;
                            self.made_dir(comps);
                        }
                        Err(_) => match dir.mkdir(name, 0o700) {
                            Ok(()) => self.made_dir(comps),
                            // Made meanwhile by another worker for a child entry.
                            Err(x)
                                if x.raw_os_error()
                                    == Some(rustix::io::Errno::EXIST.raw_os_error()) => {}
                            Err(x) => return Err(io_err("cannot create directory", x)),
                        },
                    }
                }
                // xattrs (and the label) now, so the deferred metadata is small;
                // owner, mode and times at the end.
                let xattrs = self.sink.xattrs(a);
                if !xattrs.is_empty() || label {
                    let d = dir
                        .open_dir(at)
                        .map_err(|x| io_err("cannot open directory", x))?;
                    for (k, v) in xattrs {
                        if let Err(err) = sys::fsetxattr(d.fd(), &k, &v) {
                            self.warn(format!("cannot set xattr {k}: {err}"));
                        }
                    }
                    if label
                        && let Some(l) = &a.ctx.label
                        && let Err(err) = sys::fsetxattr(d.fd(), LABEL_XATTR, l.as_bytes())
                    {
                        self.warn(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
                    }
                }
                let slim = |e: &Entry| {
                    let mut e = e.clone();
                    e.path = Vec::new();
                    e.xattrs = Vec::new();
                    e.uname = None;
                    e.gname = None;
                    e
                };
                let key = join(comps);
                self.left.deferred_bytes += key.len() + 256;
                if self.left.deferred_bytes > MAX_DEFERRED {
                    // Pathological numbers of (long-named) directories: apply
                    // now rather than hold them all.
                    self.warn("too many directories to defer their metadata; some directory times may be those of the extraction".to_string());
                    let d = dir
                        .open_dir(at)
                        .map_err(|x| io_err("cannot open directory", x))?;
                    let (c, h) = (slim(a.ctx), slim(a.host));
                    return self
                        .apply_fd_with(
                            &d.fd(),
                            &Applied { ctx: &c, host: &h },
                            &[],
                            false,
                            Has::Nothing,
                        )
                        .map_err(|x| io_err("cannot set the metadata of directory", x));
                }
                self.left
                    .deferred
                    .push((seq, key, slim(a.ctx), slim(a.host), false));
                Ok(())
            }
            Kind::File => {
                // In a new subtree, under its own name; elsewhere an unnamed
                // file (O_TMPFILE) linked in when complete, or a named
                // temporary renamed into place.
                // Created with its final mode when nothing can spoil it: no
                // setuid/setgid/sticky bit (chown would clear them), no bit the
                // umask removes, no xattr to set (user xattrs need write
                // permission). Else 0600 now and the mode after the rest.
                let (xattrs, final_mode) = self.new_file(a, label);
                let mode = final_mode.unwrap_or(0o600);
                // In a new subtree: under its own name (taken already only
                // when the archive holds the name twice).
                let in_place = if self.in_new_subtree() {
                    match dir.create_file(name, mode) {
                        Ok(f) => Some(f),
                        Err(x)
                            if x.raw_os_error()
                                == Some(rustix::io::Errno::EXIST.raw_os_error()) =>
                        {
                            None
                        }
                        Err(x) => return Err(io_err("cannot create", x)),
                    }
                } else {
                    None
                };
                let (mut f, born) = match in_place {
                    Some(f) => (f, Born::InPlace),
                    None => {
                        create_unnamed(&dir, &tmp, mode).map_err(|x| io_err("cannot create", x))?
                    }
                };
                let r = f.write_all(data).map_err(|x| io_err("cannot write", x));
                let has = if final_mode.is_some() {
                    Has::FinalMode
                } else {
                    Has::Nothing
                };
                self.seal(&f, born, &dir, &tmp, name, a, &xattrs, label, has, r, &path)
            }
            Kind::Symlink => {
                if self.sink.records_in_xattrs() && (e.uid, e.gid) != (0, 0) {
                    self.left
                        .symlink_owners
                        .entry(join(&comps[..comps.len() - 1]))
                        .or_default()
                        .push((name.to_vec(), e.uid as u32, e.gid as u32));
                }
                let target = e.link.clone().unwrap_or_default();
                // A symlink is whole the moment it exists: make it under its
                // own name; only replacing something goes through a temporary.
                let at: &[u8] = match dir.symlink(&target, name) {
                    Ok(()) => name,
                    Err(x) if x.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {
                        dir.symlink(&target, &tmp)
                            .map_err(|x| io_err("cannot create symlink", x))?;
                        &tmp
                    }
                    Err(x) => return Err(io_err("cannot create symlink", x)),
                };
                if let Some((u, g)) = self.sink.owner(a) {
                    self.owner_set(a, (u, g), dir.lchown(at, u, g));
                }
                let r = dir
                    .set_mtime(at, e.mtime)
                    .map_err(|x| io_err("cannot set the metadata of", x));
                if at == name {
                    return r;
                }
                self.finish_tmp(&dir, &tmp, name, r, &path)
            }
            Kind::HardLink => unreachable!("hard links are made after the workers finish"),
            Kind::Char | Kind::Block | Kind::Fifo => {
                let ft = match e.kind {
                    Kind::Char => FileType::CharacterDevice,
                    Kind::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                if e.kind == Kind::Fifo && self.sink.records_in_xattrs() {
                    // A FIFO cannot carry user xattrs: record it like a device.
                    return self.placeholder(&dir, &tmp, name, a, label, &path);
                }
                // Like a symlink, a node is whole the moment it exists.
                let mut at: &[u8] = name;
                let mut made = dir.mknod(name, ft, 0o600, e.dev_major, e.dev_minor);
                if matches!(&made, Err(x) if x.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()))
                {
                    at = &tmp;
                    made = dir.mknod(&tmp, ft, 0o600, e.dev_major, e.dev_minor);
                }
                if let Err(x) = made {
                    let eperm = x.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error());
                    match self.sink.devices() {
                        Devices::CreateOrSkip if e.kind.is_device() && eperm => {
                            self.warn(
                                "device nodes not created: creating them needs root (CAP_MKNOD)"
                                    .to_string(),
                            );
                            return Ok(());
                        }
                        Devices::CreateOrPlaceholder if e.kind.is_device() && eperm => {
                            return self.placeholder(&dir, &tmp, name, a, label, &path);
                        }
                        _ => return Err(io_err("cannot create", x)),
                    }
                }
                let r = self
                    .apply_at(&dir, at, a, label)
                    .map_err(|x| io_err("cannot set the metadata of", x));
                if at == name {
                    return r;
                }
                self.finish_tmp(&dir, &tmp, name, r, &path)
            }
        }
    }

    /// An entry the sink cannot create for real: an empty file with mode 0
    /// whose override xattr holds the true owner, mode and type.
    fn placeholder(
        &mut self,
        dir: &Dir,
        tmp: &[u8],
        name: &[u8],
        a: &Applied,
        label: bool,
        path: &str,
    ) -> Result<()> {
        if a.ctx.kind.is_device() {
            self.warn(
                "device nodes recorded as empty placeholder files with user.containers.override_stat (creating them needs CAP_MKNOD in the initial namespace)"
                    .to_string(),
            );
        }
        let io_err = |op: &str, err: io::Error| Error::io(op, path, err);
        let f = dir
            .create_file(tmp, 0o600)
            .map_err(|x| io_err("cannot create a placeholder for", x))?;
        if let Some((u, g)) = self.sink.owner(a) {
            self.owner_set(a, (u, g), sys::fchown(&f, u, g));
        }
        let r = (|| -> io::Result<()> {
            sys::fsetxattr(
                &f,
                OVERRIDE_XATTR,
                crate::sink::override_of(a.ctx).encode().as_bytes(),
            )?;
            if label && let Some(l) = &a.ctx.label {
                sys::fsetxattr(&f, LABEL_XATTR, l.as_bytes())?;
            }
            sys::fchmod(&f, 0)?;
            sys::futimens(&f, a.ctx.mtime)
        })()
        .map_err(|x| io_err("cannot record the placeholder for", x));
        drop(f);
        self.finish_tmp(dir, tmp, name, r, path)
    }

    /// Rename a finished temporary into place, or remove it on error.
    fn finish_tmp(
        &mut self,
        dir: &Dir,
        tmp: &[u8],
        name: &[u8],
        r: Result<()>,
        path: &str,
    ) -> Result<()> {
        let r = r.and_then(|()| {
            place(dir, tmp, name).map_err(|x| Error::io("cannot rename {} into place", path, x))
        });
        if r.is_err() {
            let _ = dir.unlink(tmp, false);
        }
        if matches!(r, Ok(true)) {
            self.cache = None;
        }
        r.map(|_| ())
    }
}

/// How a new file was made, which decides how [`Worker::seal`] names it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Born {
    /// `O_TMPFILE`: linked in when complete.
    Unnamed,
    /// Under a temporary name: renamed into place when complete.
    AsTemporary,
    /// Under its own name, in a new subtree not yet renamed into place.
    InPlace,
    /// The existing file of that name, emptied (`--overwrite`).
    Existing,
}

/// A new file in `dir`: unnamed (`O_TMPFILE`) where the filesystem allows,
/// else under the temporary name `tmp`.
fn create_unnamed(dir: &Dir, tmp: &[u8], mode: u32) -> io::Result<(std::fs::File, Born)> {
    match dir.create_tmpfile(mode)? {
        Some(f) => Ok((f, Born::Unnamed)),
        None => Ok((dir.create_file(tmp, mode)?, Born::AsTemporary)),
    }
}

/// Rename `tmp` over `name`, replacing an empty directory if need be.
/// Returns true when a directory was replaced.
fn place(dir: &Dir, tmp: &[u8], name: &[u8]) -> io::Result<bool> {
    match dir.rename(tmp, name) {
        Ok(()) => Ok(false),
        Err(e)
            if matches!(e.raw_os_error(), Some(c) if c == rustix::io::Errno::ISDIR.raw_os_error()
                || c == rustix::io::Errno::NOTEMPTY.raw_os_error()
                || c == rustix::io::Errno::EXIST.raw_os_error()) =>
        {
            dir.unlink(name, true)?;
            dir.rename(tmp, name)?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Open `comps` under `root` one component at a time without following
/// symlinks, creating missing directories (mode 0755) when `create`.
pub(crate) fn walk_dirs(root: &Dir, comps: &[&[u8]], create: bool) -> io::Result<Dir> {
    walk_dirs_making(root, comps, create, None).map(|(d, _, _)| d)
}

/// As [`walk_dirs`], and the index of the first component this call
/// created, if any (that one and every one after it are new). With
/// `staging`, that first one is made under a temporary name, and the last
/// value says so.
fn walk_dirs_making(
    root: &Dir,
    comps: &[&[u8]],
    create: bool,
    staging: Option<&Staging>,
) -> io::Result<(Dir, Option<usize>, bool)> {
    let mut made = None;
    let mut staged = false;
    // openat2 resolves many components per call beneath the directory,
    // refusing symlinks; paths longer than PATH_MAX go in segments. A
    // missing component (to be created) or a kernel without openat2 falls
    // back to one openat(O_NOFOLLOW) per component, which refuses symlinks
    // the same way.
    let mut cur: Option<Dir> = None;
    let mut i = 0;
    let mut fast = true;
    while i < comps.len() {
        let base = cur.as_ref().unwrap_or(root);
        if fast {
            let mut end = i;
            let mut len = 0;
            while end < comps.len() && (end == i || len + comps[end].len() < 4000) {
                len += comps[end].len() + 1;
                end += 1;
            }
            match base.open_dir_beneath(&join(&comps[i..end])) {
                Ok(Some(d)) => {
                    cur = Some(d);
                    i = end;
                    continue;
                }
                Ok(None) => fast = false,
                Err(e)
                    if create
                        && e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) =>
                {
                    fast = false
                }
                Err(e) => return Err(e),
            }
        }
        let c = comps[i];
        let next = match base.open_dir(c) {
            Ok(d) => d,
            Err(e)
                if create && e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) =>
            {
                if made.is_none()
                    && let Some(st) = staging
                    && let Some(tmp) = st.stage(base, &comps[..=i], 0o755)?
                {
                    made = Some(i);
                    staged = true;
                    cur = Some(base.open_dir(&tmp)?);
                    i += 1;
                    continue;
                }
                match base.mkdir(c, 0o755) {
                    Ok(()) => {
                        made = made.or(Some(i));
                    }
                    Err(e) if e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {
                    }
                    Err(e) => return Err(e),
                }
                base.open_dir(c)?
            }
            Err(e) => return Err(e),
        };
        cur = Some(next);
        i += 1;
    }
    match cur {
        Some(d) => Ok((d, made, staged)),
        None => Ok((root.open_dir(b".")?, made, staged)),
    }
}

/// A 64-bit digest of a name: the reading thread remembers names by it, so
/// its memory does not grow with their length (a collision, at odds of
/// 2^-64, costs a label xattr or a hard link's order, never safety).
#[derive(Clone)]
struct NameHash(u64);

impl NameHash {
    /// A seeded FNV-1a: the hash of every prefix of a name comes in one
    /// pass ([`NameHash::prefixes`]), so deep paths cost their length, not
    /// its square.
    fn new() -> NameHash {
        use std::hash::BuildHasher;
        NameHash(std::hash::RandomState::new().hash_one(0u8) | 1)
    }

    fn step(h: u64, b: u8) -> u64 {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }

    fn of(&self, key: &[u8]) -> u64 {
        key.iter().fold(self.0, |h, &b| Self::step(h, b))
    }

    /// The hash of each parent prefix of `key` (`a`, `a/b` for `a/b/c`).
    fn prefixes(&self, key: &[u8]) -> Vec<u64> {
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

/// The label xattr goes where an entry's label differs from its parent's.
struct Labels(HashMap<u64, Option<String>>, NameHash);

impl Labels {
    fn wants(&self, key: &[u8], e: &Entry) -> bool {
        if e.label.is_none() || e.kind == Kind::Symlink {
            return false;
        }
        if key.is_empty() {
            return true;
        }
        let parent = key
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(&key[..0], |i| &key[..i]);
        match self.0.get(&self.1.of(parent)) {
            Some(l) => *l != e.label,
            None => true,
        }
    }
}

/// Number of extraction workers: syscalls block on I/O, so more than the
/// cores, within reason.
fn worker_count() -> usize {
    if let Some(n) = std::env::var("ALIENTAR_EXTRACT_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    (cores() * 2).clamp(2, 16)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Extract an archive. `on_entry` is called with each member name (for `-v`).
///
/// Per-entry problems (a refused name, an unmapped ID, a failed syscall)
/// are in [`Report::errors`] and the run goes on. A problem that stops the
/// run part-way — a truncated or corrupted archive, an unknown label, an
/// owner the user cannot give — is in [`Report::fatal`]; every entry before
/// it was completed and directory metadata was applied.
///
/// # Errors
/// Problems found before anything was written: a missing destination, an
/// archive that cannot be opened, an unknown `--context`, a user namespace
/// that cannot be entered.
///
/// # Security
/// Nothing is written outside `dest`; see the module documentation.
pub fn extract(
    opts: &ExtractOptions,
    reg: &Registry,
    on_entry: &mut dyn FnMut(&[u8]),
    progress: &crate::progress::Progress,
) -> Result<Report> {
    let mut report = Report::default();
    let (sink, ns, strict) = choose_sink(opts, reg)?;
    let sink: Arc<dyn Sink> = Arc::from(sink);
    if let Some(maps) = &ns {
        // Before anything else: no thread may exist yet.
        sys::userns::enter(maps)?;
    }
    let root = Dir::open(&opts.dest)
        .map_err(|e| Error::io("cannot open the destination directory", &opts.dest, e))?;
    drop(root);
    let (_, r) = crate::input::open_source(&opts.archive)?;
    let mut rd = Reader::new(r);
    let mut admit = crate::gnu::Admit::new(opts);
    let mut old = crate::gnu::Existing::new(opts.old_files);
    let mut chooser = MapChooser::new(reg, &opts.owners)?;
    if let Some(maps) = &ns {
        chooser = chooser.in_namespace(maps.clone(), namespace_origin(&opts.owners));
    }
    let me = (
        u64::from(rustix::process::getuid().as_raw()),
        u64::from(rustix::process::getgid().as_raw()),
    );
    let archive = opts.archive.display().to_string();

    // The umask, to know when a file's creation mode is already its final mode.
    let umask = sys::umask();
    let creds = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    // Workers.
    let n = worker_count();
    let mut txs: Vec<Sender<Batch>> = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    let swept = Swept::default();
    let staging = Staging::new();
    let buffers = BufferPool::default();
    // Big files' pieces queued at any time: the reader sends a message
    // before each, the worker that writes it takes one.
    let slots = bounded::<()>(PIECES_IN_FLIGHT);
    // Each worker with its own handle on the destination; the shared state
    // is the sink, the swept directories and the data buffers.
    let worker = |id: usize| -> Result<Worker> {
        Ok(Worker {
            id,
            pid: std::process::id(),
            umask,
            creds,
            root: Dir::open(&opts.dest)
                .map_err(|e| Error::io("cannot open the destination directory", &opts.dest, e))?,
            sink: sink.clone(),
            cache: None,
            staging: staging.clone(),
            swept: swept.clone(),
            buffers: buffers.clone(),
            slots: slots.1.clone(),
            tmp_counter: 0,
            seq: 0,
            overwrite: opts.old_files == crate::gnu::OldFiles::Overwrite,
            left: Leftovers::default(),
        })
    };
    for id in 0..n {
        let (tx, rx) = bounded::<Batch>(QUEUE);
        let w = worker(id)?;
        handles.push(
            std::thread::Builder::new()
                .name(format!("alientar-x{id}"))
                .spawn(move || w.run(rx))
                .map_err(|e| Error::io_nopath("cannot start a worker thread", e))?,
        );
        txs.push(tx);
    }
    // Directory entries go to a worker by their name. Other entries go by
    // their parent, in runs of [`RUN`] consecutive siblings per worker: a
    // small directory's files all on one worker (the one its own entry went
    // to), which opens the directory once instead of every worker opening
    // it; a big directory's alternately over [`SPREAD`] workers. A name
    // handed out before waits for the workers (below), so the last entry of
    // a name still wins, in archive order. (Names and parents by their
    // NameHash, which the reading thread computes anyway.)
    // The parent of the current run of siblings (its hash) and how many of
    // them were handed out.
    let mut run = (0u64, 0usize);

    let mut batches: Vec<Batch> = (0..n).map(|_| Batch::default()).collect();
    // The reading thread's own worker: it creates big files and makes the
    // hard links at the end.
    let mut planner = worker(n)?;
    let hasher = NameHash::new();
    let mut labels = Labels(HashMap::new(), hasher.clone());
    let mut replaced_dirs: std::collections::HashSet<u64> = std::collections::HashSet::new();
    // Names handed out as non-directories, and names known as directories
    // (entries' own or their parents), by hash; and whether the next entry
    // must wait for the workers.
    let mut nondirs: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut seen_dirs: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut sync_next = false;
    // The parent of the previous entry handed out, and whether none of its
    // ancestors was a non-directory name.
    let mut last_parent: Vec<u8> = Vec::new();
    let mut clear_parent = false;
    let mut links: Vec<(u64, Vec<u8>, Entry, Entry)> = Vec::new();
    // Hard links by name → the seq of the last hard link of that name, and
    // whether a later entry of the same name replaced it.
    let mut link_names: HashMap<u64, (u64, bool)> = HashMap::new();
    let mut root_dir: Option<(Entry, Entry, bool)> = None;
    // Errors found by the reading thread (names, maps), kept like a worker's.
    let mut early = Leftovers::default();
    let mut warnings: BTreeMap<String, u64> = BTreeMap::new();
    let mut fatal = None;
    let mut seq: u64 = 0;
    loop {
        let mut ctx = match rd.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(err) => {
                fatal = Some(err.with_context(format!("reading {archive}")));
                break;
            }
        };
        let Some(stored) = admit.admit(&mut ctx) else {
            continue;
        };
        seq += 1;
        let (key, stripped) = match safe_components(&ctx.path) {
            Ok((c, s)) => (join(&c), s),
            Err(m) => {
                early.error(seq, Error::unsafe_path(m).with_path(ctx.display_path()));
                continue;
            }
        };
        if stripped {
            *warnings
                .entry("Removing leading '/' from member names".to_string())
                .or_insert(0) += 1;
        }
        // The host view, when a map makes it differ from the context view.
        let mapped: Option<Entry> = match chooser.for_entry(&ctx) {
            Ok(Some((maps, what))) => {
                let mut host = ctx.clone();
                match translate(
                    &mut host,
                    &maps,
                    Direction::ToHost,
                    opts.owners.unmapped,
                    &what,
                ) {
                    Ok(o) => {
                        // What was squashed is squashed in both views.
                        ctx.mode = host.mode;
                        if o.uid_squashed {
                            ctx.uid = u64::from(crate::idmap::OVERFLOW_ID);
                        }
                        if o.gid_squashed {
                            ctx.gid = u64::from(crate::idmap::OVERFLOW_ID);
                        }
                        Some(host)
                    }
                    Err(err) => {
                        early.error(seq, err);
                        continue;
                    }
                }
            }
            Ok(None) => None,
            Err(err) => {
                fatal = Some(err);
                break;
            }
        };
        let host = mapped.as_ref().unwrap_or(&ctx);
        if host.uid >= u64::from(u32::MAX) || host.gid >= u64::from(u32::MAX) {
            early.error(
                seq,
                Error::unmapped(format!(
                    "owner {}:{} is not a valid pair of IDs",
                    host.uid, host.gid
                ))
                .with_path(ctx.display_path()),
            );
            continue;
        }
        if let Some(why) = &strict
            && (host.uid, host.gid) != me
        {
            match foreign_owner(why, &ctx, host, me, &opts.owners) {
                Ok(w) => *warnings.entry(w).or_insert(0) += 1,
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
        }
        let a = Applied { ctx: &ctx, host };
        if let Err(err) = sink.record(&a) {
            fatal = Some(err);
            break;
        }
        let label = sink.writes_label() && labels.wants(&key, &ctx);
        let h = hasher.of(&key);
        let fresh = !seen_dirs.contains(&h);
        if ctx.kind == Kind::Dir {
            labels.0.insert(h, ctx.label.clone());
            replaced_dirs.remove(&h);
        } else if labels.0.contains_key(&h) {
            // A directory of this name is replaced: its metadata must not
            // be applied to whatever now stands there.
            replaced_dirs.insert(h);
        }
        if !link_names.is_empty()
            && let Some(l) = link_names.get_mut(&h)
        {
            *l = (seq, ctx.kind != Kind::HardLink);
        }
        if key.is_empty() {
            if ctx.kind == Kind::Dir {
                let host = mapped.unwrap_or_else(|| ctx.clone());
                root_dir = Some((ctx, host, label));
            } else {
                early.error(
                    seq,
                    Error::unsafe_path("member has an empty name").with_path(ctx.display_path()),
                );
            }
            continue;
        }
        if ctx.kind == Kind::HardLink {
            on_entry(stored.as_deref().unwrap_or(&ctx.path));
            link_names.insert(h, (seq, false));
            let host = mapped.unwrap_or_else(|| ctx.clone());
            links.push((seq, key, ctx, host));
            continue;
        }
        if ctx.kind.is_device() && sink.devices() == Devices::RecordOnly {
            continue;
        }
        // Entries of different names run on different workers. Where the
        // order between them matters — a name that was a file becomes a
        // directory, or the reverse, or an entry lies beneath a name that is
        // not a directory — wait for the workers, as archive order says.
        let mut wait = std::mem::take(&mut sync_next);
        // Siblings come together in sorted archives: when the previous
        // entry had the same parent and none of its ancestors was a
        // non-directory, nothing about the ancestors has changed since.
        let parent_len = key.iter().rposition(|&b| b == b'/').unwrap_or(0);
        if !(clear_parent && key[..parent_len] == last_parent[..]) {
            let mut beneath_nondir = false;
            for ph in hasher.prefixes(&key) {
                beneath_nondir |= nondirs.contains(&ph);
                seen_dirs.insert(ph);
            }
            wait |= beneath_nondir;
            clear_parent = !beneath_nondir;
            last_parent.clear();
            last_parent.extend_from_slice(&key[..parent_len]);
            let ph = hasher.of(&last_parent);
            if run.0 != ph {
                run = (ph, 0);
            }
        }
        if ctx.kind == Kind::Dir {
            // A name that was not a directory: the worker that has it may
            // not be this entry's (those go by parent, directories by name).
            if nondirs.remove(&h) {
                wait = true;
                sync_next = true;
            }
            seen_dirs.insert(h);
        } else {
            if seen_dirs.remove(&h) {
                wait = true;
                sync_next = true;
            }
            // The same name again: the worker that has the first one may
            // not be the one that gets this one.
            wait |= !nondirs.insert(h);
        }
        if wait {
            if !sync_workers(&txs, &mut batches) {
                fatal = Some(worker_gone());
                break;
            }
            // The workers are idle: new subtrees get their names before
            // this entry, whose order matters, is applied.
            for e in staging.publish(&planner.root) {
                early.error(seq, e);
            }
        }
        on_entry(stored.as_deref().unwrap_or(&ctx.path));
        if old.leaves_out(&planner.root, &key, &ctx, fresh, &mut |e| {
            early.error(seq, e)
        }) {
            continue;
        }
        let w = if ctx.kind == Kind::Dir {
            (h % n as u64) as usize
        } else {
            let turn = (run.1 / RUN % SPREAD) as u64;
            run.1 += 1;
            (run.0.wrapping_add(turn) % n as u64) as usize
        };
        let size = ctx.size;
        if ctx.kind == Kind::File && size > CHUNK as u64 {
            // A big file: created here, its pieces written at their offsets
            // by all the workers in turn.
            let host = mapped.unwrap_or_else(|| ctx.clone());
            let big = match planner.create_big(&key, ctx, host, label, seq) {
                Ok(b) => b,
                Err(e) => {
                    early.error(seq, e);
                    continue; // its data is skipped by the next read
                }
            };
            let mut offset = 0u64;
            let turn = w;
            while offset < size {
                let want = (size - offset).min(BIG_CHUNK) as usize;
                // From a seekable archive the piece is a share of the frame
                // (up to the frame's end), not a copy.
                let borrowed = match rd.borrow_data(want) {
                    Ok(b) => b,
                    Err(err) => {
                        fatal = Some(err.with_context(format!("reading {archive}")));
                        break;
                    }
                };
                let (piece, got, hole) = match borrowed {
                    Some(s) => {
                        let len = s.len();
                        (Piece::Shared(s), len, 0)
                    }
                    None => {
                        let mut b = data_buffer(&buffers);
                        room(&mut b, 0, want);
                        let mut got = 0;
                        let mut hole = 0;
                        while got < want {
                            match rd.read_chunk(&mut b[got..want]) {
                                Ok(Chunk::Data(0)) => break,
                                Ok(Chunk::Data(k)) => got += k,
                                // A hole of a sparse member: not written (the
                                // file's length is set when it is sealed). What
                                // was read before it is sent first.
                                Ok(Chunk::Hole(h)) => {
                                    hole = h;
                                    break;
                                }
                                Err(err) => {
                                    fatal = Some(err.with_context(format!("reading {archive}")));
                                    break;
                                }
                            }
                        }
                        (Piece::Copied(b, got), got, hole)
                    }
                };
                if fatal.is_some() || (got == 0 && hole == 0) {
                    break;
                }
                if got > 0 {
                    progress.add_bytes(got as u64);
                    let n = got as u64;
                    // One worker writes a file's pieces: ext4 serializes
                    // writers of one inode, and several of them spin on its
                    // lock (measured: 2.5 s of system time instead of 1.0 for
                    // 630 MiB). Decompression stays parallel, and different
                    // files go to different workers. At most PIECES_IN_FLIGHT
                    // pieces are queued (each may hold a frame).
                    let piece = Batch {
                        jobs: vec![Job::Piece(big.clone(), offset, piece)],
                        ..Batch::default()
                    };
                    if slots.0.send(()).is_err() || txs[turn].send(piece).is_err() {
                        big.fail(worker_gone());
                        planner.piece_done(&big, n);
                        break;
                    }
                    offset += n;
                }
                if hole > 0 {
                    let h = hole.min(size - offset);
                    planner.piece_done(&big, h);
                    offset += h;
                }
            }
            if offset < size {
                big.fail(
                    Error::format("archive ended inside this member's data").with_path(&big.path),
                );
                planner.piece_done(&big, size - offset);
            }
            planner.piece_done(&big, 1); // the reader's guard
            if fatal.is_some() {
                break;
            }
            continue;
        }
        // The member's data, without copying when the archive's frame
        // holds all of it (frames are cut at member boundaries).
        let mut borrowed = None;
        if ctx.kind == Kind::File && size > 0 {
            match rd.borrow_data(size as usize) {
                Ok(b) => borrowed = b,
                Err(err) => {
                    fatal = Some(err.with_context(format!("reading {archive}")));
                    break;
                }
            }
        }
        // A batch holds the bytes of one frame at most: it is sent before
        // it would keep a second one in memory.
        if let Some(b) = &borrowed
            && let Some(f) = &batches[w].frame
            && !f.same_frame(b)
            && txs[w].send(std::mem::take(&mut batches[w])).is_err()
        {
            fatal = Some(worker_gone());
            break;
        }
        let batch = &mut batches[w];
        let data = if ctx.kind != Kind::File || size == 0 {
            Data::None
        } else if let Some(b) = borrowed.take_if(|b| b.len() as u64 == size) {
            if batch.frame.is_none() {
                batch.frame = Some(b.clone());
            }
            Data::Shared(b)
        } else {
            if batch.data.capacity() == 0 {
                batch.data = data_buffer(&buffers);
            }
            let at = batch.used;
            let end = at + size as usize;
            let b = room(&mut batch.data, at, size as usize);
            // What a frame ending inside the member gave already.
            let mut got = 0;
            if let Some(part) = borrowed.take() {
                b[..part.len()].copy_from_slice(&part);
                got = part.len();
            }
            while got < b.len() {
                match rd.read_data(&mut b[got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(err) => {
                        fatal = Some(err.with_context(format!("reading {archive}")));
                        break;
                    }
                }
            }
            if fatal.is_some() {
                break;
            }
            // (The buffer holds an earlier batch's bytes: a member's data
            // that ends early reads as zeros, not as those.)
            b[got..].fill(0);
            batch.used = end;
            Data::At(at, size as usize)
        };
        if !matches!(data, Data::None) {
            progress.add_bytes(size);
        }
        // Tasks travel in batches: one wake-up per batch, not per file.
        batch.weight += size as usize
            + 512
            + 2 * (ctx.path.len()
                + ctx
                    .xattrs
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>());
        batch.jobs.push(Job::Entry(Box::new(Task {
            seq,
            key,
            ctx,
            host: mapped,
            label,
            data,
        })));
        if (batch.jobs.len() >= 64 || batch.weight >= BATCH_BYTES)
            && txs[w].send(std::mem::take(batch)).is_err()
        {
            fatal = Some(worker_gone());
            break;
        }
    }
    for (w, b) in batches.into_iter().enumerate() {
        if !b.jobs.is_empty() {
            let _ = txs[w].send(b);
        }
    }
    drop(txs);
    let mut left = Leftovers::default();
    let mut panicked = false;
    for h in handles {
        match h.join() {
            Ok(l) => left.absorb(l),
            Err(_) => panicked = true,
        }
    }
    // Every worker is done: new subtrees get their names, before hard links
    // (which may point into them) and directory metadata.
    for e in staging.publish(&planner.root) {
        left.errors.push((seq, e));
    }
    if panicked {
        return Err(Error::io_nopath(
            "extraction worker panicked",
            io::Error::other("panic"),
        ));
    }
    left.errors.extend(early.errors);
    left.dropped += early.dropped;

    // Hard links, in archive order, once their targets exist.
    let mut main = planner;
    for (lseq, key, ctx, _host) in links {
        if link_names.get(&hasher.of(&key)) != Some(&(lseq, false)) {
            continue; // a later entry of the same name wins
        }
        if old.leaves_out(&main.root, &key, &ctx, false, &mut |e| left.error(lseq, e)) {
            continue;
        }
        match hardlink(&mut main, &key, &ctx) {
            Ok(()) => left.done += 1,
            Err(e) => left.errors.push((lseq, e)),
        }
    }
    if let Some((ctx, host, label)) = root_dir {
        left.deferred.push((0, Vec::new(), ctx, host, label));
    }
    left.deferred
        .retain(|d| !replaced_dirs.contains(&hasher.of(&d.1)));
    // Directory metadata on as many threads as there are cores (each with
    // a worker of its own); the reading thread's worker is the first.
    let mut finishers = vec![main];
    for id in n + 1..n + cores() {
        match worker(id) {
            Ok(w) => finishers.push(w),
            Err(_) => break,
        }
    }
    finish_dirs(
        &mut finishers,
        &opts.dest,
        std::mem::take(&mut left.deferred),
        std::mem::take(&mut left.symlink_owners),
        &mut left.errors,
    );
    for w in finishers {
        left.absorb(w.left);
    }
    for (k, v) in warnings {
        *left.warnings.entry(k).or_insert(0) += v;
    }
    if let Err(e) = sink.finish() {
        left.errors.push((u64::MAX, e));
    }
    report.bytes = rd.position();
    Ok(into_report(report, left, fatal, &admit))
}

/// The report of a run: what the workers left, the error that stopped the
/// run if one did, else the patterns nothing matched.
fn into_report(
    mut report: Report,
    mut left: Leftovers,
    fatal: Option<Error>,
    admit: &crate::gnu::Admit,
) -> Report {
    report.entries = left.done;
    left.errors.sort_by_key(|(s, _)| *s);
    report.errors = left.errors.into_iter().map(|(_, e)| e).collect();
    owner_failure_report(std::mem::take(&mut left.owner_failures), &mut report);
    if left.dropped > 0 {
        report.errors.push(Error::usage(format!(
            "... and {} more errors like those above",
            left.dropped
        )));
    }
    for (w, n) in left.warnings {
        report.warnings.push(if n > 1 {
            format!("{w} ({n} entries)")
        } else {
            w
        });
    }
    if let Some(f) = fatal {
        report.fatal = Some(f);
        return report;
    }
    for p in admit.unmatched() {
        report
            .errors
            .push(Error::usage(format!("{p}: not found in archive")));
    }
    report
}

/// Make a hard link `key` → the earlier member `ctx.link`, under a
/// temporary name renamed into place.
fn hardlink(w: &mut Worker, key: &[u8], ctx: &Entry) -> Result<()> {
    let comps = split(key);
    let path = String::from_utf8_lossy(key).into_owned();
    let io_err = |op: &str, err: io::Error| Error::io(op, &path, err);
    let target = ctx.link.clone().unwrap_or_default();
    let (tcomps, _) = safe_components(&target)
        .map_err(|m| Error::unsafe_path(format!("hard link target: {m}")).with_path(&path))?;
    if tcomps.is_empty() {
        return Err(Error::unsafe_path("hard link to an empty name").with_path(&path));
    }
    if tcomps == comps {
        return Ok(());
    }
    let tdir = walk_dirs(&w.root, &tcomps[..tcomps.len() - 1], false).map_err(|x| {
        io_err(
            &format!(
                "cannot hard-link {{}} to {} (the target's directory cannot be opened)",
                crate::quote::escaped(&target)
            ),
            x,
        )
    })?;
    let dir = w
        .parent(&comps)
        .map_err(|x| io_err("cannot create the parent directories of", x))?;
    let tmp = w.tmp_name();
    dir.hardlink(&tdir, tcomps[tcomps.len() - 1], &tmp)
        .map_err(|x| {
            io_err(
                &format!("cannot link {{}} to {}", crate::quote::escaped(&target)),
                x,
            )
        })?;
    let r = place(&dir, &tmp, comps[comps.len() - 1])
        .map_err(|x| io_err("cannot rename {} into place", x));
    // Renaming over another link to the same inode is a no-op that leaves tmp.
    let _ = dir.unlink(&tmp, false);
    if matches!(r, Ok(true)) {
        w.cache = None;
    }
    r.map(|_| ())
}

/// Symlink-owner records, then directory metadata: the last entry for a
/// directory wins; deepest first, each depth shared out over the workers
/// `ws` (one per thread; the first also does the symlink-owner records).
fn finish_dirs(
    ws: &mut [Worker],
    dest: &std::path::Path,
    deferred: Vec<Deferred>,
    symlink_owners: SymlinkOwners,
    errors: &mut Vec<(u64, Error)>,
) {
    let w = &mut ws[0];
    for (key, recs) in symlink_owners {
        let comps = split(&key);
        let r = walk_dirs(&w.root, &comps, false).and_then(|d| {
            sys::fsetxattr(
                d.fd(),
                crate::ondisk::SYMLINK_OWNERS_XATTR,
                &crate::ondisk::encode_symlink_owners(&recs),
            )
        });
        if let Err(x) = r {
            w.warn(format!("cannot record symlink owners: {x}"));
        }
    }
    let mut last: HashMap<&[u8], usize> = HashMap::new();
    for (i, (s, k, ..)) in deferred.iter().enumerate() {
        match last.get(k.as_slice()) {
            Some(&j) if deferred[j].0 > *s => {}
            _ => {
                last.insert(k.as_slice(), i);
            }
        }
    }
    let depth = |i: usize| {
        let k = &deferred[i].1;
        k.iter().filter(|&&b| b == b'/').count() + usize::from(!k.is_empty())
    };
    let mut order: Vec<usize> = last.into_values().collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(depth(i)), deferred[i].0));
    // Deepest first: a directory's mode may shut out an ordinary user from
    // what is below it. Directories of one depth are independent of each
    // other, so each depth is shared out over the workers given.
    let one = |w: &mut Worker, i: usize, errors: &mut Vec<(u64, Error)>| {
        let (seq, key, ctx, host, label) = &deferred[i];
        w.seq = *seq;
        let comps = split(key);
        let d = if comps.is_empty() {
            Dir::open(dest)
        } else {
            walk_dirs(&w.root, &comps, false)
        };
        let a = Applied { ctx, host };
        let r = d.and_then(|d| {
            let has = sys::fstat(d.fd()).map_or(Has::Nothing, Has::Stat);
            let xattrs = w.sink.xattrs(&a);
            w.apply_fd_with(&d.fd(), &a, &xattrs, *label, has)
        });
        if let Err(x) = r {
            let shown = if key.is_empty() {
                dest.display().to_string()
            } else {
                String::from_utf8_lossy(key).into_owned()
            };
            errors.push((
                *seq,
                Error::io("cannot set the metadata of directory", shown, x),
            ));
        }
    };
    for w in ws.iter_mut() {
        w.cache = None;
    }
    for level in order.chunk_by(|&a, &b| depth(a) == depth(b)) {
        // Below this many, a thread costs more than it saves.
        if level.len() < 64 || ws.len() == 1 {
            for &i in level {
                one(&mut ws[0], i, errors);
            }
            continue;
        }
        let per = level.len().div_ceil(ws.len());
        let found: Vec<Vec<(u64, Error)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = ws
                .iter_mut()
                .zip(level.chunks(per))
                .map(|(w, part)| {
                    let one = &one;
                    scope.spawn(move || {
                        let mut errs = Vec::new();
                        for &i in part {
                            one(w, i, &mut errs);
                        }
                        errs
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        errors.extend(found.into_iter().flatten());
    }
}

/// An entry whose owner `host` the invoking user `me` cannot give (`why`:
/// no user namespace). A plain tar member — no label, no `--map` or
/// `--context` — is written owned by the user, as `--owners none` does:
/// returns the warning that says so. Anything else stops the run.
fn foreign_owner(
    why: &str,
    ctx: &Entry,
    host: &Entry,
    me: (u64, u64),
    o: &crate::ownership::OwnerOptions,
) -> Result<String> {
    if ctx.label.is_none() && o.maps.is_none() && o.context.is_none() {
        return Ok(format!(
            "the archive has no context label, and its owners need a user namespace ({why}): \
             entries are written owned by you, without setuid/setgid bits, as with --owners none; \
             --owners xattr or --owners manifest=FILE keep the owners"
        ));
    }
    Err(Error::unmapped(format!(
        "needs owner {}:{} (host view), which uid {} cannot give without a user namespace ({why}); \
         use --owners xattr (owners in user.containers.override_stat), --owners manifest=FILE (an mtree spec) \
         or --owners none (owners dropped)",
        host.uid, host.gid, me.0
    ))
    .with_path(ctx.display_path()))
}

/// Resolve `--owners` into a sink, the namespace maps (for `userns`), and,
/// for `auto` without a namespace, the reason foreign owners are impossible.
#[allow(clippy::type_complexity)]
fn choose_sink(
    opts: &ExtractOptions,
    reg: &Registry,
) -> Result<(Box<dyn Sink>, Option<crate::context::Maps>, Option<String>)> {
    use crate::sink::{Chown, Manifest, NoOwners, Userns, Xattr};
    Ok(match &opts.sink {
        Owners::Chown => (Box::new(Chown), None, None),
        Owners::None => (Box::new(NoOwners), None, None),
        Owners::Xattr => (Box::new(Xattr), None, None),
        Owners::Manifest(p) => (Box::new(Manifest::new(p)), None, None),
        Owners::Userns => (
            Box::new(Userns),
            Some(namespace_maps(&opts.owners, reg)?),
            None,
        ),
        Owners::Auto => {
            if sys::privileged() {
                (Box::new(Chown), None, None)
            } else {
                match namespace_maps(&opts.owners, reg) {
                    Ok(m)
                        if sys::userns::available()
                            && sys::userns::coverable(&m, reg.invoker()) =>
                    {
                        (Box::new(Userns), Some(m), None)
                    }
                    Ok(m) if !sys::userns::available() => (
                        Box::new(NoOwners),
                        None,
                        Some(format!(
                            "newuidmap is not installed; the map would be uid {} gid {}",
                            m.uid, m.gid
                        )),
                    ),
                    Ok(m) => (
                        Box::new(NoOwners),
                        None,
                        Some(format!(
                            "your uid and /etc/subuid, /etc/subgid ranges do not cover the map uid {} gid {}",
                            m.uid, m.gid
                        )),
                    ),
                    Err(e) => (Box::new(NoOwners), None, Some(e.kind().to_string())),
                }
            }
        }
    })
}
