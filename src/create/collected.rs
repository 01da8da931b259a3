//! Walk, then write: for overrides from xattrs or a manifest, which need
//! the whole tree, and for standard output, where nothing written can be
//! taken back (an unmapped owner must be known before the first byte).

use super::members::Members;
use super::members::Written;
use super::overrides::{PendingSpecs, apply_manifest, apply_xattr_overrides};
use super::owners::{OwnerStep, global_records};
use super::{Env, Watch};
use crate::error::Result;
use crate::output::Output;
use crate::report::Report;
use crate::walk::walk;

/// Walk, override, label and translate every entry, then write them all.
pub(super) fn create_collected(
    env: &Env,
    mut report: Report,
    mut watch: Watch,
    out: Option<Output>,
) -> Result<(Report, Written)> {
    let opts = env.opts;
    let w = walk(&opts.dir, &opts.paths, &opts.select)?;
    report.errors = w.errors;
    for s in &w.sockets {
        report
            .warnings
            .push(format!("{}: socket ignored", s.display()));
    }
    let mut files = w.files;
    if opts.from_xattrs {
        apply_xattr_overrides(&mut files, &mut report);
    }
    let mut pending = PendingSpecs::new();
    if let Some(m) = &opts.manifest {
        pending = apply_manifest(&mut files, m, opts)?;
    }
    // Translate everything before writing anything.
    let mut owners = OwnerStep::new(env);
    for s in &mut files {
        owners.take(s, &mut pending)?;
    }
    let OwnerStep {
        mut plans,
        translator,
        ..
    } = owners;
    translator.finish(&mut report)?;
    super::owners::plan_disk_labels(&mut plans, env)?;

    watch
        .progress
        .set_total(files.iter().map(|s| s.entry.size).sum(), files.len() as u64);
    let mut out = super::output(opts, out)?;
    let mut members = Members::new(env, &mut out, watch.progress);
    members.header(global_records(env.labels.archive.as_deref(), &plans));
    for s in files {
        members.write(s, &mut watch, &mut report)?;
    }
    let written = members.finish(out, &mut report)?;
    Ok((report, written))
}
