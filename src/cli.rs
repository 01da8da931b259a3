//! Command-line definitions and their translation into library options.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use alientar::context::{Maps, Registry, user_file};
use alientar::create::{CreateOptions, OutFormat, OwnerOptions, Report, create};
use alientar::extract::{ExtractOptions, Owners, extract};
use alientar::idmap::{GidKind, Invoker, UidKind, parse_spec};
use alientar::list::{ListFormat, ListOptions, is_broken_pipe, list};
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
#[command(name = "alientar", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

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
    /// Compress with zstd (the default for .tar.zst and .tzst names).
    #[arg(long, conflicts_with = "no_compress")]
    zstd: bool,
    /// Write a plain tar (the default for other names).
    #[arg(long)]
    no_compress: bool,
    /// zstd compression level.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
    level: i32,
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
    #[command(flatten)]
    owners: OwnerArgs,
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
    /// One JSON object per line.
    #[arg(long, conflicts_with = "verbose")]
    json: bool,
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
    /// Compress with zstd (the default for .tar.zst and .tzst names).
    #[arg(long, conflicts_with = "no_compress")]
    zstd: bool,
    /// Write a plain tar.
    #[arg(long)]
    no_compress: bool,
    /// zstd compression level.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
    level: i32,
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
    own: OwnerArgs,
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
    if let Some(m) = &a.map {
        maps = Some(reg.resolve_spec(m)?);
        if context.is_none() && reg.get(m).is_some() {
            context = Some(m.clone());
        }
    }
    if a.uid_map.is_some() || a.gid_map.is_some() {
        let base = match (&maps, &context) {
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
    }
    Ok(OwnerOptions {
        context,
        maps,
        unmapped: match a.unmapped {
            UnmappedArg::Error => Unmapped::Error,
            UnmappedArg::Overflow => Unmapped::Overflow,
            UnmappedArg::Keep => Unmapped::Keep,
        },
        numeric_owner: a.numeric_owner,
    })
}

fn out_format(name: &std::path::Path, zstd: bool, plain: bool, level: i32) -> OutFormat {
    if zstd {
        OutFormat::Zstd(level)
    } else if plain {
        OutFormat::Plain
    } else {
        match OutFormat::from_name(name) {
            OutFormat::Zstd(_) => OutFormat::Zstd(level),
            p => p,
        }
    }
}

fn finish(report: Report) -> i32 {
    for w in &report.warnings {
        eprintln!("alientar: warning: {w}");
    }
    for e in &report.errors {
        eprintln!("alientar: {e}");
    }
    if report.errors.is_empty() {
        OK
    } else {
        PARTIAL
    }
}

/// Run the command line; returns the exit status.
pub fn run() -> i32 {
    let cli = Cli::parse();
    match run_cmd(cli.cmd) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => OK,
        Err(e) => {
            eprintln!("alientar: {e}");
            FATAL
        }
    }
}

fn run_cmd(cmd: Command) -> Result<i32, Error> {
    let who = Invoker::current();
    let reg = Registry::load(who.clone())?;
    match cmd {
        Command::Create(a) => {
            let owners = owner_options(&a.owners, &reg, &who)?;
            let format = out_format(&a.file, a.zstd, a.no_compress, a.level);
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
            };
            let to_stdout = a.file.as_os_str() == "-";
            let verbose = a.verbose;
            let mut on_entry = |p: &[u8]| {
                if verbose {
                    let line = String::from_utf8_lossy(p);
                    if to_stdout {
                        eprintln!("{line}");
                    } else {
                        let _ = writeln!(std::io::stdout(), "{line}");
                    }
                }
            };
            Ok(finish(create(&opts, &reg, &mut on_entry)?))
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
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(64 << 10, stdout.lock());
            Ok(finish(list(&opts, &reg, &mut out)?))
        }
        Command::Extract(a) => {
            let owners = owner_options(&a.own, &reg, &who)?;
            let opts = ExtractOptions {
                archive: a.file,
                dest: a.dir,
                patterns: a.patterns.into_iter().map(String::into_bytes).collect(),
                owners,
                sink: a.owners,
            };
            let verbose = a.verbose;
            let mut on_entry = |p: &[u8]| {
                if verbose {
                    let _ = writeln!(std::io::stdout(), "{}", String::from_utf8_lossy(p));
                }
            };
            Ok(finish(extract(&opts, &reg, &mut on_entry)?))
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
            let format = out_format(&a.output, a.zstd, a.no_compress, a.level);
            let opts = alientar::remap::RemapOptions {
                input: a.file,
                output: a.output,
                maps,
                inverse: a.inverse,
                context: a.owners.context.clone(),
                unmapped: owners.unmapped,
                format,
            };
            Ok(finish(alientar::remap::remap(&opts)?))
        }
        Command::Contexts { name } => {
            let mut out = std::io::stdout().lock();
            let w = |out: &mut std::io::StdoutLock, s: String| {
                writeln!(out, "{s}").map_err(|e| Error::io_nopath("cannot write", e))
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
