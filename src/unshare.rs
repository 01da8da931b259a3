//! `unshare`: run a command inside a context's user namespace, as
//! `podman unshare` does: a namespace built from the context's map with
//! `newuidmap`/`newgidmap` (the built-in `rootless` when none is named),
//! or a running one (`pid:PID`, `ns:PATH`, a context with `userns`)
//! entered with `setns`. The process becomes the namespace's root there
//! and then *is* the command (`execvp`): its standard input, output and
//! error, environment, signals and exit status are the command's own.

use std::convert::Infallible;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use crate::context::Registry;
use crate::error::Error;
use crate::ownership::{Namespace, OwnerOptions};
use crate::sys::userns::Become;

/// The environment variable set for the command: which namespace it runs
/// in, for a prompt or a script (`rootless`, a context's name, `pid:PID`,
/// or the map given).
pub const UNSHARE_ENV: &str = "ALIENTAR_UNSHARE";

/// What `unshare` runs, and where.
#[derive(Clone, Debug, Default)]
pub struct UnshareOptions {
    /// The namespace: `owners.live` (a running one), else one built from
    /// `owners.maps`, else from `owners.context`'s map, else from the
    /// built-in `rootless` (podman's layout).
    pub owners: OwnerOptions,
    /// The command and its arguments, looked up in `PATH`; empty: the
    /// shell named by `$SHELL`, else `/bin/sh`.
    pub command: Vec<OsString>,
}

/// Why `unshare` returned (it returns only when it failed).
#[derive(Debug)]
pub enum UnshareError {
    /// The namespace could not be made or entered.
    Namespace(Error),
    /// The command could not be run.
    Command {
        /// The program.
        program: OsString,
        /// Why: not found, not executable...
        source: std::io::Error,
    },
}

impl UnshareError {
    /// The exit status `env`, `chroot` and `podman unshare` give these
    /// failures: 125 when the namespace could not be entered, 127 when
    /// the command was not found, 126 when it could not be run.
    pub fn exit_code(&self) -> i32 {
        match self {
            UnshareError::Namespace(_) => 125,
            UnshareError::Command { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                127
            }
            UnshareError::Command { .. } => 126,
        }
    }
}

impl std::fmt::Display for UnshareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnshareError::Namespace(e) => write!(f, "{e}"),
            UnshareError::Command { program, source } => {
                write!(f, "cannot run {}: {source}", program.to_string_lossy())
            }
        }
    }
}

impl std::error::Error for UnshareError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UnshareError::Namespace(e) => Some(e),
            UnshareError::Command { source, .. } => Some(source),
        }
    }
}

/// Enter the namespace `opts` names, as its root (as the invoking user
/// where it does not map 0), and replace this process with the command.
/// Call before any thread exists.
///
/// # Errors
/// Only on failure (on success the command runs in this process's place):
/// an unknown context, a map `newuidmap` refuses, a running namespace
/// that is not the user's ([`UnshareError::Namespace`]); a command that
/// cannot be run ([`UnshareError::Command`]).
pub fn unshare(opts: &UnshareOptions, reg: &Registry) -> Result<Infallible, UnshareError> {
    let ns = crate::ownership::namespace(&opts.owners, reg).map_err(UnshareError::Namespace)?;
    let name = describe(&opts.owners, &ns);
    ns.enter_as(Become::Root).map_err(UnshareError::Namespace)?;
    let (program, args) = match opts.command.split_first() {
        Some((p, a)) => (p.clone(), a.to_vec()),
        None => (
            std::env::var_os("SHELL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into()),
            Vec::new(),
        ),
    };
    // std resets SIGPIPE (which Rust ignores) and the signal mask before
    // the exec: the command starts as it would from a shell.
    let source = std::process::Command::new(&program)
        .args(args)
        .env(UNSHARE_ENV, name)
        .exec();
    Err(UnshareError::Command { program, source })
}

/// The namespace's name for [`UNSHARE_ENV`].
fn describe(o: &OwnerOptions, ns: &Namespace) -> String {
    match (ns, &o.context, &o.maps) {
        (Namespace::Join(l), _, _) => l.spec.clone(),
        (_, Some(c), _) if o.map_option.is_none() => c.clone(),
        (_, _, None) => "rootless".into(),
        (Namespace::Build(m), _, _) if m.uid.to_string() == m.gid.to_string() => m.uid.to_string(),
        (Namespace::Build(m), _, _) => format!("uid {} gid {}", m.uid, m.gid),
    }
}
