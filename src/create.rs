//! `create`: tree → archive.
//!
//! Walk (sorted, each directory read by its descriptor, names stat'ed in
//! parallel) → label and host → context translation of every entry → tar
//! blocks → frames, built (files read) and compressed in parallel by a
//! [`FramePipeline`] → the archive, written under a temporary name and
//! renamed into place, so an unmapped ID (with `--unmapped error`) leaves no
//! archive.
//!
//! Writing to a file without `--from-xattrs` or `--from-manifest`, the walk
//! runs on its own thread while entries are laid out and compressed; the
//! global header, which names the maps of every label found on disk, then
//! gets a first frame of its own, made when the walk ends. Otherwise (those
//! overrides need the whole tree; standard output cannot take bytes back)
//! the walk and the translation of every entry come first.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::context::{Maps, Registry, validate_label};
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::frame::BufferPool;
use crate::frame::index::IndexBuilder;
use crate::frame::{FRAME_CUT, FRAME_TARGET, FramePipeline};
use crate::names::Names;
use crate::output::{OutFormat, Output};
use crate::ownership::OwnerOptions;
use crate::report::Report;
use crate::tar::write as tw;
use crate::translate::{Direction, Outcome, Seen, translate, translate_seen, translate_xattrs};
use crate::walk::{WalkedFile, member_prefix, walk};

/// What to create.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// The archive to write (`-` for stdout).
    pub archive: PathBuf,
    /// `-C`: the directory the paths are relative to.
    pub dir: PathBuf,
    /// Paths to archive.
    pub paths: Vec<PathBuf>,
    /// Output format.
    pub format: OutFormat,
    /// Ownership.
    pub owners: OwnerOptions,
    /// Take owners, modes and types from `user.containers.override_stat`
    /// and umoci's `user.rootlesscontainers` where files carry them.
    pub from_xattrs: bool,
    /// Take owners, modes, types and times from this mtree spec; it may
    /// add entries that do not exist on disk (device nodes).
    pub manifest: Option<PathBuf>,
    /// Walk inside a user namespace built from the map: `Some(true)`
    /// always, `Some(false)` never, `None` when not root and the map is a
    /// non-identity map the user's subordinate ranges cover.
    pub userns: Option<bool>,
    /// Keep sub-second modification times (a pax `mtime` record for each
    /// member that has one). Without it mtimes are whole seconds (rounded
    /// down), as in GNU tar's and bsdtar's default formats and in container
    /// image layers.
    pub nanoseconds: bool,
    /// `--transform`: member names and link targets renamed as they are
    /// stored (`-v` shows the names before).
    pub transform: Option<crate::transform::Transform>,
}

struct Plan {
    label: Option<String>,
    /// The maps owners are translated through (host → context), recorded
    /// as provenance.
    maps: Option<Maps>,
    names: Option<Names>,
    /// `names` are the host's databases (never attached to foreign IDs).
    host_names: bool,
}

/// Create an archive. `on_entry` is called with each member name as it is
/// written (for `-v`); `progress` gets the totals after the walk, then the
/// bytes and entries as they are written.
///
/// # Errors
/// A path that does not exist, an unmapped ID (with [`Unmapped::Error`]: no
/// archive is written), an unknown context, or a write error.
pub fn create(
    opts: &CreateOptions,
    reg: &Registry,
    on_entry: &mut dyn FnMut(&[u8]),
    progress: &crate::progress::Progress,
) -> Result<Report> {
    let mut report = Report::default();
    if let Some(l) = &opts.owners.context {
        validate_label(l).map_err(Error::usage)?;
    }
    // Before the walk: no thread may exist yet.
    let ns = namespace_for(opts, reg)?
        .map(enter_walk_namespace)
        .transpose()?;
    if opts.paths.iter().any(|p| member_prefix(p).1) {
        report
            .warnings
            .push("Removing leading '/' from member names".into());
    }
    let host_names = (!opts.owners.numeric_owner).then(Names::host);
    let env = Env {
        opts,
        reg,
        ns: ns.as_ref(),
        host_names: host_names.as_ref(),
    };
    // Overrides from xattrs and manifests need the whole tree first (records
    // on directories, entries added in order); so does standard output,
    // where nothing written can be taken back. Else the walk and the writing
    // overlap.
    if !opts.from_xattrs && opts.manifest.is_none() && opts.archive != Path::new("-") {
        return create_streaming(&env, report, on_entry, progress);
    }
    create_collected(&env, report, on_entry, progress)
}

/// What every part of a create run consults.
struct Env<'a> {
    opts: &'a CreateOptions,
    reg: &'a Registry,
    /// The user namespace the walk runs in, if any.
    ns: Option<&'a Walk>,
    host_names: Option<&'a Names>,
}

impl Env<'_> {
    fn plan(&self, label: &Option<String>) -> Result<Plan> {
        let mut plan = plan_for(label, self.opts, self.reg, self.host_names)?;
        if let Some(w) = self.ns {
            plan.maps = Some(w.maps.clone());
        }
        Ok(plan)
    }

    /// The zstd level of the frames; other compressors compress the
    /// whole stream in [`Output`].
    fn level(&self) -> Option<i32> {
        match self.opts.format {
            OutFormat::Zstd(level) => Some(level),
            _ => None,
        }
    }
}

/// Labels: the one given, else the entry's own on disk, else its parent's.
#[derive(Default)]
struct Labeler {
    inherited: HashMap<Vec<u8>, Option<String>>,
}

impl Labeler {
    fn assign(&mut self, opts: &CreateOptions, e: &mut Entry) {
        let label = if opts.owners.context.is_some() {
            opts.owners.context.clone()
        } else {
            let own = e.label.take();
            let parent = e
                .path
                .iter()
                .rposition(|&b| b == b'/')
                .map(|i| e.path[..i].to_vec());
            let l = own.or_else(|| parent.and_then(|p| self.inherited.get(&p).cloned().flatten()));
            if e.kind == Kind::Dir {
                self.inherited.insert(e.path.clone(), l.clone());
            }
            l
        };
        e.label = label;
    }
}

/// Owners turned from the host view to the context view, entry by entry.
#[derive(Default)]
struct Translator {
    unmapped: Vec<Error>,
    squashed: usize,
}

impl Translator {
    fn translate(
        &mut self,
        s: &mut WalkedFile,
        plan: &Plan,
        env: &Env,
        pending_specs: &mut HashMap<Vec<u8>, crate::mtree::Spec>,
    ) {
        let host_uid = s.entry.uid;
        let host_gid = s.entry.gid;
        if let Some(m) = &plan.maps {
            match Self::owners(s, m, plan, env) {
                Ok(o) => self.squashed += usize::from(o.uid_squashed || o.gid_squashed),
                Err(e) => self.unmapped.push(e),
            }
        }
        if !pending_specs.is_empty()
            && let Some(spec) = pending_specs.remove(&norm_member(&s.entry.path))
        {
            apply_spec(&mut s.entry, &spec);
        }
        let ns = env.ns.is_some();
        if let Some(n) = plan
            .names
            .as_ref()
            .filter(|_| !(plan.host_names && (s.fixed || ns)))
        {
            let (u, g) = if plan.maps.is_some() || s.fixed || ns {
                (s.entry.uid, s.entry.gid)
            } else {
                (host_uid, host_gid)
            };
            s.entry.uname = u32::try_from(u)
                .ok()
                .and_then(|u| n.users.name_of(u))
                .map(|x| x.as_bytes().to_vec());
            s.entry.gname = u32::try_from(g)
                .ok()
                .and_then(|g| n.groups.name_of(g))
                .map(|x| x.as_bytes().to_vec());
        }
    }

    /// An entry's owners (and ID-bearing xattrs) through `m`, host view →
    /// context view; inside a user namespace, as [`translate_seen`] reads
    /// them. Owners fixed by an override are in the context view already.
    fn owners(s: &mut WalkedFile, m: &Maps, plan: &Plan, env: &Env) -> Result<Outcome> {
        let owners = &env.opts.owners;
        let what = match env.ns {
            Some(_) if owners.maps.is_none() && owners.context.is_none() => {
                "context rootless, the default of --userns".to_string()
            }
            _ => owners.map_origin(plan.label.as_deref()),
        };
        let (e, policy, to) = (&mut s.entry, owners.unmapped, Direction::ToContext);
        match env.ns {
            _ if s.fixed => translate_xattrs(e, env.ns.map_or(m, |w| &w.view), to, policy, &what)
                .map(|()| Outcome::default()),
            Some(w) => {
                let seen = Seen {
                    view: &w.view,
                    overflow: w.overflow,
                };
                translate_seen(e, m, &seen, policy, &what)
            }
            None => translate(e, m, to, policy, &what),
        }
    }

    /// The run's verdict: an error when any owner was unmapped ("no
    /// archive written"), a warning when some were squashed.
    fn finish(self, report: &mut Report) -> Result<()> {
        if !self.unmapped.is_empty() {
            let n = self.unmapped.len();
            let mut msg = String::from("no archive written: ");
            for e in self.unmapped.iter().take(5) {
                msg.push_str(&format!("\n  {e}"));
            }
            if n > 5 {
                msg.push_str(&format!("\n  ... and {} more", n - 5));
            }
            return Err(Error::unmapped(msg));
        }
        if self.squashed > 0 {
            report.warnings.push(format!(
                "{} entries had owners outside the map and were stored as {}; their setuid/setgid bits were dropped",
                self.squashed,
                crate::idmap::OVERFLOW_ID
            ));
        }
        Ok(())
    }
}

/// The global header's records: the format version and, by label, the
/// maps of every context used (identity when the context has none).
fn global_records(plans: &HashMap<Option<String>, Plan>) -> Vec<(String, String)> {
    let mut globals = vec![("ALIENTAR.version".to_string(), "1".to_string())];
    let mut labelled: Vec<&Plan> = plans.values().filter(|p| p.label.is_some()).collect();
    labelled.sort_by(|a, b| a.label.cmp(&b.label));
    for p in labelled {
        let l = p.label.as_deref().unwrap_or_default();
        let (u, g) = match &p.maps {
            Some(m) => (m.uid.to_string(), m.gid.to_string()),
            None => ("0:0:4294967295".to_string(), "0:0:4294967295".to_string()),
        };
        globals.push((format!("ALIENTAR.context.{l}.uidmap"), u));
        globals.push((format!("ALIENTAR.context.{l}.gidmap"), g));
    }
    globals
}

fn global_header(plans: &HashMap<Option<String>, Plan>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1024);
    tw::encode_global(&global_records(plans), &mut buf);
    buf
}

/// Members written in order: hard links recognized, each laid out in frames.
struct Members<'a> {
    planner: Planner<'a>,
    links: HashMap<(u64, u64), Vec<u8>>,
    target: PathBuf,
    /// [`CreateOptions::nanoseconds`].
    nanoseconds: bool,
    /// What the frame builders met (files that shrank, changed, vanished).
    notes: Arc<Notes>,
    /// [`CreateOptions::transform`].
    transform: Option<crate::transform::Transform>,
}

impl<'a> Members<'a> {
    /// Members written to `out` (just opened), compressed as `env` says.
    fn new(env: &Env, out: &mut Output, progress: &crate::progress::Progress) -> Members<'a> {
        let writer = out.writer.take().expect("fresh output");
        let notes = Arc::new(Notes::default());
        Members {
            planner: Planner::new(
                FramePipeline::new(writer, env.level()),
                notes.clone(),
                progress.clone(),
            ),
            links: HashMap::new(),
            target: out.display.clone(),
            nanoseconds: env.opts.nanoseconds,
            transform: env.opts.transform.clone(),
            notes,
        }
    }

    fn werr(&self, e: io::Error) -> Error {
        Error::io("cannot write the archive", &self.target, e)
    }

    fn write(
        &mut self,
        s: WalkedFile,
        on_entry: &mut dyn FnMut(&[u8]),
        progress: &crate::progress::Progress,
        report: &mut Report,
    ) -> Result<()> {
        let WalkedFile {
            fs_path,
            mut entry,
            dev,
            ino,
            nlink,
            fixed: _,
        } = s;
        if entry.kind != Kind::Dir && nlink > 1 {
            if let Some(first) = self.links.get(&(dev, ino)) {
                entry.kind = Kind::HardLink;
                entry.link = Some(first.clone());
                entry.size = 0;
            } else {
                self.links.insert((dev, ino), entry.path.clone());
            }
        }
        // The file's own time, to tell whether it changed while read.
        let seen = entry.mtime;
        if !self.nanoseconds {
            entry.mtime.nsec = 0;
        }
        on_entry(&entry.path);
        transform_member(self.transform.as_ref(), &mut entry);
        if let Err(e) = self.planner.entry(entry, fs_path, seen) {
            return Err(self.werr(e));
        }
        progress.add_entry();
        report.entries += 1;
        Ok(())
    }

    /// The end-of-archive marker, the index and the seek table; then the
    /// archive goes into place and what the frame builders met into
    /// `report`.
    fn finish(self, out: Output, report: &mut Report) -> Result<()> {
        let Members {
            mut planner,
            target,
            notes,
            ..
        } = self;
        let werr = |e: io::Error| Error::io("cannot write the archive", &target, e);
        let mut buf = Vec::new();
        tw::end_of_archive(&mut buf);
        planner.drain().map_err(werr)?;
        let end = planner.position();
        planner.bytes(&buf).map_err(werr)?;
        report.bytes = planner.finish(end).map_err(werr)?;
        out.commit()?;
        let notes = std::mem::take(&mut *notes.0.lock().unwrap_or_else(|p| p.into_inner()));
        for n in notes {
            match n {
                Note::Warning(w) => report.warnings.push(w),
                Note::Error(e) => report.errors.push(e),
            }
        }
        Ok(())
    }
}

/// Rename a member as `--transform` says: its name (a leading `/` the
/// expressions make is removed, an empty name becomes `.`, as in GNU tar)
/// and its link target.
fn transform_member(t: Option<&crate::transform::Transform>, e: &mut Entry) {
    let Some(t) = t else { return };
    t.apply_entry(e);
    let start = e
        .path
        .iter()
        .position(|&b| b != b'/')
        .unwrap_or(e.path.len());
    e.path.drain(..start);
    if e.path.is_empty() {
        e.path.push(b'.');
    }
}

/// Walk, then write: for overrides from xattrs or a manifest, and for
/// standard output.
fn create_collected(
    env: &Env,
    mut report: Report,
    on_entry: &mut dyn FnMut(&[u8]),
    progress: &crate::progress::Progress,
) -> Result<Report> {
    let opts = env.opts;
    let w = walk(&opts.dir, &opts.paths)?;
    report.errors = w.errors;
    for s in &w.sockets {
        report
            .warnings
            .push(format!("{}: socket ignored", s.display()));
    }
    let mut sources = w.files;
    if opts.from_xattrs {
        let link_owners = symlink_owner_records(&mut sources);
        for s in &mut sources {
            if let Err(e) = override_from_xattrs(s) {
                report.errors.push(e);
            }
            if s.entry.kind == Kind::Symlink
                && let Some(&(u, g)) = link_owners.get(&s.entry.path)
            {
                s.entry.uid = u64::from(u);
                s.entry.gid = u64::from(g);
                s.fixed = true;
            }
        }
    }
    let mut pending_specs: HashMap<Vec<u8>, crate::mtree::Spec> = HashMap::new();
    if let Some(m) = &opts.manifest {
        pending_specs = apply_manifest(&mut sources, m, opts)?;
    }

    // Labels (explicit, else inherited on disk), maps and names per label.
    let mut plans: HashMap<Option<String>, Plan> = HashMap::new();
    let mut labeler = Labeler::default();
    for s in &mut sources {
        labeler.assign(opts, &mut s.entry);
        if !plans.contains_key(&s.entry.label) {
            plans.insert(s.entry.label.clone(), env.plan(&s.entry.label)?);
        }
    }

    // Translate everything before writing anything.
    let mut tr = Translator::default();
    for s in &mut sources {
        let plan = &plans[&s.entry.label];
        tr.translate(s, plan, env, &mut pending_specs);
    }
    tr.finish(&mut report)?;

    progress.set_total(
        sources.iter().map(|s| s.entry.size).sum(),
        sources.len() as u64,
    );
    let mut out = Output::open(&opts.archive, opts.format)?;
    let mut members = Members::new(env, &mut out, progress);
    let header = global_header(&plans);
    members
        .planner
        .bytes(&header)
        .map_err(|e| members.werr(e))?;
    for s in sources {
        members.write(s, on_entry, progress, &mut report)?;
    }
    members.finish(out, &mut report)?;
    Ok(report)
}

/// Walk and write at once: the walk runs on its own thread (stat'ing in
/// parallel) while entries are laid out and frames compressed. The global
/// header, which names the maps of every label found on disk, goes in a
/// first frame of its own, made when the walk is over (or sooner when the
/// label is given); later frames are compressed meanwhile. An unmapped owner
/// still means no archive: the temporary output is removed.
fn create_streaming(
    env: &Env,
    mut report: Report,
    on_entry: &mut dyn FnMut(&[u8]),
    progress: &crate::progress::Progress,
) -> Result<Report> {
    use crate::walk::Item;
    use std::collections::BTreeSet;
    let opts = env.opts;
    // A path given on the command line must exist: checked before any output.
    let roots = crate::walk::roots(&opts.dir, &opts.paths)?;
    let mut out = Output::open(&opts.archive, opts.format)?;
    // The archive being written is not archived (it may lie in the tree).
    let own = out.id();
    let mut members = Members::new(env, &mut out, progress);
    let (labels_tx, labels_rx) = crossbeam_channel::bounded::<BTreeSet<String>>(1);
    let mut plans: HashMap<Option<String>, Plan> = HashMap::new();
    if opts.owners.context.is_some() {
        // Every entry gets this label: the header is known now.
        plans.insert(opts.owners.context.clone(), env.plan(&opts.owners.context)?);
        members
            .planner
            .bytes(&global_header(&plans))
            .map_err(|e| members.werr(e))?;
    } else {
        members.planner.defer_header(Box::new(move || {
            let labels = labels_rx.recv().unwrap_or_default();
            let mut plans = HashMap::new();
            for l in labels {
                let l = Some(l);
                let plan = env.plan(&l).map_err(|e| io::Error::other(e.to_string()))?;
                plans.insert(l, plan);
            }
            Ok(global_header(&plans))
        }));
    }
    let mut labeler = Labeler::default();
    let mut tr = Translator::default();
    let mut no_specs = HashMap::new();
    let mut failed: Option<Error> = None;
    let walked = std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<Item>>();
        let prog = progress.clone();
        let walker = scope.spawn(move || {
            let mut labels = BTreeSet::new();
            let (mut bytes, mut entries) = (0u64, 0u64);
            // The walk runs as a job of the pool that compresses frames:
            // its parallel stat calls then go on a worker's own queue, ahead
            // of queued frames. Called from this thread, each waited in the
            // pool's global queue behind up to six frames, and the planner,
            // waiting for the walk, left the cores idle (perf: the walker in
            // rayon's LockLatch, 11-17 % of two cores idle in the first
            // 125 ms of 32 000 small files).
            rayon::scope(|_| {
                crate::walk::walk_each(&roots, &mut |batch| {
                    for it in &batch {
                        if let Item::File(s) = it {
                            entries += 1;
                            if s.entry.kind == Kind::File {
                                bytes += s.entry.size;
                            }
                            if let Some(l) = &s.entry.label
                                && !labels.contains(l)
                            {
                                labels.insert(l.clone());
                            }
                        }
                    }
                    tx.send(batch).is_ok()
                })
            });
            drop(tx);
            prog.set_total(bytes, entries);
            let _ = labels_tx.send(labels);
        });
        for batch in &rx {
            for it in batch {
                match it {
                    Item::File(mut s) => {
                        if own == Some((s.dev, s.ino)) {
                            continue;
                        }
                        labeler.assign(opts, &mut s.entry);
                        if !plans.contains_key(&s.entry.label) {
                            match env.plan(&s.entry.label) {
                                Ok(p) => {
                                    plans.insert(s.entry.label.clone(), p);
                                }
                                Err(e) => {
                                    failed.get_or_insert(e);
                                    continue;
                                }
                            }
                        }
                        let plan = &plans[&s.entry.label];
                        tr.translate(&mut s, plan, env, &mut no_specs);
                        if tr.unmapped.is_empty()
                            && failed.is_none()
                            && let Err(e) = members.write(*s, on_entry, progress, &mut report)
                        {
                            failed = Some(e);
                        }
                    }
                    Item::Socket(p) => report
                        .warnings
                        .push(format!("{}: socket ignored", p.display())),
                    Item::Error(e) => report.errors.push(e),
                }
            }
            if failed.is_some() {
                // Stop the walk (it sees the channel closed) and wait for it.
                break;
            }
        }
        drop(rx);
        walker.join()
    });
    if walked.is_err() {
        return Err(Error::io_nopath(
            "the walk panicked",
            io::Error::other("panic"),
        ));
    }
    if let Some(e) = failed {
        return Err(e);
    }
    tr.finish(&mut report)?;
    members.finish(out, &mut report)?;
    Ok(report)
}

/// What a frame is made of.
enum Piece {
    /// Header blocks, padding, trailers: these bytes of the frame's `meta`.
    Bytes(std::ops::Range<usize>),
    /// `len` bytes of a file from `offset`; `last` when this piece ends the
    /// file's data (the file is then checked for having changed).
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
        size: u64,
        mtime: crate::entry::Time,
        last: bool,
    },
}

enum Note {
    Warning(String),
    Error(Error),
}

/// Problems met by the frame jobs, reported after the archive is written.
#[derive(Default)]
struct Notes(std::sync::Mutex<Vec<Note>>);

impl Notes {
    fn push(&self, n: Note) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(n);
    }
}

/// Lays the archive out in frames as entries arrive and submits each frame
/// as a job that reads its files and builds its bytes on the pool. Files are
/// read at the sizes `lstat` gave during the walk, so the layout (and the
/// index) is known before any data is read; a file that shrinks is padded
/// with zeros, one that grows is cut, both with a warning (as GNU tar does).
struct Planner<'a> {
    pipe: FramePipeline,
    /// The first frame's place, kept for the global header, and what makes
    /// the header (see [`Planner::defer_header`]).
    header: Option<(usize, HeaderMaker<'a>)>,
    /// Bytes of a deferred header (the positions laid out do not count them).
    header_len: u64,
    pieces: Vec<Piece>,
    /// The bytes of the frame's [`Piece::Bytes`], in one buffer (each
    /// header a buffer of its own, made here and freed by the thread that
    /// built the frame, had the threads waiting on the allocator's locks).
    meta: Vec<u8>,
    /// `meta` buffers given back by the frame jobs.
    metas: BufferPool,
    len: usize,
    index: IndexBuilder,
    /// Uncompressed bytes in frames already submitted.
    done: u64,
    /// Entries not laid out yet, and their bytes in the tar stream (see
    /// [`Planner::entry`]).
    held: std::collections::VecDeque<Held>,
    held_bytes: u64,
    /// A header's bytes, before they join the frame.
    scratch: Vec<u8>,
    notes: Arc<Notes>,
    progress: crate::progress::Progress,
}

/// Uncompressed bytes at the start cut into [`SMALL_CUT`]-sized frames.
const EARLY_BYTES: u64 = 2 << 20;
/// About this many bytes at the end of the tar stream are cut into
/// [`SMALL_CUT`]-sized frames too, so that the cores finish together: 16
/// frames, one for each of 16 cores. A constant, not a count of this
/// machine's cores, so that the same tree makes the same archive anywhere.
const TAIL_BYTES: u64 = 8 << 20;

/// An entry waiting to be laid out.
struct Held {
    entry: Entry,
    fs_path: PathBuf,
    seen: crate::entry::Time,
    /// Its bytes in the tar stream, about (a header block is counted for
    /// the headers).
    bytes: u64,
}

/// The size at which a frame at the start or the end is closed at an entry
/// boundary.
const SMALL_CUT: usize = 512 << 10;

/// Makes the global header once everything it names is known.
type HeaderMaker<'a> = Box<dyn FnOnce() -> io::Result<Vec<u8>> + 'a>;

impl<'a> Planner<'a> {
    fn new(
        pipe: FramePipeline,
        notes: Arc<Notes>,
        progress: crate::progress::Progress,
    ) -> Planner<'a> {
        Planner {
            pipe,
            header: None,
            header_len: 0,
            pieces: Vec::new(),
            meta: Vec::new(),
            metas: BufferPool::default(),
            len: 0,
            index: IndexBuilder::default(),
            done: 0,
            held: std::collections::VecDeque::new(),
            held_bytes: 0,
            scratch: Vec::new(),
            notes,
            progress,
        }
    }

    /// Lay out `b` after everything taken so far (so with no entry held:
    /// before the first, or after [`Planner::drain`]).
    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        debug_assert!(self.held.is_empty(), "bytes laid out before held entries");
        self.put(b)
    }

    /// Append `b` to the frames being laid out.
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        let mut b = b;
        while !b.is_empty() {
            if self.len == FRAME_TARGET {
                self.submit()?;
            }
            let n = (FRAME_TARGET - self.len).min(b.len());
            let at = self.meta.len();
            self.meta.extend_from_slice(&b[..n]);
            match self.pieces.last_mut() {
                Some(Piece::Bytes(r)) if r.end == at => r.end += n,
                _ => self.pieces.push(Piece::Bytes(at..at + n)),
            }
            self.len += n;
            b = &b[n..];
        }
        Ok(())
    }

    /// Take `e` (`seen` is the mtime its file had when stat'ed). Where
    /// frames are cut must not depend on timing (the same tree makes the
    /// same archive), so whether an entry is among the last
    /// [`TAIL_BYTES`] of the stream is told by looking ahead, not by
    /// whether the walk has ended: an entry is laid out once the entries
    /// after it hold that many bytes, or at [`Planner::drain`]. In the
    /// first [`EARLY_BYTES`], cut small anyway, entries are laid out at once.
    fn entry(&mut self, e: Entry, fs_path: PathBuf, seen: crate::entry::Time) -> io::Result<()> {
        let bytes = crate::tar::header::BLOCK as u64
            + if e.kind == Kind::File {
                e.size + crate::tar::read::padding(e.size)
            } else {
                0
            };
        self.held_bytes += bytes;
        self.held.push_back(Held {
            entry: e,
            fs_path,
            seen,
            bytes,
        });
        while self.held.front().is_some_and(|first| {
            self.done < EARLY_BYTES || self.held_bytes - first.bytes >= TAIL_BYTES
        }) {
            self.lay_out_first(false)?;
        }
        Ok(())
    }

    /// Lay out the entries still held: the tail of the archive.
    fn drain(&mut self) -> io::Result<()> {
        while !self.held.is_empty() {
            self.lay_out_first(true)?;
        }
        Ok(())
    }

    /// Lay out the first entry held (there is one).
    fn lay_out_first(&mut self, tail: bool) -> io::Result<()> {
        let h = self.held.pop_front().expect("an entry is held");
        self.held_bytes -= h.bytes;
        self.lay_out(&h.entry, h.fs_path, h.seen, tail)
    }

    /// Plan `e`'s header and data; `tail` when it is among the archive's
    /// last [`TAIL_BYTES`].
    fn lay_out(
        &mut self,
        e: &Entry,
        fs_path: PathBuf,
        seen: crate::entry::Time,
        tail: bool,
    ) -> io::Result<()> {
        if self.len == FRAME_TARGET {
            self.submit()?;
        }
        self.index.push(e, self.done + self.len as u64);
        // The header is encoded in a buffer kept for the next entry.
        let mut h = std::mem::take(&mut self.scratch);
        h.clear();
        tw::encode_entry(e, &mut h);
        let r = self.put(&h);
        self.scratch = h;
        r?;
        if e.kind == Kind::File && e.size > 0 {
            let mut path = Some(fs_path);
            let mut offset = 0u64;
            while offset < e.size {
                if self.len == FRAME_TARGET {
                    self.submit()?;
                }
                let len = ((FRAME_TARGET - self.len) as u64).min(e.size - offset);
                let last = offset + len == e.size;
                // (A file across frames: a copy of its path for each.)
                let path = if last {
                    path.take().unwrap_or_default()
                } else {
                    path.clone().unwrap_or_default()
                };
                self.pieces.push(Piece::File {
                    path,
                    offset,
                    len,
                    size: e.size,
                    mtime: seen,
                    last,
                });
                self.len += len as usize;
                offset += len;
            }
            let pad = crate::tar::read::padding(e.size) as usize;
            self.put(&[0u8; 512][..pad])?;
        }
        // The first frames are cut small, so that every core compresses
        // while the walk is still near its start; so are the last ones, so
        // that the cores finish together.
        let cut = if self.done < EARLY_BYTES || tail {
            SMALL_CUT
        } else {
            FRAME_CUT
        };
        if self.len >= cut {
            self.submit()?;
        }
        Ok(())
    }

    /// Keep the first frame for the global header, made by `make` when the
    /// pipeline would otherwise wait for it, or at the end. Call before
    /// anything else.
    fn defer_header(&mut self, make: HeaderMaker<'a>) {
        let seq = self.pipe.reserve();
        self.header = Some((seq, make));
    }

    fn resolve_header(&mut self) -> io::Result<()> {
        if let Some((seq, make)) = self.header.take() {
            let h = make()?;
            self.header_len = h.len() as u64;
            self.pipe.submit_reserved(seq, Box::new(move || Ok(h)));
        }
        Ok(())
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.pieces.is_empty() {
            return Ok(());
        }
        if self.header.is_some() && self.pipe.would_block() {
            // Later frames fill every place: the header is needed now.
            self.resolve_header()?;
        }
        let pieces = std::mem::take(&mut self.pieces);
        let meta = std::mem::replace(&mut self.meta, self.metas.take());
        let metas = self.metas.clone();
        let len = std::mem::replace(&mut self.len, 0);
        self.done += len as u64;
        let notes = self.notes.clone();
        let progress = self.progress.clone();
        self.pipe.submit(Box::new(move || {
            let frame = build_frame(pieces, &meta, len, &notes, &progress);
            metas.give(meta);
            Ok(frame)
        }))
    }

    /// Submit the last frame; `end` is where the entries end (the start of
    /// the end-of-archive marker). Returns the tar stream's length.
    fn finish(mut self, end: u64) -> io::Result<u64> {
        self.submit()?;
        self.resolve_header()?;
        let Planner {
            pipe,
            mut index,
            header_len,
            done,
            ..
        } = self;
        index.shift(header_len);
        pipe.finish(Some(index.finish_at(end)?))?;
        Ok(done + header_len)
    }

    /// Uncompressed bytes laid out so far.
    fn position(&self) -> u64 {
        self.done + self.len as u64
    }
}

/// Build one frame's bytes: copy byte pieces, read file pieces.
fn build_frame(
    pieces: Vec<Piece>,
    meta: &[u8],
    len: usize,
    notes: &Notes,
    progress: &crate::progress::Progress,
) -> Vec<u8> {
    let mut out = crate::frame::input_buffer(len);
    let mut open: Option<(PathBuf, Option<File>)> = None;
    // The directory of the last file opened: a frame's files mostly share
    // one, and opening by name in it saves resolving the whole path.
    let mut dir: Option<(PathBuf, Option<crate::sys::Dir>)> = None;
    for p in pieces {
        match p {
            Piece::Bytes(r) => out.extend_from_slice(&meta[r]),
            Piece::File {
                path,
                offset,
                len,
                size,
                mtime,
                last,
            } => {
                // (Compared as bytes: `Path`'s `==` walks both paths'
                // components from the end whenever they differ, which is
                // every new file.)
                if open
                    .as_ref()
                    .is_none_or(|(p, _)| p.as_os_str() != path.as_os_str())
                {
                    let f = match open_in(&mut dir, &path) {
                        Ok(f) => Some(f),
                        Err(e) => {
                            if offset == 0 {
                                notes.push(Note::Error(Error::io(
                                    "cannot open {} (zeros archived instead)",
                                    &*path,
                                    e,
                                )));
                            }
                            None
                        }
                    };
                    open = Some((path, f));
                }
                let (path, f) = open.as_ref().expect("opened above");
                let start = out.len();
                let mut got = 0usize;
                if let Some(f) = f {
                    while got < len as usize {
                        match crate::sys::pread_append(
                            f,
                            &mut out,
                            len as usize - got,
                            offset + got as u64,
                        ) {
                            Ok(0) => break,
                            Ok(n) => got += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                notes.push(Note::Error(Error::io(
                                    "cannot read {} (zeros archived for the rest)",
                                    path,
                                    e,
                                )));
                                break;
                            }
                        }
                    }
                    if got < len as usize {
                        notes.push(Note::Warning(format!(
                            "{}: file shrank by {} bytes; padded with zeros",
                            path.display(),
                            size - offset - got as u64
                        )));
                    } else if last {
                        let changed = crate::sys::fstat(f)
                            .map(|m| m.size != size || m.mtime != mtime)
                            .unwrap_or(false);
                        if changed {
                            notes.push(Note::Warning(format!(
                                "{}: file changed as we read it",
                                path.display()
                            )));
                        }
                    }
                }
                // What could not be read is archived as zeros.
                out.resize(start + len as usize, 0);
                progress.add_bytes(len);
            }
        }
    }
    out
}

fn plan_for(
    label: &Option<String>,
    opts: &CreateOptions,
    reg: &Registry,
    host: Option<&Names>,
) -> Result<Plan> {
    let maps = match (&opts.owners.maps, label) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(l)) => Some(reg.maps(l)?),
        (None, None) => None,
    };
    let maps = maps.filter(|m| !(m.uid.is_identity() && m.gid.is_identity()));
    let mut host_names = false;
    let names = if opts.owners.numeric_owner {
        None
    } else if let Some(root) = label
        .as_ref()
        .and_then(|l| reg.get(l))
        .and_then(|c| c.names.clone())
    {
        Some(Names::from_root(&root))
    } else if maps.is_none() && label.as_deref().is_none_or(|l| l == "host") {
        host_names = true;
        host.cloned()
    } else {
        None
    };
    Ok(Plan {
        label: label.clone(),
        maps,
        names,
        host_names,
    })
}

/// The user namespace a create walk runs in.
struct Walk {
    /// The context's map.
    maps: Maps,
    /// Context IDs → IDs as seen inside the namespace.
    view: Maps,
    /// The (uid, gid) the kernel shows for owners outside the map.
    overflow: (u32, u32),
}

/// Move into a user namespace from which the walk can read what `maps`
/// covers, and in which an owner outside `maps` shows as the overflow ID
/// and nothing else (see [`Maps::walk_layout`]).
fn enter_walk_namespace(maps: Maps) -> Result<Walk> {
    let overflow = crate::sys::userns::overflow_ids();
    let (ns, view) = maps.walk_layout(overflow).map_err(|e| {
        Error::map(format!(
            "cannot lay out a user namespace for the walk (uid {} gid {}) where the overflow IDs {}:{} stay unmapped: {}",
            maps.uid, maps.gid, overflow.0, overflow.1, e.kind()
        ))
    })?;
    crate::sys::userns::enter_laid_out(&ns, &maps)?;
    Ok(Walk {
        maps,
        view,
        overflow,
    })
}

/// The map to walk inside a user namespace with, if `create` should.
fn namespace_for(opts: &CreateOptions, reg: &Registry) -> Result<Option<Maps>> {
    let want = match opts.userns {
        Some(false) => return Ok(None),
        Some(true) => true,
        None => {
            if crate::sys::privileged() || opts.from_xattrs || opts.manifest.is_some() {
                return Ok(None);
            }
            if opts.owners.maps.is_none() && opts.owners.context.is_none() {
                return Ok(None);
            }
            false
        }
    };
    let m = crate::ownership::namespace_maps(&opts.owners, reg)?;
    if want {
        return Ok(Some(m));
    }
    let identity = m.uid.is_identity() && m.gid.is_identity();
    Ok((!identity
        && crate::sys::userns::available()
        && crate::sys::userns::coverable(&m, reg.invoker()))
    .then_some(m))
}

/// A member name without leading `./` (`.` itself is empty), as manifests name paths.
fn norm_member(p: &[u8]) -> Vec<u8> {
    let mut p = p;
    while let Some(r) = p.strip_prefix(b"./") {
        p = r;
    }
    if p == b"." { Vec::new() } else { p.to_vec() }
}

/// Collect (and remove from the archived xattrs) the symlink owner records
/// directories carry: member path of the symlink → (uid, gid).
fn symlink_owner_records(sources: &mut [WalkedFile]) -> HashMap<Vec<u8>, (u32, u32)> {
    use crate::ondisk::{SYMLINK_OWNERS_XATTR, decode_symlink_owners};
    let mut out = HashMap::new();
    for s in sources.iter_mut().filter(|s| s.entry.kind == Kind::Dir) {
        if let Some(i) = s
            .entry
            .xattrs
            .iter()
            .position(|(n, _)| n == SYMLINK_OWNERS_XATTR)
        {
            let (_, v) = s.entry.xattrs.remove(i);
            for (name, u, g) in decode_symlink_owners(&v) {
                let mut p = s.entry.path.clone();
                p.push(b'/');
                p.extend_from_slice(&name);
                out.insert(p, (u, g));
            }
        }
    }
    out
}

/// Take owner, mode and type from `user.containers.override_stat` or
/// `user.rootlesscontainers`; both are removed from the archived xattrs.
fn override_from_xattrs(s: &mut WalkedFile) -> Result<()> {
    use crate::ondisk::{OVERRIDE_XATTR, Override, OverrideKind, ROOTLESS_XATTR, decode_rootless};
    let e = &mut s.entry;
    let ov = e
        .xattrs
        .iter()
        .position(|(n, _)| n == OVERRIDE_XATTR)
        .map(|i| e.xattrs.remove(i).1);
    let rl = e
        .xattrs
        .iter()
        .position(|(n, _)| n == ROOTLESS_XATTR)
        .map(|i| e.xattrs.remove(i).1);
    if let Some(v) = ov {
        let o = Override::decode(&v).map_err(|m| Error::format(m).with_path(&s.fs_path))?;
        e.uid = u64::from(o.uid);
        e.gid = u64::from(o.gid);
        e.mode = o.mode;
        match o.kind {
            Some(OverrideKind::Char(a, b)) | Some(OverrideKind::Block(a, b)) => {
                e.kind = if matches!(o.kind, Some(OverrideKind::Char(..))) {
                    Kind::Char
                } else {
                    Kind::Block
                };
                e.dev_major = a;
                e.dev_minor = b;
                e.size = 0;
            }
            Some(OverrideKind::Pipe) if e.kind == Kind::File && e.size == 0 => e.kind = Kind::Fifo,
            _ => {}
        }
        s.fixed = true;
    } else if let Some(v) = rl {
        let (u, g) = decode_rootless(&v).map_err(|m| Error::format(m).with_path(&s.fs_path))?;
        e.uid = u64::from(u.unwrap_or(0));
        e.gid = u64::from(g.unwrap_or(0));
        s.fixed = true;
    }
    Ok(())
}

/// Apply a manifest's fields to an entry (owner fields are context view).
fn apply_spec(e: &mut crate::entry::Entry, spec: &crate::mtree::Spec) {
    if let Some(u) = spec.uid {
        e.uid = u64::from(u);
    }
    if let Some(g) = spec.gid {
        e.gid = u64::from(g);
    }
    if spec.uname.is_some() {
        e.uname = spec.uname.clone();
    }
    if spec.gname.is_some() {
        e.gname = spec.gname.clone();
    }
    if let Some(m) = spec.mode {
        e.mode = m;
    }
    if let Some(t) = spec.time {
        e.mtime = t;
    }
    if let Some(k) = spec.kind {
        match k {
            Kind::Char | Kind::Block | Kind::Fifo if e.kind == Kind::File && e.size == 0 => {
                e.kind = k
            }
            _ => {}
        }
    }
    if let Some((a, b)) = spec.device {
        e.dev_major = a;
        e.dev_minor = b;
    }
}

/// Apply an mtree spec to the walked sources. Entries whose spec gives both
/// owners are applied now (their owners are context view); the others are
/// returned to be applied after translation. Spec paths that are not on
/// disk become new entries (directories, symlinks, devices, FIFOs).
fn apply_manifest(
    sources: &mut Vec<WalkedFile>,
    path: &Path,
    opts: &CreateOptions,
) -> Result<HashMap<Vec<u8>, crate::mtree::Spec>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("cannot read manifest", path, e))?;
    let specs = crate::mtree::parse(&text).map_err(|m| Error::format(m).with_path(path))?;
    let default_time = std::fs::metadata(path)
        .ok()
        .map(|m| crate::entry::Time {
            sec: m.mtime(),
            nsec: m.mtime_nsec() as u32,
        })
        .unwrap_or_default();
    let mut by_path: HashMap<Vec<u8>, crate::mtree::Spec> =
        specs.into_iter().map(|s| (s.path.clone(), s)).collect();
    let mut pending = HashMap::new();
    for s in sources.iter_mut() {
        let key = norm_member(&s.entry.path);
        if let Some(spec) = by_path.remove(&key) {
            if spec.uid.is_some() && spec.gid.is_some() {
                apply_spec(&mut s.entry, &spec);
                s.fixed = true;
            } else {
                pending.insert(key, spec);
            }
        }
    }
    let dot = opts.paths.iter().any(|p| member_prefix(p).0 == b".");
    let mut added: Vec<(Vec<u8>, crate::mtree::Spec)> = by_path.into_iter().collect();
    added.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, spec) in added {
        let kind = spec.kind.unwrap_or(Kind::File);
        let shown = String::from_utf8_lossy(&key).into_owned();
        let problem = match kind {
            Kind::File | Kind::HardLink => Some("type=file names a file that is not in the tree"),
            Kind::Symlink if spec.link.is_none() => Some("type=link needs link="),
            Kind::Char | Kind::Block if spec.device.is_none() => {
                Some("a device needs device=native,MAJOR,MINOR")
            }
            _ => None,
        };
        if let Some(p) = problem {
            return Err(Error::format(format!("manifest entry {shown}: {p}")).with_path(path));
        }
        let mut name = if dot { b"./".to_vec() } else { Vec::new() };
        name.extend_from_slice(&key);
        let mut e = crate::entry::Entry::new(name, kind);
        e.mode = if kind == Kind::Dir { 0o755 } else { 0o644 };
        e.mtime = default_time;
        e.link = spec.link.clone();
        apply_spec(&mut e, &spec);
        sources.push(WalkedFile {
            fs_path: PathBuf::new(),
            entry: e,
            dev: 0,
            ino: 0,
            nlink: 1,
            fixed: true,
        });
    }
    sources.sort_by(|a, b| {
        let ka = norm_member(&a.entry.path);
        let kb = norm_member(&b.entry.path);
        ka.split(|&c| c == b'/').cmp(kb.split(|&c| c == b'/'))
    });
    Ok(pending)
}

/// Open `path` (not following a symlink in its last component) by name in
/// its directory, opened once for a run of files in it (`dir`).
fn open_in(dir: &mut Option<(PathBuf, Option<crate::sys::Dir>)>, path: &Path) -> io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return open_nofollow(path);
    };
    if parent.as_os_str().is_empty() {
        return open_nofollow(path);
    }
    if dir
        .as_ref()
        .is_none_or(|(p, _)| p.as_os_str() != parent.as_os_str())
    {
        *dir = Some((
            parent.to_path_buf(),
            crate::sys::Dir::open_nofollow(parent).ok(),
        ));
    }
    match dir.as_ref().and_then(|(_, d)| d.as_ref()) {
        Some(d) => d.open_file(name.as_bytes()),
        // A parent that is now a symlink, or cannot be opened: by path.
        None => open_nofollow(path),
    }
}

fn open_nofollow(p: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(p)
}
