//! `alientar unshare`: its options and its run.

use std::ffi::OsString;

use clap::Args;

use alientar::{Error, UnshareOptions, unshare};

use super::Env;
use super::outcome::{Exit, say_err};
use super::shared::OwnerArgs;

/// The exit status when the namespace cannot be made or entered (an
/// error before [`unshare`] too: a bad contexts file, a namespace that
/// cannot be opened).
pub(super) const CANNOT_ENTER: i32 = 125;

/// Shown after `alientar unshare --help`.
pub(super) const AFTER_LONG_HELP: &str = "\
The command runs in this process's place: its standard input, output and
error, its environment (plus ALIENTAR_UNSHARE, the namespace's name), its
signals and its exit status are its own. It is root inside (as the
namespace's 0; as your own IDs where the map has no 0), as under podman
unshare, and sees the files of a tree restored with extract --owners userns
through the same map with their context's owners: mke2fs -d, mksquashfs and
build steps store those.

Only the user namespace is new (or joined): not the mount, PID or network
namespaces, and no podman storage is set up (podman unshare also sets
CONTAINERS_GRAPHROOT and CONTAINERS_RUNROOT, which alientar does not know).

Exit status: the command's; 125 when the namespace could not be made or
entered, 126 when the command could not be run, 127 when it was not found
(as env, chroot and podman unshare).

Examples:
  alientar unshare -- id                          uid=0(root) gid=0(root)
  alientar unshare --context subuid -- ls -ln tree
  alientar unshare -- mke2fs -d tree image.ext4 64M
  alientar unshare --context pid:$(podman inspect -f '{{.State.Pid}}' web) -- sh";

#[derive(Args, Debug)]
pub(super) struct UnshareArgs {
    /// The context whose user namespace to enter (default: rootless, as
    /// podman unshare's: 0 is you, 1... your /etc/subuid range).
    ///
    /// A context's map builds a new namespace with newuidmap; pid:PID,
    /// ns:PATH or a context defined with userns = "PATH" names a running
    /// one, which is entered (setns): only its owner or root may.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The namespace's ID map for uids and gids: INSIDE:OUTSIDE:COUNT[,...], @FILE, rootless,
    /// subuid, a context name, or a running user namespace: pid:PID or ns:PATH.
    #[arg(long, value_name = "SPEC")]
    map: Option<String>,
    /// The namespace's uid map only.
    #[arg(long, value_name = "SPEC")]
    uid_map: Option<String>,
    /// The namespace's gid map only.
    #[arg(long, value_name = "SPEC")]
    gid_map: Option<String>,
    /// The command to run and its arguments (default: $SHELL, else /bin/sh).
    /// Give `--` before it when it has options of its own.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<OsString>,
}

/// Enter the namespace and become the command; returns only on failure.
pub(super) fn run(a: UnshareArgs, env: &Env) -> Result<Exit, Error> {
    let owners = env.owners(&OwnerArgs::maps_only(
        a.context, a.map, a.uid_map, a.gid_map,
    ))?;
    let opts = UnshareOptions {
        owners,
        command: a.command,
    };
    let e = match unshare(&opts, &env.reg) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    say_err(&format!("alientar: unshare: {e}"));
    Ok(Exit::Command(e.exit_code()))
}
