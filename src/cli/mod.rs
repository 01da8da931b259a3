//! The command line: clap definitions (the shared options in [`shared`],
//! each command's in its own module), resolved into the library's plain
//! options and run there; [`run`] returns the [`Exit`] status.

mod check;
mod contexts;
mod create;
mod diff;
mod extract;
mod incremental;
mod list;
mod man;
mod normalize;
mod oldstyle;
mod outcome;
mod progress;
mod remap;
mod select;
mod shared;
mod unshare;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};

use alientar::Error;
use alientar::Invoker;
use alientar::OwnerOptions;
use alientar::Progress;
use alientar::Registry;

pub use outcome::Exit;

use check::CheckArgs;
use create::CreateArgs;
use diff::DiffArgs;
use extract::ExtractArgs;
use list::ListArgs;
use outcome::{end_on_broken_pipe, message, say_err};
use remap::RemapArgs;
use shared::OwnerArgs;
use unshare::UnshareArgs;

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
host (identity), the name of a context from contexts.toml, or a running user
namespace: pid:PID (a process in it, e.g. a rootless container's) or ns:PATH (a
namespace file). create, extract and diff then run inside that namespace, which
the user who owns it may enter; `alientar contexts --live` lists those.";

/// The exit codes, for `--help` and the man page.
macro_rules! exit_status {
    () => {
        "Exit status:
  0  success (diff: the archive and the tree are identical)
  1  some entries failed, each reported, the rest done (create: also files that
     changed while read; diff: differences found)
  2  fatal: bad usage, an unreadable or malformed archive, unmapped IDs on create
  125  unshare: the namespace could not be made or entered (126: the command
     could not be run, 127: it was not found; else the command's own status)"
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
    #[command(visible_alias = "c", after_long_help = normalize::AFTER_LONG_HELP)]
    Create(CreateArgs),
    /// List an archive's entries (context view; host view with --map/--context).
    #[command(visible_alias = "t", after_long_help = list::AFTER_LONG_HELP)]
    List(ListArgs),
    /// Extract an archive (owners translated context → host).
    #[command(visible_alias = "x", after_long_help = extract::AFTER_LONG_HELP)]
    Extract(ExtractArgs),
    /// Preflight: which IDs each context uses, and which the map does not cover (exit 0 only when all map).
    Check(CheckArgs),
    /// Rewrite owners archive to archive (inside → outside; --inverse for outside → inside).
    Remap(RemapArgs),
    /// Compare an archive with a tree: content, type, mode, owner (through the map), mtime, links, xattrs (exit 0 only when identical).
    #[command(visible_alias = "d", alias = "compare")]
    Diff(DiffArgs),
    /// Run a command inside a context's user namespace, as root there (like podman unshare).
    #[command(after_long_help = unshare::AFTER_LONG_HELP)]
    Unshare(UnshareArgs),
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
    /// Show the context registry, or one context with its maps; --live: the running user namespaces you can enter.
    Contexts {
        /// A context name.
        #[arg(conflicts_with = "live")]
        name: Option<String>,
        /// List the running user namespaces you own (root: all): the PID to give as pid:PID, owner,
        /// maps, the command line of the namespace's oldest process, and the context with the same maps.
        #[arg(long)]
        live: bool,
        /// With --live: one JSON object per line.
        #[arg(long, requires = "live")]
        json: bool,
    },
}

/// Is `word` the name or an alias of a command?
fn is_command(word: &str) -> bool {
    use clap::CommandFactory;
    Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
        || word == "help"
}

/// Run the command line; returns the exit status.
pub fn run() -> Exit {
    let args = oldstyle::expand(std::env::args_os().collect(), is_command);
    let cli = Cli::parse_from(args);
    // `unshare` fails as `env` does, in a status its command seldom uses.
    let fatal = match cli.cmd {
        Command::Unshare(_) => Exit::Command(unshare::CANNOT_ENTER),
        _ => Exit::Fatal,
    };
    match run_cmd(cli.cmd, !cli.no_progress) {
        Ok(code) => code,
        Err(e) => {
            end_on_broken_pipe(&e);
            say_err(&format!("alientar: {}", message(&e)));
            fatal
        }
    }
}

/// What every command's run shares.
struct Env {
    reg: Registry,
    who: Invoker,
    /// Not `--no-progress`.
    show_progress: bool,
    /// When the command began (for `--totals`).
    start: Instant,
}

impl Env {
    /// The ownership options, resolved against the registry.
    fn owners(&self, a: &OwnerArgs) -> Result<OwnerOptions, Error> {
        shared::owner_options(a, &self.reg, &self.who)
    }

    /// A bar on stderr for the operation `verb` names, unless progress is
    /// off or `-v` names go to the terminal (they are the progress then).
    fn progress(&self, verb: &'static str, names_on_tty: bool) -> Progress {
        if self.show_progress && !names_on_tty {
            progress::stderr(verb)
        } else {
            Progress::hidden()
        }
    }
}

fn run_cmd(cmd: Command, show_progress: bool) -> Result<Exit, Error> {
    let start = Instant::now();
    match cmd {
        Command::Completions { shell } => return man::completions(shell),
        Command::Man { command, dir } => return man::man(command.as_deref(), dir.as_deref()),
        _ => {}
    }
    let who = Invoker::current();
    let env = Env {
        reg: Registry::load(who.clone())?,
        who,
        show_progress,
        start,
    };
    match cmd {
        Command::Create(a) => create::run(a, &env),
        Command::List(a) => list::run(a, &env),
        Command::Extract(a) => extract::run(a, &env),
        Command::Check(a) => check::run(a, &env),
        Command::Remap(a) => remap::run(a, &env),
        Command::Diff(a) => diff::run(a, &env),
        Command::Unshare(a) => unshare::run(a, &env),
        Command::Contexts { name, live, json } => match (live, json) {
            (true, json) => contexts::run_live(json, &env.reg),
            (false, _) => contexts::run(name.as_deref(), &env.reg),
        },
        Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
    }
}
