//! `alientar create`: its options and its run.

use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use alientar::Error;
use alientar::{CreateOptions, ImageOptions, TarFormat, create, create_image};

use super::Env;
use super::incremental::IncrementalArgs;
use super::normalize::NormalizeArgs;
use super::outcome::{Exit, finish_totals, put_line, say_err, stderr_tty, stdout_tty};
use super::select::{CreateSelectArgs, SelectArgs};
use super::shared::{CompressArgs, GnuArgs, OwnerArgs, image_format, out_format, transform_of};

#[derive(Args, Debug)]
pub(super) struct CreateArgs {
    /// Archive to write (`-` for standard output).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "ARCHIVE",
        required_unless_present = "oci"
    )]
    file: Option<PathBuf>,
    /// Write an OCI image instead: the tree as its one layer (with
    /// --base, a layer on a base image), tagged TAG (default latest) in
    /// the image layout DIR.
    ///
    /// DIR is made if missing; an existing layout keeps its other images
    /// (an image tagged TAG is replaced). The layer is zstd-compressed
    /// (-z: gzip, for tools that read no zstd, such as umoci 0.4.7;
    /// --no-compress: none), owners in the context view, without
    /// alientar's global header and label records; the context and its
    /// maps are the image config's labels org.alientar.context and
    /// org.alientar.context.LABEL.uidmap/gidmap. The image's created time
    /// is the newest modification time stored (--mtime, --clamp-mtime,
    /// SOURCE_DATE_EPOCH): the same tree makes the same image. skopeo copy
    /// oci:DIR:TAG containers-storage:NAME puts it in podman's storage.
    /// An image is no incremental archive (--incremental,
    /// --incremental-from): its layer has no global header to record the
    /// chain in.
    #[arg(
        long,
        value_name = "DIR[:TAG]",
        conflicts_with_all = ["file", "incremental", "incremental_from"]
    )]
    oci: Option<String>,
    /// With --oci: build on the image IMAGE (oci:DIR:TAG,
    /// oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]).
    ///
    /// The new image is IMAGE's layers (their blobs shared when DIR is
    /// IMAGE's layout, else copied into DIR) and one more holding only what
    /// differs between IMAGE's final view and the tree: new and changed
    /// entries (type, mode, owners in the context view, time, size, link
    /// target, xattrs; a regular file whose metadata are all the same is
    /// compared by content), whiteouts for what the tree no longer has
    /// (what --exclude and the like leave out is kept), an opaque
    /// directory where a directory replaced a non-directory or stands for
    /// several whiteouts, and the directories above each of them. The
    /// config is IMAGE's, extended: the layer's diff_id and a history
    /// entry appended, the org.alientar.* labels this run's. IMAGE must be
    /// for this machine's platform; an IMAGE whose config names a context
    /// (org.alientar.context) needs the tree in the same one (--context).
    #[arg(long, value_name = "IMAGE", requires = "oci")]
    base: Option<PathBuf>,
    /// Change to DIR before reading PATHs.
    #[arg(
        short = 'C',
        long = "directory",
        value_name = "DIR",
        default_value = "."
    )]
    dir: PathBuf,
    /// Files and directories to archive (with -T, the names listed
    /// follow).
    #[arg(required_unless_present = "files_from", value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    compress: CompressArgs,
    /// Print each member name as it is archived.
    #[arg(short, long)]
    verbose: bool,
    /// Take owners, modes and types from user.containers.override_stat
    /// (and umoci's user.rootlesscontainers) where files carry them.
    ///
    /// This reads back a tree restored with extract --owners xattr, or one
    /// containers/storage or umoci wrote: owners, modes, types and device
    /// numbers from user.containers.override_stat (else umoci's
    /// user.rootlesscontainers), symlink owners from their directory's
    /// user.alientar.symlink-owners, capabilities from
    /// user.containers.override_security.capability. A file without a
    /// record (a symlink owned by the context's root: symlinks cannot carry
    /// user xattrs) is read as containers/storage reads it, through your own
    /// layout: your uid is 0 and your /etc/subuid ranges 1, 2, ... (without
    /// ranges only your uid, as 0; as root, unchanged). --map or --context
    /// reads it through that map instead.
    #[arg(long)]
    from_xattrs: bool,
    /// Take owners, modes, types and times from an mtree spec (bsdtar's
    /// dialect); it may add entries that cannot exist on disk (devices).
    #[arg(long, value_name = "FILE")]
    from_manifest: Option<PathBuf>,
    /// Walk inside a user namespace built from the map (default: when not
    /// root and your subordinate ranges cover the map).
    #[arg(long, overrides_with = "no_userns")]
    userns: bool,
    /// Never use a user namespace.
    #[arg(long)]
    no_userns: bool,
    /// Keep sub-second modification times (a pax record per member that
    /// has one); by default mtimes are whole seconds, as in GNU tar's and
    /// bsdtar's default formats.
    #[arg(long)]
    nanoseconds: bool,
    /// The tar dialect: alientar (the default), pax, gnu or ustar.
    ///
    /// alientar: pax with a global header that declares the archive's
    /// context and maps, and label records (docs/format.md). The others
    /// write neither, for consumers that refuse or keep them: pax (posix)
    /// an extended header only where a member needs one (long names, large
    /// IDs, xattrs; sqfstar, tar2sqfs; --oci writes its layer so); gnu GNU
    /// tar's format (long names as ././@LongLink members, large numbers in
    /// base-256; no xattrs, whole seconds); ustar plain POSIX ustar, where
    /// a member whose name, link, IDs, size or time do not fit is not
    /// archived (an error), as with GNU tar.
    #[arg(
        short = 'H',
        long,
        value_enum,
        default_value = "alientar",
        value_name = "FORMAT",
        conflicts_with = "oci"
    )]
    format: FormatArg,
    #[command(flatten)]
    gnu: GnuArgs,
    #[command(flatten)]
    owners: OwnerArgs,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    create_select: CreateSelectArgs,
    #[command(flatten)]
    normalize: Box<NormalizeArgs>,
    #[command(flatten)]
    incremental: IncrementalArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FormatArg {
    /// alientar's format: pax with its global header and labels.
    Alientar,
    /// POSIX pax without alientar's records.
    #[value(alias = "posix")]
    Pax,
    /// GNU tar's format.
    Gnu,
    /// POSIX ustar.
    Ustar,
}

impl From<FormatArg> for TarFormat {
    fn from(f: FormatArg) -> TarFormat {
        match f {
            FormatArg::Alientar => TarFormat::Alientar,
            FormatArg::Pax => TarFormat::Pax,
            FormatArg::Gnu => TarFormat::Gnu,
            FormatArg::Ustar => TarFormat::Ustar,
        }
    }
}

impl CreateArgs {
    /// The library's options (owners resolved against the registry), and
    /// the image to write instead of an archive.
    fn options(self, env: &Env) -> Result<(CreateOptions, Option<ImageOptions>), Error> {
        let owners = env.owners(&self.owners)?;
        let mut image = self
            .oci
            .as_deref()
            .map(ImageOptions::parse)
            .transpose()
            .map_err(Error::usage)?;
        if let Some(i) = &mut image {
            i.base = self.base;
        }
        let file = self.file.unwrap_or_default();
        let format = match &image {
            Some(_) => image_format(&self.compress)?,
            None => out_format(&file, &self.compress)?,
        };
        let source_date_epoch = std::env::var_os("SOURCE_DATE_EPOCH");
        let source_date_epoch = source_date_epoch.as_ref().map(|v| v.to_string_lossy());
        let normalize = self.normalize.normalize(source_date_epoch.as_deref())?;
        let select = self.create_select.select(&self.select)?;
        let mut paths = self.paths;
        paths.extend(
            self.select
                .names()?
                .into_iter()
                .map(|n| PathBuf::from(std::ffi::OsString::from_vec(n))),
        );
        let opts = CreateOptions {
            archive: file,
            dir: self.dir,
            paths,
            format,
            owners,
            from_xattrs: self.from_xattrs,
            manifest: self.from_manifest,
            userns: if self.userns {
                Some(true)
            } else if self.no_userns {
                Some(false)
            } else {
                None
            },
            nanoseconds: self.nanoseconds,
            transform: transform_of(&self.gnu.transform)?,
            normalize,
            incremental: self.incremental.incremental(),
            select,
            tar_format: self.format.into(),
        };
        Ok((opts, image))
    }
}

/// Create the archive; `-v` names go to stdout, or to stderr when the
/// archive does.
pub(super) fn run(a: CreateArgs, env: &Env) -> Result<Exit, Error> {
    let (verbose, totals) = (a.verbose, a.gnu.totals);
    let (opts, image) = a.options(env)?;
    let to_stdout = image.is_none() && opts.archive.as_os_str() == "-";
    // -v names are the progress when they go to the terminal.
    let names_on_tty = verbose
        && if to_stdout {
            stderr_tty()
        } else {
            stdout_tty()
        };
    let bar = env.progress("creating", names_on_tty);
    let mut on_entry = |p: &[u8]| {
        if verbose {
            let line = alientar::internals::escaped(p);
            if to_stdout {
                say_err(&line);
            } else {
                put_line(&mut std::io::stdout().lock(), line.as_bytes());
            }
        }
    };
    let r = match &image {
        Some(i) => create_image(&opts, i, &env.reg, &mut on_entry, &bar),
        None => create(&opts, &env.reg, &mut on_entry, &bar),
    };
    bar.finish();
    Ok(finish_totals(r?, totals.then_some("written"), env.start))
}
