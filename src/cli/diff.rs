//! `alientar diff`: its options and its run.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use alientar::Error;
use alientar::{DiffOptions, Difference, diff};

use super::Env;
use super::outcome::{Exit, message, say_err};
use super::shared::OwnerArgs;

#[derive(Args, Debug)]
pub(super) struct DiffArgs {
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

impl DiffArgs {
    /// The library's options (owners resolved against the registry).
    fn options(self, env: &Env) -> Result<DiffOptions, Error> {
        Ok(DiffOptions {
            owners: env.owners(&self.owners)?,
            archive: self.file,
            dir: self.dir,
            patterns: self.patterns.into_iter().map(String::into_bytes).collect(),
        })
    }
}

/// Compare the archive with the tree: the differences on stdout as they
/// are found, the errors on stderr at the end.
pub(super) fn run(a: DiffArgs, env: &Env) -> Result<Exit, Error> {
    let opts = a.options(env)?;
    let bar = env.progress("comparing", false);
    bar.watch_archive(&opts.archive, opts.patterns.is_empty());
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
