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
//! ## The data, file by file
//! - `read`: the reading thread. It reads entries, admits them (`admit`:
//!   patterns, `--transform`), checks names, translates owners and hands
//!   each entry with its data to a worker; `route` decides which worker and
//!   when the workers must finish what they have first; `batch` is what
//!   travels; `crew` starts the workers and owns their queues.
//! - `worker`: a worker's loop; `kinds` applies one entry (one function per
//!   kind), `meta` its owner, xattrs, mode and times, `place` names it,
//!   `resolve` finds or makes its parent directories, `staging` keeps new
//!   subtrees under temporary names, `big` writes big files in pieces.
//! - After the workers: `links` (hard links), `dirs` (directory metadata),
//!   `leftovers` (what the workers found, turned into the report).
//! - `old_files` (`-k`, `--skip-old-files`, `--overwrite`), `stdout` (`-O`),
//!   `owners` (the owner sink `--owners` chooses), `guard` (the entries'
//!   labels against the destination's label on disk).
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
//! insertion and removal, one system call and one journal handle fewer).
//! Files in directories that existed before are unnamed (`O_TMPFILE`) until
//! complete. A killed run leaves its new subtrees under their temporary
//! names; the next extraction into the same place removes them.
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
//! directory's entries one at a time under the directory's lock. The worker
//! queues are deep enough (16 batches) for the reader to reach the next
//! directories while one worker is busy with a big one. A name that was
//! handed out before waits for the workers first, so every entry of the
//! same name is applied in archive order (the last one wins).
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

mod admit;
mod batch;
mod big;
mod crew;
mod dirs;
mod finish;
mod guard;
mod kinds;
mod leftovers;
mod links;
mod meta;
mod name_hash;
mod old_files;
mod owners;
mod place;
mod read;
mod resolve;
mod route;
mod staging;
mod stdout;
mod worker;

pub use old_files::OldFiles;
pub use stdout::to_stdout;

use std::path::{Path, PathBuf};

use crate::context::Registry;
use crate::error::{Error, Result};
use crate::ownership::OwnerOptions;
use crate::report::Report;
use crate::sys::Dir;

/// How owners land on disk: the owner sink of `extract --owners`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owners {
    /// `chown` when privileged; else `userns` when `newuidmap` exists and
    /// the user's subordinate ranges cover the map; else an error at the
    /// first entry that needs a foreign owner, naming the sinks that work.
    Auto,
    /// Real owners with `fchownat` (root or `CAP_CHOWN`); a device node
    /// the kernel refuses (root in a user namespace) is recorded as a
    /// placeholder.
    Chown,
    /// Real owners inside a user namespace built with `newuidmap`.
    Userns,
    /// Owned by the user; true owners in `user.containers.override_stat`,
    /// read back by `create --from-xattrs`.
    Xattr,
    /// Owned by the user; true owners in an mtree spec written to this file.
    Manifest(PathBuf),
    /// Owners dropped, like `tar --no-same-owner`; setuid/setgid bits are dropped with them.
    None,
}

/// What to extract.
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// The archive (`-` for stdin), or an image: `oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]` (its final
    /// view, every blob verified first).
    pub archive: PathBuf,
    /// `-C`: the destination directory (must exist).
    pub dest: PathBuf,
    /// Member patterns; empty extracts everything.
    pub patterns: Vec<Vec<u8>>,
    /// How the patterns match.
    pub matching: crate::pattern::Matching,
    /// Members left out, by their names as stored.
    pub exclude: crate::select::Exclude,
    /// Ownership options.
    pub owners: OwnerOptions,
    /// The owner sink.
    pub sink: Owners,
    /// What to do with names that exist (`--keep-old-files`,
    /// `--skip-old-files`, `--overwrite`).
    pub old_files: OldFiles,
    /// `--transform`: member names and link targets renamed on the way to
    /// disk (patterns match the names as stored).
    pub transform: Option<crate::transform::Transform>,
    /// `--no-same-permissions`: modes lose setuid, setgid, sticky and the
    /// bits of the umask (by default they are applied exactly).
    pub apply_umask: bool,
    /// `--strip-components`: this many leading components are removed from
    /// member names (after `--transform`) and hard-link targets; a member
    /// with no more is left out.
    pub strip_components: u32,
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
    let owners::Chosen {
        sink,
        namespace,
        no_userns,
    } = owners::choose_sink(opts, reg)?;
    // Outside the user namespace: the destination's label is the user's to read.
    let guard = guard::LabelGuard::new(opts);
    // Opened before the namespace is entered, which may not reach it (a
    // namespace alientar makes may not open another's /proc/PID/root);
    // every handle on it is opened beneath this one. Else (a directory
    // only the namespace's IDs may open) after.
    let early = open_dest(&opts.dest);
    if let Some(ns) = &namespace {
        // Before anything else: no thread may exist yet.
        ns.enter()?;
    }
    let root = match early {
        Ok(d) => d,
        Err(e) if namespace.is_none() => return Err(e),
        Err(_) => open_dest(&opts.dest)?,
    };
    // Also before the workers start: it reads the umask by setting it.
    let input = read::Input::open(
        opts,
        reg,
        namespace.map(|n| n.maps().clone()),
        no_userns,
        guard,
    )?;
    let kit = crew::WorkerKit::new(opts, root, sink);
    let crew = crew::Crew::start(&kit, crew::worker_count())?;
    // The reading thread's own worker: it creates big files and makes the
    // hard links at the end.
    let planner = kit.worker(crew.len())?;
    let mut reading = read::Reading::new(input, crew, planner, &kit, progress);
    let fatal = reading.run(on_entry).err();
    reading.finish(&kit, fatal)
}

/// The destination directory, opened.
fn open_dest(dest: &Path) -> Result<Dir> {
    Dir::open(dest).map_err(|e| Error::io("cannot open the destination directory", dest, e))
}
