//! `alientar extract`: its options and its run.

use std::path::PathBuf;

use clap::Args;

use alientar::Error;
use alientar::OldFiles;
use alientar::Report;
use alientar::{ExtractOptions, Owners, extract};

use super::Env;
use super::outcome::{Exit, finish_totals, put_line, stdout_tty};
use super::select::{SelectArgs, check_stdin};
use super::shared::{GnuArgs, OwnerArgs, transform_of};

#[derive(Args, Debug)]
pub(super) struct ExtractArgs {
    /// Archive to read (`-` for standard input), or an image:
    /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]
    /// (its layers verified, then applied in order; `./oci:x` is a file).
    #[arg(short = 'f', long = "file", value_name = "ARCHIVE")]
    file: PathBuf,
    /// Extract into DIR (which must exist).
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
    /// How owners land on disk: auto, chown, userns, xattr, manifest=FILE, none.
    ///
    /// chown: real owners (root, also root inside a user namespace). userns:
    /// real owners inside a user namespace built from the map with
    /// newuidmap. xattr: every file yours; the true owner, mode and type
    /// in user.containers.override_stat (symlinks': on their directory,
    /// when not 0:0), what you may not set (file capabilities) under
    /// user.containers.override_security.*: create --from-xattrs and diff
    /// read it back. manifest=FILE: every file yours, the true owners in an
    /// mtree spec. none: owners dropped. auto: chown as root, else userns
    /// where your subordinate ranges cover the map, else (an archive
    /// without labels) none, with a warning. A device node the
    /// kernel will not make (without CAP_MKNOD in the initial namespace),
    /// and with xattr every device and FIFO, is recorded as an empty file
    /// with mode 0 and user.containers.override_stat (char-1-3), with one
    /// warning for all.
    #[arg(long, default_value = "auto", value_parser = parse_owners, value_name = "SINK")]
    owners: Owners,
    /// Print each member name as it is extracted.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    old: OldFilesArgs,
    /// Write the contents of the selected regular files to standard
    /// output, in archive order; nothing is written to disk (-v: names on
    /// stderr).
    #[arg(short = 'O', long)]
    to_stdout: bool,
    /// Apply modes exactly, ignoring the umask: alientar's default for
    /// everyone (GNU tar's for root).
    #[arg(
        short = 'p',
        long = "preserve-permissions",
        visible_alias = "same-permissions",
        overrides_with = "no_same_permissions"
    )]
    preserve_permissions: bool,
    /// Apply the umask to modes and drop setuid, setgid and sticky bits
    /// (GNU tar's default for ordinary users).
    #[arg(long, overrides_with = "preserve_permissions")]
    no_same_permissions: bool,
    /// The same as --owners none (GNU tar's default for ordinary users).
    #[arg(long, conflicts_with = "owners", overrides_with = "same_owner")]
    no_same_owner: bool,
    /// The same as --owners chown (GNU tar's default for root).
    #[arg(long, conflicts_with = "owners", overrides_with = "no_same_owner")]
    same_owner: bool,
    /// Remove this many leading components from member names (after
    /// --transform) and hard-link targets; members with no more are not
    /// extracted.
    #[arg(long, value_name = "N", default_value_t = 0)]
    strip_components: u32,
    #[command(flatten)]
    gnu: GnuArgs,
    #[command(flatten)]
    own: OwnerArgs,
    #[command(flatten)]
    select: SelectArgs,
}

impl ExtractArgs {
    /// The library's options (owners resolved against the registry).
    fn options(self, env: &Env) -> Result<ExtractOptions, Error> {
        let owners = env.owners(&self.own)?;
        check_stdin(&self.file, &self.select)?;
        let mut patterns: Vec<Vec<u8>> =
            self.patterns.into_iter().map(String::into_bytes).collect();
        patterns.extend(self.select.names()?);
        Ok(ExtractOptions {
            sink: sink(self.owners, self.no_same_owner, self.same_owner),
            archive: self.file,
            dest: self.dir,
            patterns,
            matching: self.select.member_matching(),
            exclude: self.select.exclude()?,
            strip_components: self.strip_components,
            owners,
            old_files: self.old.policy(),
            transform: transform_of(&self.gnu.transform)?,
            apply_umask: self.no_same_permissions,
        })
    }
}

/// `--owners`, or what `--no-same-owner`/`--same-owner` stand for.
fn sink(owners: Owners, no_same_owner: bool, same_owner: bool) -> Owners {
    if no_same_owner {
        Owners::None
    } else if same_owner {
        Owners::Chown
    } else {
        owners
    }
}

/// What extract does with names that exist (the last one given wins).
#[derive(Args, Debug)]
struct OldFilesArgs {
    /// An existing file is an error, reported, and left as it is (GNU tar's
    /// -k); an existing directory is left untouched, its metadata too.
    #[arg(short = 'k', long, overrides_with_all = ["skip_old_files", "overwrite"])]
    keep_old_files: bool,
    /// Skip existing files and directories silently (directories keep
    /// their metadata).
    #[arg(long, overrides_with_all = ["keep_old_files", "overwrite"])]
    skip_old_files: bool,
    /// Write into an existing regular file (the same inode: its other hard
    /// links see the new contents) instead of replacing it; without it a
    /// new file is put in place whole, so the name never shows a partial one.
    #[arg(long, overrides_with_all = ["keep_old_files", "skip_old_files"])]
    overwrite: bool,
}

impl OldFilesArgs {
    fn policy(&self) -> OldFiles {
        if self.keep_old_files {
            OldFiles::Keep
        } else if self.skip_old_files {
            OldFiles::Skip
        } else if self.overwrite {
            OldFiles::Overwrite
        } else {
            OldFiles::Replace
        }
    }
}

fn parse_owners(v: &str) -> Result<Owners, String> {
    Ok(match v {
        "auto" => Owners::Auto,
        "chown" => Owners::Chown,
        "userns" => Owners::Userns,
        "xattr" => Owners::Xattr,
        "none" => Owners::None,
        _ => match v.strip_prefix("manifest=") {
            Some(f) if !f.is_empty() => Owners::Manifest(PathBuf::from(f)),
            _ => {
                return Err(format!(
                    "'{v}' is not a sink: use auto (chown as root, else userns), chown, userns, xattr, manifest=FILE or none"
                ));
            }
        },
    })
}

/// `extract --to-stdout`, `-v` names on stderr.
fn extract_to_stdout(opts: &ExtractOptions, verbose: bool) -> Result<Report, Error> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(128 << 10, stdout.lock());
    let mut on_entry = |p: &[u8]| {
        if verbose {
            eprintln!("{}", String::from_utf8_lossy(p));
        }
    };
    alientar::to_stdout(opts, &mut out, &mut on_entry)
}

/// Extract the archive (`--to-stdout`: its files' contents to stdout);
/// `-v` names on stdout (on stderr with `--to-stdout`).
pub(super) fn run(a: ExtractArgs, env: &Env) -> Result<Exit, Error> {
    let (verbose, to_stdout) = (a.verbose, a.to_stdout);
    let totals = a.gnu.totals.then_some("read");
    let opts = a.options(env)?;
    if to_stdout {
        return Ok(finish_totals(
            extract_to_stdout(&opts, verbose)?,
            totals,
            env.start,
        ));
    }
    let bar = env.progress("extracting", verbose && stdout_tty());
    bar.watch_archive(
        &opts.archive,
        opts.patterns.is_empty() && opts.exclude.is_empty(),
    );
    // The bar's ticker thread starts with the first bytes or entry,
    // after extract has entered its user namespace (if any): a
    // namespace can only be entered while the process has one thread.
    let mut on_entry = |p: &[u8]| {
        bar.add_entry();
        if verbose {
            put_line(
                &mut std::io::stdout().lock(),
                alientar::internals::escaped(p).as_bytes(),
            );
        }
    };
    let r = extract(&opts, &env.reg, &mut on_entry, &bar);
    bar.finish();
    Ok(finish_totals(r?, totals, env.start))
}
