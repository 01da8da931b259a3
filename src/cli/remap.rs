//! `alientar remap`: its options and its run.

use std::path::PathBuf;

use clap::Args;

use alientar::Error;
use alientar::{RemapOptions, remap};

use super::Env;
use super::outcome::{Exit, finish};
use super::shared::{CompressArgs, OwnerArgs, out_format};

#[derive(Args, Debug)]
pub(super) struct RemapArgs {
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

impl RemapArgs {
    /// The library's options: remap needs a map.
    fn options(self, env: &Env) -> Result<RemapOptions, Error> {
        let owners = env.owners(&self.owners)?;
        let maps = owners
            .maps
            .ok_or_else(|| Error::usage("remap needs --map (or --uid-map and --gid-map)"))?;
        let format = out_format(&self.output, &self.compress)?;
        Ok(RemapOptions {
            input: self.file,
            output: self.output,
            maps,
            inverse: self.inverse,
            context: self.owners.context,
            unmapped: owners.unmapped,
            format,
        })
    }
}

/// Rewrite the archive.
pub(super) fn run(a: RemapArgs, env: &Env) -> Result<Exit, Error> {
    let opts = a.options(env)?;
    let bar = env.progress("remapping", false);
    bar.watch_archive(&opts.input, true);
    bar.start();
    let r = remap(&opts, &bar);
    bar.finish();
    Ok(finish(r?))
}
