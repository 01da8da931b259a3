//! `alientar diff`: its options and its run.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use alientar::Error;
use alientar::{DiffOptions, Difference, diff};

use super::Env;
use super::outcome::{Exit, message, say_err};
use super::select::{SelectArgs, check_stdin};
use super::shared::OwnerArgs;

#[derive(Args, Debug)]
pub(super) struct DiffArgs {
    /// Archive to read (`-` for standard input), or an image:
    /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]
    /// (its layers verified, then applied in order; `./oci:x` is a file).
    #[arg(short = 'f', long = "file", value_name = "ARCHIVE")]
    file: PathBuf,
    /// Compare with the tree in DIR.
    #[arg(
        short = 'C',
        long = "directory",
        value_name = "DIR",
        default_value = "."
    )]
    dir: PathBuf,
    /// Only members matching these names or globs.
    #[arg(value_name = "PATTERN")]
    patterns: Vec<String>,
    /// DIR was restored with --owners xattr: read owners, modes and types
    /// from its override records, as create --from-xattrs does.
    ///
    /// Owners, modes, types and device numbers come from
    /// user.containers.override_stat (or umoci's user.rootlesscontainers),
    /// symlink owners from their directory's user.alientar.symlink-owners,
    /// capabilities from user.containers.override_security.capability; the
    /// records are not reported as xattr differences, and owners are
    /// compared in the context view (as the archive stores them). A file
    /// without a record (a symlink owned by the context's root) is read
    /// through your own layout, as containers/storage reads it (your uid is
    /// 0, your /etc/subuid ranges 1...; as root, unchanged), or through the
    /// --map or --context given. Without this option or --no-from-xattrs, a
    /// file with a record is read through it, and DIR is taken for such a
    /// tree when the first member found in it has one.
    #[arg(long, overrides_with = "no_from_xattrs")]
    from_xattrs: bool,
    /// Compare override records as ordinary xattrs, and every owner as
    /// lstat shows it (through the map).
    #[arg(long)]
    no_from_xattrs: bool,
    /// Compare each member with the file named without this many leading
    /// components (hard-link targets too); members with no more are
    /// skipped.
    #[arg(long, value_name = "N", default_value_t = 0)]
    strip_components: u32,
    #[command(flatten)]
    owners: OwnerArgs,
    #[command(flatten)]
    select: SelectArgs,
}

impl DiffArgs {
    /// The library's options (owners resolved against the registry).
    fn options(self, env: &Env) -> Result<DiffOptions, Error> {
        check_stdin(&self.file, &self.select)?;
        let mut patterns: Vec<Vec<u8>> =
            self.patterns.into_iter().map(String::into_bytes).collect();
        patterns.extend(self.select.names()?);
        Ok(DiffOptions {
            owners: env.owners(&self.owners)?,
            archive: self.file,
            dir: self.dir,
            patterns,
            matching: self.select.member_matching(),
            exclude: self.select.exclude()?,
            strip_components: self.strip_components,
            from_xattrs: if self.from_xattrs {
                Some(true)
            } else if self.no_from_xattrs {
                Some(false)
            } else {
                None
            },
        })
    }
}

/// Compare the archive with the tree: the differences on stdout as they
/// are found, the errors on stderr at the end.
pub(super) fn run(a: DiffArgs, env: &Env) -> Result<Exit, Error> {
    let opts = a.options(env)?;
    let bar = env.progress("comparing", false);
    bar.watch_archive(
        &opts.archive,
        opts.patterns.is_empty() && opts.exclude.is_empty(),
    );
    bar.start();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut werr = None;
    let mut on_diff = |d: &Difference| {
        if werr.is_none()
            && let Err(e) = bar.suspend(|| writeln!(out, "{d}"))
        {
            werr = Some(e);
        }
    };
    let r = diff(&opts, &env.reg, &mut on_diff, &bar);
    bar.finish();
    if let Some(e) = werr {
        return Err(Error::io_nopath("cannot write the differences", e));
    }
    let report = r?;
    for e in &report.errors {
        say_err(&format!("alientar: {}", message(e)));
    }
    Ok(if report.identical() {
        Exit::Ok
    } else {
        Exit::Partial
    })
}
