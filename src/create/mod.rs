//! `create`: tree → archive.
//!
//! Walk (sorted, each directory read by its descriptor, names stat'ed in
//! parallel) → label (`label`; the archive's label is chosen before the
//! walk, from the first path and the directories above it) → host →
//! context translation of every entry (`owners`) → hard links and
//! `--transform` (`members`) → tar blocks laid out in frames (`layout`) →
//! frames built (files read) and compressed in parallel (`build`) → the
//! archive, written under a temporary name and renamed into place, so an
//! unmapped ID (with `--unmapped error`) leaves no archive.
//!
//! Writing to a file without `--from-xattrs` or `--from-manifest`, the walk
//! runs on its own thread while entries are laid out and compressed
//! (`streaming`); the global header, which names the maps of every label
//! found on disk, then gets a first frame of its own, made when the walk
//! ends. Otherwise (those overrides need the whole tree; standard output
//! cannot take bytes back) the walk and the translation of every entry come
//! first (`collected`).

use std::path::{Path, PathBuf};

use crate::context::{Registry, validate_label};
use crate::error::{Error, Result};
use crate::names::Names;
use crate::output::{OutFormat, Output};
use crate::ownership::OwnerOptions;
use crate::report::Report;
use crate::tar::format::TarFormat;
use crate::walk::member_prefix;
use members::Written;

mod build;
mod collected;
mod image;
mod increment;
mod label;
mod layout;
mod members;
mod normalize;
mod overrides;
mod owners;
mod prev;
mod streaming;
mod userns;

pub use image::{ImageOptions, create_image, validate_tag};
pub use increment::Incremental;
pub use normalize::{ForceOwner, Normalize, SetMtime, XattrFilter};
use owners::Plan;
use userns::WalkNamespace;

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
    /// Times, owners, modes and xattrs set the same way in every member.
    pub normalize: Normalize,
    /// What the archive is to an incremental chain.
    pub incremental: Incremental,
    /// What the walk leaves out: excluded names, other filesystems,
    /// caches.
    pub select: crate::select::Select,
    /// The tar dialect (`--format`): alientar's own by default; the others
    /// write no global header and no labels, for consumers such as
    /// sqfstar and umoci ([`create_image`] writes its layer as pax,
    /// whatever this says).
    pub tar_format: TarFormat,
}

/// Create an archive. `on_entry` is called with each member name as it is
/// written (for `-v`); `progress` gets the totals after the walk, then the
/// bytes and entries as they are written.
///
/// # Errors
/// A path that does not exist, an unmapped ID (with
/// [`crate::translate::Unmapped::Error`]: no archive is written), an unknown
/// context, or a write error.
pub fn create(
    opts: &CreateOptions,
    reg: &Registry,
    on_entry: &mut dyn FnMut(&[u8]),
    progress: &crate::progress::Progress,
) -> Result<Report> {
    let watch = Watch { on_entry, progress };
    run(opts, reg, watch, None, None).map(|(report, _)| report)
}

/// Create the archive `opts` says, into `given` if it was opened already;
/// an image layer over `base`, if given: what differs from it.
fn run(
    opts: &CreateOptions,
    reg: &Registry,
    watch: Watch,
    given: Option<Output>,
    base: Option<image::Base>,
) -> Result<(Report, Written)> {
    let mut report = Report::default();
    if opts.incremental != Incremental::No && !opts.tar_format.declares_labels() {
        return Err(Error::usage(
            "an incremental archive records its chain in the global header: a plain pax stream \
             has none",
        ));
    }
    if let Incremental::From(p) = &opts.incremental
        && crate::image::ImageRef::parse(p).is_some()
    {
        return Err(Error::usage(format!(
            "--incremental-from {}: an image records no state for an increment to follow \
             (no state time, no index of the whole tree): give the archive of the chain made \
             last, or start a chain with --incremental",
            p.display()
        )));
    }
    // Before the walk: a file changed after it is stored by the next
    // increment.
    let chain = increment::chain_info(&opts.incremental);
    if let Some(l) = &opts.owners.context {
        validate_label(l).map_err(Error::usage)?;
    }
    if opts.nanoseconds && !opts.tar_format.pax_records() {
        return Err(Error::usage(format!(
            "--nanoseconds needs pax records: --format {} stores whole seconds",
            opts.tar_format.name()
        )));
    }
    let ns = userns::namespace_for(opts, reg)?;
    // The archive and the directory are opened before the namespace is
    // entered, which may not reach them (a namespace alientar makes may not
    // open another's /proc/PID/root); the walk then runs from the directory.
    let (out, here);
    let opts = match &ns {
        Some(_) => {
            (out, here) = open_before_entering(opts, given)?;
            &here
        }
        None => {
            out = given;
            opts
        }
    };
    // Before the walk: no thread may exist yet.
    let ns = ns.map(userns::enter_walk_namespace).transpose()?;
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
        labels: label::DiskLabels::find(opts),
        chain,
    };
    // Overrides from xattrs and manifests need the whole tree first (records
    // on directories, entries added in order); so does standard output,
    // where nothing written can be taken back; so do an increment and a
    // layer over a base, which compare the whole tree first. Else the walk
    // and the writing overlap.
    let increment = matches!(opts.incremental, Incremental::From(_)) || base.is_some();
    if !opts.from_xattrs && opts.manifest.is_none() && opts.archive != Path::new("-") && !increment
    {
        return streaming::create_streaming(&env, report, watch, out);
    }
    collected::create_collected(&env, report, watch, out, base)
}

/// Before entering a user namespace: open the archive, make `-C` the
/// working directory, and return the options as seen from there (paths
/// relative to it, the manifest's path absolute). What cannot be opened
/// yet (a directory only the namespace's IDs may open) is opened after.
/// An archive `given` is open already.
fn open_before_entering(
    opts: &CreateOptions,
    given: Option<Output>,
) -> Result<(Option<Output>, CreateOptions)> {
    let out = given.or_else(|| Output::open(&opts.archive, opts.format).ok());
    let mut here = opts.clone();
    if let Some(m) = &opts.manifest {
        here.manifest = Some(std::path::absolute(m).map_err(|e| Error::io("cannot find", m, e))?);
    }
    if let Incremental::From(p) = &opts.incremental {
        let p = std::path::absolute(p).map_err(|e| Error::io("cannot find", p, e))?;
        here.incremental = Incremental::From(p);
    }
    if out.is_none() && opts.archive != Path::new("-") {
        // Opened after entering, maybe from `-C`: the name is relative to
        // where it was given.
        here.archive = std::path::absolute(&opts.archive)
            .map_err(|e| Error::io("cannot create the archive", &opts.archive, e))?;
    }
    let dir = Some(&opts.dir).filter(|d| !d.as_os_str().is_empty());
    if let Some(Ok(d)) = dir.map(|d| crate::sys::Dir::open(d)) {
        d.chdir()
            .map_err(|e| Error::io("cannot change to the directory", &opts.dir, e))?;
        here.dir = PathBuf::new();
    }
    Ok((out, here))
}

/// The archive: `out` when it was opened before, else opened now.
fn output(opts: &CreateOptions, out: Option<Output>) -> Result<Output> {
    match out {
        Some(o) => Ok(o),
        None => Output::open(&opts.archive, opts.format),
    }
}

/// Who is told of the run as it goes.
struct Watch<'w> {
    /// Told each member name as it is written (for `-v`).
    on_entry: &'w mut dyn FnMut(&[u8]),
    progress: &'w crate::progress::Progress,
}

/// What every part of a create run consults.
struct Env<'a> {
    opts: &'a CreateOptions,
    reg: &'a Registry,
    /// The user namespace the walk runs in, if any.
    ns: Option<&'a WalkNamespace>,
    host_names: Option<&'a Names>,
    /// The labels above the paths archived, and the archive's label.
    labels: label::DiskLabels,
    /// What the archive is to its incremental chain, if it is in one.
    chain: Option<crate::frame::chain::ChainInfo>,
}

impl Env<'_> {
    /// How entries labelled `label` are translated.
    fn plan(&self, label: &Option<String>) -> Result<Plan> {
        owners::plan_for(label, self)
    }

    /// The zstd level of the frames; other compressors compress the
    /// whole stream in [`crate::output::Output`].
    fn level(&self) -> Option<i32> {
        match self.opts.format {
            OutFormat::Zstd(level) => Some(level),
            _ => None,
        }
    }
}
