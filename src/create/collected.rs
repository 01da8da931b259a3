//! Walk, then write: for overrides from xattrs or a manifest, which need
//! the whole tree, for standard output, where nothing written can be taken
//! back (an unmapped owner must be known before the first byte), for an
//! increment, whose listing of what it deletes comes first, and for an
//! image layer over a base, which holds what differs from it.

use super::increment::Incremental;
use super::members::Members;
use super::members::Written;
use super::overrides::{PendingSpecs, apply_manifest, apply_xattr_overrides};
use super::owners::{OwnerStep, global_header};
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
    base: Option<super::image::Base>,
) -> Result<(Report, Written)> {
    let opts = env.opts;
    let prev = match &opts.incremental {
        Incremental::From(p) => Some(super::increment::load(p, &mut report)?),
        _ => None,
    };
    let base = base
        .map(|b| b.load(env.labels.archive.as_deref()))
        .transpose()?;
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

    let mut out = super::output(opts, out)?;
    let mut members = Members::new(env, &mut out, watch.progress);
    let header = global_header(env, &plans);
    let mut image = None;
    match (prev, base) {
        (Some(prev), _) => {
            let parts = (&mut members, &mut watch, &mut report);
            super::increment::write(prev, files, header, env, parts)?;
        }
        (None, Some(base)) => {
            members.header(header);
            let parts = (&mut members, &mut watch, &mut report);
            image = Some(super::image::write_on_base(base, files, env, parts)?);
        }
        (None, None) => {
            watch
                .progress
                .set_total(files.iter().map(|s| s.entry.size).sum(), files.len() as u64);
            members.header(header);
            for s in files {
                members.write(s, None, &mut watch, &mut report)?;
            }
        }
    }
    let mut written = members.finish(out, &mut report)?;
    written.base = image;
    Ok((report, written))
}
