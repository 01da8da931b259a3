//! `alientar list`: its options and its run.

use std::path::PathBuf;

use clap::Args;

use alientar::Error;
use alientar::{ListFormat, ListOptions, list};

use super::Env;
use super::outcome::{Exit, finish};
use super::select::{SelectArgs, check_stdin};
use super::shared::{OwnerArgs, transform_of};

#[derive(Args, Debug)]
pub(super) struct ListArgs {
    /// Archive to read (`-` for standard input), or an image:
    /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]
    /// (its final view; `./oci:x` is a file).
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
    /// With --show-transformed-names: show member names without this
    /// many leading components, and not those with no more (GNU tar's
    /// list shows names as stored otherwise).
    #[arg(long, value_name = "N", default_value_t = 0)]
    strip_components: u32,
    /// An image's layers, each with its own entries (a `# layer N/COUNT
    /// DIGEST` line before them; whiteouts marked), not its final view.
    #[arg(long)]
    layers: bool,
    #[command(flatten)]
    owners: OwnerArgs,
    #[command(flatten)]
    select: SelectArgs,
}

impl ListArgs {
    /// The library's options (owners resolved against the registry).
    fn options(self, env: &Env) -> Result<ListOptions, Error> {
        let owners = env.owners(&self.owners)?;
        check_stdin(&self.file, &self.select)?;
        let mut patterns: Vec<Vec<u8>> =
            self.patterns.into_iter().map(String::into_bytes).collect();
        patterns.extend(self.select.names()?);
        Ok(ListOptions {
            archive: self.file,
            patterns,
            matching: self.select.member_matching(),
            exclude: self.select.exclude()?,
            strip_components: self.strip_components,
            owners,
            format: if self.json {
                ListFormat::Json
            } else if self.verbose {
                ListFormat::Long
            } else {
                ListFormat::Names
            },
            transform: transform_of(&self.transform)?,
            show_transformed: self.show_transformed_names,
            layers: self.layers,
        })
    }
}

/// List the archive on stdout.
pub(super) fn run(a: ListArgs, env: &Env) -> Result<Exit, Error> {
    let opts = a.options(env)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 << 10, stdout.lock());
    Ok(finish(list(&opts, &env.reg, &mut out)?))
}
