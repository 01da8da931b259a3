//! Command-line definitions and their translation into library options.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use alientar::context::{Maps, Registry, user_file};
use alientar::create::{CreateOptions, create};
use alientar::error::is_broken_pipe;
use alientar::extract::{ExtractOptions, OldFiles, Owners, extract};
use alientar::gnu::totals_line;
use alientar::idmap::{GidKind, Invoker, UidKind, parse_spec};
use alientar::list::{ListFormat, ListOptions, list};
use alientar::output::OutFormat;
use alientar::ownership::OwnerOptions;
use alientar::progress::Progress;
use alientar::report::Report;
use alientar::transform::Transform;
use alientar::{Error, Unmapped};

/// Exit status: success.
const OK: i32 = 0;
/// Exit status: some entries failed or differ.
const PARTIAL: i32 = 1;
/// Exit status: fatal error.
const FATAL: i32 = 2;

/// A tar archiver for alien ownership: owners stored as seen inside their
/// context (a rootless container, an image, another host), translated
/// through user-namespace ID maps.
#[derive(Parser, Debug)]
#[command(name = "alientar", version, about, long_about = LONG_ABOUT, after_long_help = AFTER_LONG_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
    /// Never show a progress bar (one is shown on stderr only when it is a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
}

/// The description in `--help` and the man page.
const LONG_ABOUT: &str = "\
A tar archiver for alien ownership. alientar stores every entry's owner as seen
inside its context (a rootless container's user namespace, an image built by an
ordinary user, a backup made for another host) together with the context's name
as a label, and translates owners through user-namespace ID maps (the semantics
of /proc/PID/uid_map) when it creates, lists, extracts, compares and rewrites
archives. The archives are ordinary pax tar (optionally zstd) that GNU tar and
bsdtar read unchanged.

Maps (--map SPEC, --uid-map, --gid-map) are INSIDE:OUTSIDE:COUNT[,...] (podman's
--uidmap order), @FILE (lines as in /proc/PID/uid_map), rootless (0 -> your uid,
1 -> your first /etc/subuid range), subuid (0 -> your first subordinate ID),
host (identity), or the name of a context from contexts.toml.";

/// The exit codes, for `--help` and the man page.
macro_rules! exit_status {
    () => {
        "Exit status:
  0  success (diff: the archive and the tree are identical)
  1  some entries failed, each reported, the rest done (diff: differences found)
  2  fatal: bad usage, an unreadable or malformed archive, unmapped IDs on create"
    };
}

const EXIT_STATUS: &str = exit_status!();

/// Shown after `--help` (not `-h`).
const AFTER_LONG_HELP: &str = concat!(
    exit_status!(),
    "

Progress is shown on stderr only when it is a terminal (--no-progress: never);
nothing is printed there when it is not and all went well.

More: `alientar man` (the manual), `alientar COMMAND --help`, and
docs/guide.md (walk-throughs) in the source."
);

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an archive from files (owners translated host → context).
    #[command(visible_alias = "c")]
    Create(CreateArgs),
    /// List an archive's entries (context view; host view with --map/--context).
    #[command(visible_alias = "t")]
    List(ListArgs),
    /// Extract an archive (owners translated context → host).
    #[command(visible_alias = "x")]
    Extract(ExtractArgs),
    /// Preflight: which IDs each context uses, and which the map does not cover (exit 0 only when all map).
    Check(CheckArgs),
    /// Rewrite owners archive to archive (inside → outside; --inverse for outside → inside).
    Remap(RemapArgs),
    /// Compare an archive with a tree: content, type, mode, owner (through the map), mtime, links, xattrs (exit 0 only when identical).
    #[command(visible_alias = "d", alias = "compare")]
    Diff(DiffArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of alientar or of one command; --dir writes them all.
    Man {
        /// A command (e.g. `create`): its own page, alientar-create(1).
        command: Option<String>,
        /// Write alientar.1 and alientar-COMMAND.1 for every command into DIR (made if missing).
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
    /// Show the context registry, or one context with its maps.
    Contexts {
        /// A context name.
        name: Option<String>,
    },
}

#[derive(Args, Debug, Clone)]
struct OwnerArgs {
    /// The context owners belong to: the label stored on create; the map used on list/extract.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// ID map for uids and gids: INSIDE:OUTSIDE:COUNT[,...], @FILE, rootless, subuid, host, or a context name.
    #[arg(long, value_name = "SPEC")]
    map: Option<String>,
    /// ID map for uids only.
    #[arg(long, value_name = "SPEC")]
    uid_map: Option<String>,
    /// ID map for gids only.
    #[arg(long, value_name = "SPEC")]
    gid_map: Option<String>,
    /// What an ID outside the map becomes.
    #[arg(long, value_enum, default_value = "error")]
    unmapped: UnmappedArg,
    /// Ignore user and group names; numbers only.
    #[arg(long)]
    numeric_owner: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum UnmappedArg {
    /// Fail, naming the path and the ID.
    Error,
    /// Use the overflow ID 65534 (and drop setuid/setgid).
    Overflow,
    /// Keep the ID unchanged.
    Keep,
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Archive to write (`-` for standard output).
    #[arg(short = 'f', long = "file", value_name = "ARCHIVE")]
    file: PathBuf,
    /// Change to DIR before reading PATHs.
    #[arg(
        short = 'C',
        long = "directory",
        value_name = "DIR",
        default_value = "."
    )]
    dir: PathBuf,
    /// Files and directories to archive.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    compress: CompressArgs,
    /// Print each member name as it is archived.
    #[arg(short, long)]
    verbose: bool,
    /// Take owners, modes and types from user.containers.override_stat
    /// (and umoci's user.rootlesscontainers) where files carry them.
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
    #[command(flatten)]
    gnu: GnuArgs,
    #[command(flatten)]
    owners: OwnerArgs,
}

/// Output compression: by the archive's name unless an option says.
#[derive(Args, Debug)]
#[group(skip)]
struct CompressArgs {
    /// Compress with zstd (the default for .tar.zst and .tzst names).
    #[arg(long, group = "compressor")]
    zstd: bool,
    /// Compress with gzip (the default for .tar.gz, .tgz and .taz names).
    #[arg(short = 'z', long, group = "compressor")]
    gzip: bool,
    /// Compress with xz (the default for .tar.xz and .txz names).
    #[arg(short = 'J', long, group = "compressor")]
    xz: bool,
    /// Compress with bzip2 (the default for .tar.bz2, .tbz, .tbz2 and .tz2 names).
    #[arg(short = 'j', long, group = "compressor")]
    bzip2: bool,
    /// Write a plain tar, whatever the name.
    #[arg(long, group = "compressor")]
    no_compress: bool,
    /// Compress as the name says: what alientar always does without one of
    /// the options above (accepted for GNU tar's -a).
    #[arg(short = 'a', long)]
    auto_compress: bool,
    /// Compression level (zstd 1-19, default 3; gzip 1-9, default 6; xz
    /// 0-9, default 6; bzip2 1-9, default 9).
    #[arg(long, value_name = "N")]
    level: Option<u32>,
}

/// GNU tar's options that create, list and extract share.
#[derive(Args, Debug)]
struct GnuArgs {
    /// Rename members with a sed-like expression, as GNU tar does.
    ///
    /// s/REGEX/REPLACEMENT/FLAGS, any delimiter; several separated by `;`
    /// or given with several --transform, applied in order. REGEX is a
    /// POSIX basic regular expression (\( \) \{ \} \+ \? \| are
    /// operators; flag x: extended). REPLACEMENT: & the match, \1..\9
    /// groups, \U \L \u \l \E case. FLAGS: g every match, N the Nth,
    /// i ignore case, x extended; scope r/R member names, s/S symlink
    /// targets, h/H hard link targets (all by default; flags=SCOPE sets
    /// it for what follows). Names are renamed as stored on create, on the
    /// way to disk on extract, and on list with --show-transformed-names.
    #[arg(long = "transform", visible_alias = "xform", value_name = "EXPR")]
    transform: Vec<String>,
    /// Print "Total bytes written: N (SIZE, RATE)" (create; extract: "read")
    /// on stderr at the end, as GNU tar does: bytes of the tar stream,
    /// before compression.
    #[arg(long)]
    totals: bool,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Archive to read (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "ARCHIVE")]
    file: PathBuf,
    /// Only members matching these names or globs.
    #[arg(value_name = "PATTERN")]
    patterns: Vec<String>,
    /// Long listing, like `tar -tv`, with the label.
    #[arg(short, long)]
    verbose: bool,
    /// One JSON object per line (a name that is not UTF-8 also whole in
    /// path_base64, link_base64).
    #[arg(long, conflicts_with = "verbose")]
    json: bool,
    /// Rename as on extract, for --show-transformed-names (see `create --help`).
    #[arg(long = "transform", visible_alias = "xform", value_name = "EXPR")]
    transform: Vec<String>,
    /// Show member names as --transform makes them (link targets are shown
    /// transformed in any case, as GNU tar does).
    #[arg(long, overrides_with = "show_stored_names")]
    show_transformed_names: bool,
    /// Show member names as stored (the default).
    #[arg(long, overrides_with = "show_transformed_names")]
    show_stored_names: bool,
    #[command(flatten)]
    owners: OwnerArgs,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Archive to read (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "ARCHIVE")]
    file: PathBuf,
    #[command(flatten)]
    owners: OwnerArgs,
}

#[derive(Args, Debug)]
struct RemapArgs {
    /// Archive to read (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "IN")]
    file: PathBuf,
    /// Archive to write (`-` for standard output).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: PathBuf,
    /// Translate outside → inside (host view → context view) instead.
    #[arg(long)]
    inverse: bool,
    #[command(flatten)]
    compress: CompressArgs,
    #[command(flatten)]
    owners: OwnerArgs,
}

#[derive(Args, Debug)]
struct ExtractArgs {
    /// Archive to read (`-` for standard input).
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
    #[command(flatten)]
    gnu: GnuArgs,
    #[command(flatten)]
    own: OwnerArgs,
}

impl ExtractArgs {
    /// `--owners`, or what `--no-same-owner`/`--same-owner` stand for.
    fn sink(&self) -> Owners {
        if self.no_same_owner {
            Owners::None
        } else if self.same_owner {
            Owners::Chown
        } else {
            self.owners.clone()
        }
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

/// The `--transform` expressions, parsed.
fn transform_of(exprs: &[String]) -> Result<Option<Transform>, Error> {
    if exprs.is_empty() {
        return Ok(None);
    }
    Transform::parse_all(exprs).map(Some).map_err(Error::usage)
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// Archive to read (`-` for standard input).
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
    #[command(flatten)]
    owners: OwnerArgs,
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

/// Resolve the ownership options against the registry.
fn owner_options(a: &OwnerArgs, reg: &Registry, who: &Invoker) -> Result<OwnerOptions, Error> {
    let mut context = a.context.clone();
    let mut maps = None;
    let mut map_option = None;
    if let Some(m) = &a.map {
        maps = Some(reg.resolve_spec(m)?);
        if context.is_none() && reg.get(m).is_some() {
            context = Some(m.clone());
        }
        if context.as_deref() != Some(m.as_str()) {
            map_option = Some("--map".to_string());
        }
    }
    if a.uid_map.is_some() || a.gid_map.is_some() {
        // The other half comes from --map or the context, only when missing.
        let both = a.uid_map.is_some() && a.gid_map.is_some();
        let base = match (&maps, &context) {
            _ if both => None,
            (Some(m), _) => Some(m.clone()),
            (None, Some(c)) => Some(reg.maps(c)?),
            (None, None) => None,
        };
        let uid = match (&a.uid_map, &base) {
            (Some(s), _) => parse_spec::<UidKind>(s, who)?,
            (None, Some(b)) => b.uid.clone(),
            (None, None) => {
                return Err(Error::usage(
                    "--gid-map needs --uid-map too (or --map or --context)",
                ));
            }
        };
        let gid = match (&a.gid_map, &base) {
            (Some(s), _) => parse_spec::<GidKind>(s, who)?,
            (None, Some(b)) => b.gid.clone(),
            (None, None) => {
                return Err(Error::usage(
                    "--uid-map needs --gid-map too (or --map or --context)",
                ));
            }
        };
        maps = Some(Maps { uid, gid });
        map_option = Some(
            match (&a.uid_map, &a.gid_map) {
                (Some(_), Some(_)) => "--uid-map and --gid-map",
                (Some(_), None) => "--uid-map",
                _ => "--gid-map",
            }
            .to_string(),
        );
    }
    Ok(OwnerOptions {
        context,
        maps,
        map_option,
        unmapped: match a.unmapped {
            UnmappedArg::Error => Unmapped::Error,
            UnmappedArg::Overflow => Unmapped::Overflow,
            UnmappedArg::Keep => Unmapped::Keep,
        },
        numeric_owner: a.numeric_owner,
    })
}

/// The output format: the option given, else the name's; at `--level`.
fn out_format(name: &std::path::Path, c: &CompressArgs) -> alientar::Result<OutFormat> {
    let format = if c.zstd {
        OutFormat::Zstd(3)
    } else if c.gzip {
        OutFormat::Gzip(6)
    } else if c.xz {
        OutFormat::Xz(6)
    } else if c.bzip2 {
        OutFormat::Bzip2(9)
    } else if c.no_compress {
        OutFormat::Plain
    } else if let Some(z) = OutFormat::unsupported_in_name(name) {
        return Err(Error::usage(format!(
            "{}: alientar does not write {z}; give -z, -J, -j, --zstd or --no-compress",
            name.display()
        )));
    } else {
        OutFormat::from_name(name)
    };
    match c.level {
        Some(l) => format.with_level(l).map_err(Error::usage),
        None => Ok(format),
    }
}

fn finish(report: Report) -> i32 {
    for w in &report.warnings {
        say_err(&format!("alientar: warning: {w}"));
    }
    for e in &report.errors {
        say_err(&format!("alientar: {}", message(e)));
    }
    if let Some(f) = &report.fatal {
        end_on_broken_pipe(f);
        say_err(&format!("alientar: {}", message(f)));
        return FATAL;
    }
    if report.errors.is_empty() {
        OK
    } else {
        PARTIAL
    }
}

/// [`finish`], then with `--totals` GNU tar's totals line ("written" or
/// "read") on stderr.
fn finish_totals(report: Report, totals: Option<&str>, start: std::time::Instant) -> i32 {
    let bytes = report.bytes;
    let code = finish(report);
    if let Some(what) = totals {
        eprintln!(
            "{}",
            totals_line(what, bytes, start.elapsed().as_secs_f64())
        );
    }
    code
}

/// Is `word` the name or an alias of a command?
fn is_command(word: &str) -> bool {
    use clap::CommandFactory;
    Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
        || word == "help"
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
    alientar::extract::to_stdout(opts, &mut out, &mut on_entry)
}

/// Run the command line; returns the exit status.
pub fn run() -> i32 {
    let args = crate::oldstyle::expand(std::env::args_os().collect(), is_command);
    let cli = Cli::parse_from(args);
    let show = !cli.no_progress;
    match run_cmd(cli.cmd, show) {
        Ok(code) => code,
        Err(e) => {
            end_on_broken_pipe(&e);
            say_err(&format!("alientar: {}", message(&e)));
            FATAL
        }
    }
}

/// A write to a closed pipe (`| head` has exited) ends the command as it
/// ends GNU tar: killed by SIGPIPE, silently.
fn end_on_broken_pipe(e: &Error) {
    if is_broken_pipe(e) {
        alientar::sys::sigpipe::die_of_sigpipe();
    }
}

/// A line on standard error (see [`put_line`]).
fn say_err(line: &str) {
    put_line(&mut std::io::stderr().lock(), line.as_bytes());
}

/// A line to a standard stream. A closed pipe ends the process as it ends
/// GNU tar; other errors are dropped, as there is nowhere left to report
/// them (the command's own work goes on).
fn put_line(w: &mut dyn Write, line: &[u8]) {
    let r = w.write_all(line).and_then(|()| w.write_all(b"\n"));
    if r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        alientar::sys::sigpipe::die_of_sigpipe();
    }
}

fn run_cmd(cmd: Command, show_progress: bool) -> Result<i32, Error> {
    let start = std::time::Instant::now();
    match &cmd {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into memory first: clap_complete panics on a write error.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "alientar", &mut script);
            let mut out = std::io::stdout().lock();
            out.write_all(&script)
                .and_then(|()| out.flush())
                .map_err(|e| Error::io_nopath("cannot write the completion script", e))?;
            return Ok(OK);
        }
        Command::Man { command, dir } => {
            return man(command.as_deref(), dir.as_deref());
        }
        _ => {}
    }
    let progress = |verb: &'static str, names_on_tty: bool| {
        if show_progress && !names_on_tty {
            Progress::stderr(verb)
        } else {
            Progress::hidden()
        }
    };
    let who = Invoker::current();
    let reg = Registry::load(who.clone())?;
    match cmd {
        Command::Create(a) => {
            let owners = owner_options(&a.owners, &reg, &who)?;
            let format = out_format(&a.file, &a.compress)?;
            let opts = CreateOptions {
                archive: a.file.clone(),
                dir: a.dir,
                paths: a.paths,
                format,
                owners,
                from_xattrs: a.from_xattrs,
                manifest: a.from_manifest,
                userns: if a.userns {
                    Some(true)
                } else if a.no_userns {
                    Some(false)
                } else {
                    None
                },
                nanoseconds: a.nanoseconds,
                transform: transform_of(&a.gnu.transform)?,
            };
            let to_stdout = a.file.as_os_str() == "-";
            let verbose = a.verbose;
            // -v names are the progress when they go to the terminal.
            let bar = progress(
                "creating",
                verbose
                    && if to_stdout {
                        stderr_tty()
                    } else {
                        stdout_tty()
                    },
            );
            let mut on_entry = |p: &[u8]| {
                if verbose {
                    let line = alientar::quote::escaped(p);
                    if to_stdout {
                        say_err(&line);
                    } else {
                        put_line(&mut std::io::stdout().lock(), line.as_bytes());
                    }
                }
            };
            let r = create(&opts, &reg, &mut on_entry, &bar);
            bar.finish();
            Ok(finish_totals(r?, a.gnu.totals.then_some("written"), start))
        }
        Command::List(a) => {
            let owners = owner_options(&a.owners, &reg, &who)?;
            let opts = ListOptions {
                archive: a.file,
                patterns: a.patterns.into_iter().map(String::into_bytes).collect(),
                owners,
                format: if a.json {
                    ListFormat::Json
                } else if a.verbose {
                    ListFormat::Long
                } else {
                    ListFormat::Names
                },
                transform: transform_of(&a.transform)?,
                show_transformed: a.show_transformed_names,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(64 << 10, stdout.lock());
            Ok(finish(list(&opts, &reg, &mut out)?))
        }
        Command::Extract(a) => {
            let owners = owner_options(&a.own, &reg, &who)?;
            let opts = ExtractOptions {
                sink: a.sink(),
                archive: a.file,
                dest: a.dir,
                patterns: a.patterns.into_iter().map(String::into_bytes).collect(),
                owners,
                old_files: a.old.policy(),
                transform: transform_of(&a.gnu.transform)?,
                apply_umask: a.no_same_permissions,
            };
            let totals = a.gnu.totals.then_some("read");
            if a.to_stdout {
                return Ok(finish_totals(
                    extract_to_stdout(&opts, a.verbose)?,
                    totals,
                    start,
                ));
            }
            let verbose = a.verbose;
            let bar = progress("extracting", verbose && stdout_tty());
            bar.watch_archive(&opts.archive, opts.patterns.is_empty());
            // The bar's ticker thread starts with the first bytes or entry,
            // after extract has entered its user namespace (if any): a
            // namespace can only be entered while the process has one thread.
            let mut on_entry = |p: &[u8]| {
                bar.add_entry();
                if verbose {
                    put_line(
                        &mut std::io::stdout().lock(),
                        alientar::quote::escaped(p).as_bytes(),
                    );
                }
            };
            let r = extract(&opts, &reg, &mut on_entry, &bar);
            bar.finish();
            Ok(finish_totals(r?, totals, start))
        }
        Command::Check(a) => {
            let owners = owner_options(&a.owners, &reg, &who)?;
            let result = alientar::check::check(&a.file, &reg, &owners)?;
            let mut out = std::io::stdout().lock();
            let ok = alientar::check::print(&result, &mut out)?;
            Ok(if ok { OK } else { PARTIAL })
        }
        Command::Remap(a) => {
            let owners = owner_options(&a.owners, &reg, &who)?;
            let maps = owners
                .maps
                .clone()
                .ok_or_else(|| Error::usage("remap needs --map (or --uid-map and --gid-map)"))?;
            let format = out_format(&a.output, &a.compress)?;
            let opts = alientar::remap::RemapOptions {
                input: a.file,
                output: a.output,
                maps,
                inverse: a.inverse,
                context: a.owners.context.clone(),
                unmapped: owners.unmapped,
                format,
            };
            let bar = progress("remapping", false);
            bar.watch_archive(&opts.input, true);
            bar.start();
            let r = alientar::remap::remap(&opts, &bar);
            bar.finish();
            Ok(finish(r?))
        }
        Command::Diff(a) => {
            let owners = owner_options(&a.owners, &reg, &who)?;
            let opts = alientar::diff::DiffOptions {
                archive: a.file,
                dir: a.dir,
                patterns: a.patterns.into_iter().map(String::into_bytes).collect(),
                owners,
            };
            let bar = progress("comparing", false);
            bar.watch_archive(&opts.archive, opts.patterns.is_empty());
            bar.start();
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let mut werr = None;
            let mut on_diff = |d: &alientar::diff::Difference| {
                if werr.is_none()
                    && let Err(e) = bar.suspend(|| writeln!(out, "{d}"))
                {
                    werr = Some(e);
                }
            };
            let r = alientar::diff::diff(&opts, &reg, &mut on_diff, &bar);
            bar.finish();
            if let Some(e) = werr {
                return Err(Error::io_nopath("cannot write the differences", e));
            }
            let report = r?;
            for e in &report.errors {
                say_err(&format!("alientar: {}", message(e)));
            }
            Ok(if report.identical() { OK } else { PARTIAL })
        }
        Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
        Command::Contexts { name } => {
            let mut out = std::io::stdout().lock();
            let w = |out: &mut std::io::StdoutLock, s: String| {
                writeln!(out, "{s}").map_err(|e| Error::io_nopath("cannot write the contexts", e))
            };
            match name {
                Some(n) => {
                    let c = reg.get(&n).ok_or_else(|| {
                        Error::context(format!(
                            "no context named '{n}' is defined (see `alientar contexts`; define it in {})",
                            user_file().map_or("~/.config/alientar/contexts.toml".into(), |p| p.display().to_string())
                        ))
                    })?;
                    w(&mut out, format!("name:    {}", c.name))?;
                    w(&mut out, format!("defined: {}", c.origin))?;
                    w(&mut out, format!("uidmap:  {}", c.uidmap))?;
                    w(&mut out, format!("gidmap:  {}", c.gidmap))?;
                    if let Some(p) = &c.names {
                        w(&mut out, format!("names:   {}", p.display()))?;
                    }
                    match reg.maps(&n) {
                        Ok(m) => {
                            w(
                                &mut out,
                                "resolved for this user (inside outside count):".into(),
                            )?;
                            for e in m.uid.extents() {
                                w(
                                    &mut out,
                                    format!(
                                        "  uid {:>10} {:>10} {:>10}",
                                        e.inside, e.outside, e.count
                                    ),
                                )?;
                            }
                            for e in m.gid.extents() {
                                w(
                                    &mut out,
                                    format!(
                                        "  gid {:>10} {:>10} {:>10}",
                                        e.inside, e.outside, e.count
                                    ),
                                )?;
                            }
                        }
                        Err(e) => w(&mut out, format!("unresolved: {e}"))?,
                    }
                }
                None => {
                    for c in reg.iter() {
                        let resolved = match reg.maps(&c.name) {
                            Ok(m) => format!("uid {} gid {}", m.uid, m.gid),
                            Err(_) => "(not resolvable for this user)".into(),
                        };
                        w(
                            &mut out,
                            format!(
                                "{:<16} {:<10} {}",
                                c.name,
                                if c.origin == "built-in" {
                                    "built-in"
                                } else {
                                    "file"
                                },
                                resolved
                            ),
                        )?;
                    }
                }
            }
            Ok(OK)
        }
    }
}

/// An error as the user reads it: the library's rendering (operation,
/// path, cause) without the "(os error N)" that std appends to causes.
fn message(e: &Error) -> String {
    let s = e.to_string();
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find(" (os error ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " (os error ".len()..];
        match tail.find(')') {
            Some(j) if j > 0 && tail[..j].bytes().all(|b| b.is_ascii_digit()) => {
                rest = &tail[j + 1..];
            }
            _ => {
                out.push_str(" (os error ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn stdout_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

fn stderr_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// `alientar man [COMMAND] [--dir DIR]`: the manual pages, from the clap
/// definitions. The main page adds EXIT STATUS, FILES and SEE ALSO.
fn man(command: Option<&str>, dir: Option<&std::path::Path>) -> Result<i32, Error> {
    use clap::CommandFactory;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let werr = |e: std::io::Error| Error::io_nopath("cannot write the manual page", e);
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create the directory", dir, e))?;
        let mut main = Vec::new();
        man_main(&cmd, &mut main).map_err(werr)?;
        let path = dir.join("alientar.1");
        std::fs::write(&path, main).map_err(|e| Error::io("cannot write", &path, e))?;
        for sub in cmd.get_subcommands() {
            clap_mangen::Man::new(sub.clone())
                .generate_to(dir)
                .map_err(|e| Error::io("cannot write a manual page into", dir, e))?;
        }
        return Ok(OK);
    }
    let mut out = std::io::stdout().lock();
    match command {
        None => man_main(&cmd, &mut out).map_err(werr)?,
        Some(name) => {
            let sub = cmd.find_subcommand(name).ok_or_else(|| {
                Error::usage(format!(
                    "man: no command named '{name}' (commands: {})",
                    cmd.get_subcommands()
                        .map(|c| c.get_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            clap_mangen::Man::new(sub.clone())
                .render(&mut out)
                .map_err(werr)?;
        }
    }
    out.flush().map_err(werr)?;
    Ok(OK)
}

fn man_main(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    let m = clap_mangen::Man::new(cmd.clone());
    m.render_title(w)?;
    m.render_name_section(w)?;
    m.render_synopsis_section(w)?;
    m.render_description_section(w)?;
    m.render_options_section(w)?;
    m.render_subcommands_section(w)?;
    // Plain text into roff: escape backslashes and leading control characters.
    let roff = |text: &str| -> String {
        let t = text.replace('\\', r"\e").replace('-', r"\-");
        if t.starts_with('.') || t.starts_with('\'') {
            format!(r"\&{t}")
        } else {
            t
        }
    };
    writeln!(w, r#".SH "EXIT STATUS""#)?;
    for l in EXIT_STATUS.lines().skip(1) {
        let (code, text) = l.trim().split_once("  ").unwrap_or(("", l));
        writeln!(w, ".TP\n{code}\n{}", roff(text.trim()))?;
    }
    w.write_all(MAN_TAIL.as_bytes())?;
    m.render_version_section(w)
}

/// The main manual page's FILES and SEE ALSO sections (roff).
const MAN_TAIL: &str = r#".SH FILES
.TP
\fI$XDG_CONFIG_HOME/alientar/contexts.toml\fR (else \fI~/.config/alientar/contexts.toml\fR)
The user's named contexts: a table per name with \fBuidmap\fR, \fBgidmap\fR
(map SPECs) and optionally \fBnames\fR (a root directory whose etc/passwd and
etc/group name the context's IDs).
.TP
\fI/etc/alientar/contexts.toml\fR
The system's named contexts (the user's file wins).
.TP
\fI/etc/subuid\fR, \fI/etc/subgid\fR
Subordinate ID ranges, for the \fBrootless\fR and \fBsubuid\fR maps and the
\fBuserns\fR owner sink.
.SH "SEE ALSO"
\fBalientar\-create\fR(1), \fBalientar\-extract\fR(1), \fBalientar\-diff\fR(1) and the
other commands' pages (\fBalientar man\fR \fICOMMAND\fR),
\fBtar\fR(1), \fBbsdtar\fR(1), \fBpodman\-unshare\fR(1), \fBnewuidmap\fR(1),
\fBsubuid\fR(5), \fBuser_namespaces\fR(7); docs/guide.md and docs/format.md in
the source.
"#;
