//! `alientar check`: its options and its run.

use std::path::PathBuf;

use clap::Args;

use alientar::Error;

use super::Env;
use super::outcome::Exit;
use super::shared::OwnerArgs;

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    /// Archive to read (`-` for standard input), or an image:
    /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]
    /// (its layers verified, then applied in order; `./oci:x` is a file).
    #[arg(short = 'f', long = "file", value_name = "ARCHIVE")]
    file: PathBuf,
    #[command(flatten)]
    owners: OwnerArgs,
}

/// Check the archive's owners against the maps; the report on stdout.
pub(super) fn run(a: CheckArgs, env: &Env) -> Result<Exit, Error> {
    let owners = env.owners(&a.owners)?;
    let result = alientar::check(&a.file, &env.reg, &owners)?;
    let mut out = std::io::stdout().lock();
    let ok = alientar::print_check(&result, &mut out)?;
    Ok(if ok { Exit::Ok } else { Exit::Partial })
}
