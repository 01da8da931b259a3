//! Walk and write at once: the walk runs on its own thread (stat'ing in
//! parallel) while entries are laid out and frames compressed. The global
//! header, which names the maps of every label found on disk, goes in a
//! first frame of its own, made when the walk is over (or at once when the
//! label is given); later frames are compressed meanwhile. An unmapped owner
//! still means no archive: the temporary output is removed.

use std::collections::BTreeSet;
use std::io;

use crossbeam_channel::{Receiver, Sender};

use super::members::{Members, Written};
use super::overrides::PendingSpecs;
use super::owners::{OwnerStep, Plans, global_records, plan_disk_labels};
use super::{Env, Watch};
use crate::entry::Kind;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::progress::Progress;
use crate::report::Report;
use crate::walk::{Item, Plan, WalkedFile};

/// Walk and write at once (see the module's documentation).
pub(super) fn create_streaming(
    env: &Env,
    mut report: Report,
    mut watch: Watch,
    out: Option<Output>,
) -> Result<(Report, Written)> {
    let opts = env.opts;
    // A path given on the command line must exist: checked before any output.
    let roots = crate::walk::plan(&opts.dir, &opts.paths, &opts.select)?;
    let mut out = super::output(opts, out)?;
    let (labels_tx, labels_rx) = crossbeam_channel::bounded::<BTreeSet<String>>(1);
    let mut run = Stream {
        owners: OwnerStep::new(env),
        members: Members::new(env, &mut out, watch.progress),
        own: out.id(),
        failed: None,
        no_specs: PendingSpecs::new(),
    };
    run.start_header(env, labels_rx)?;
    let walked = std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<Item>>();
        let prog = watch.progress.clone();
        let walker = scope.spawn(move || walk_counting(&roots, tx, labels_tx, &prog));
        for batch in &rx {
            run.take(batch, &mut watch, &mut report);
            if run.failed.is_some() {
                // Stop the walk (it sees the channel closed) and wait for it.
                break;
            }
        }
        drop(rx);
        walker.join()
    });
    if walked.is_err() {
        return Err(Error::io_nopath(
            "the walk panicked",
            io::Error::other("panic"),
        ));
    }
    let Stream {
        owners,
        members,
        failed,
        ..
    } = run;
    if let Some(e) = failed {
        return Err(e);
    }
    owners.translator.finish(&mut report)?;
    let written = members.finish(out, &mut report)?;
    Ok((report, written))
}

/// Walk `roots`, sending what is found to `tx` in batches; when done, give
/// `progress` the totals and `labels` the labels found on disk.
fn walk_counting(
    roots: &Plan,
    tx: Sender<Vec<Item>>,
    labels: Sender<BTreeSet<String>>,
    progress: &Progress,
) {
    let mut found = BTreeSet::new();
    let (mut bytes, mut entries) = (0u64, 0u64);
    // The walk runs as a job of the pool that compresses frames: its
    // parallel stat calls then go on a worker's own queue, ahead of queued
    // frames, rather than behind them in the pool's global queue while the
    // planner, waiting for the walk, leaves the cores idle.
    rayon::scope(|_| {
        crate::walk::walk_each(roots, &mut |batch| {
            for it in &batch {
                if let Item::File(s) = it {
                    entries += 1;
                    if s.entry.kind == Kind::File {
                        bytes += s.entry.size;
                    }
                    // (An empty label marks a file unlabelled.)
                    if let Some(l) = &s.entry.label
                        && !l.is_empty()
                        && !found.contains(l)
                    {
                        found.insert(l.clone());
                    }
                }
            }
            tx.send(batch).is_ok()
        })
    });
    drop(tx);
    progress.set_total(bytes, entries);
    let _ = labels.send(found);
}

/// The entries as they come from the walk.
struct Stream<'a, 'e> {
    owners: OwnerStep<'e>,
    members: Members<'a>,
    /// The archive being written (it may lie in the tree): not archived.
    own: Option<(u64, u64)>,
    /// The first error that stops the run.
    failed: Option<Error>,
    /// Always empty: manifests are not streamed.
    no_specs: PendingSpecs,
}

impl<'a, 'e: 'a> Stream<'a, 'e> {
    /// Start with the global header: written now when `--context` gives
    /// every entry's label, else made from the labels the walk sends to
    /// `labels` once it is over.
    fn start_header(&mut self, env: &'e Env<'e>, labels: Receiver<BTreeSet<String>>) -> Result<()> {
        let ctx = &env.opts.owners.context;
        let archive = env.labels.archive.as_deref();
        if ctx.is_some() {
            self.owners.plans.insert(ctx.clone(), env.plan(ctx)?);
            self.members
                .header(global_records(archive, &self.owners.plans));
            return Ok(());
        }
        self.members.defer_header(Box::new(move || {
            let mut plans = Plans::new();
            for l in labels.recv().unwrap_or_default() {
                let l = Some(l);
                let plan = env.plan(&l).map_err(|e| io::Error::other(e.to_string()))?;
                plans.insert(l, plan);
            }
            plan_disk_labels(&mut plans, env).map_err(|e| io::Error::other(e.to_string()))?;
            Ok(global_records(archive, &plans))
        }));
        Ok(())
    }

    /// Take one batch of what the walk found.
    fn take(&mut self, batch: Vec<Item>, watch: &mut Watch, report: &mut Report) {
        for it in batch {
            match it {
                Item::File(s) => self.file(s, watch, report),
                Item::Socket(p) => report
                    .warnings
                    .push(format!("{}: socket ignored", p.display())),
                Item::Error(e) => report.errors.push(e),
            }
        }
    }

    /// Label, translate and write `s`. Once an owner is unmapped, the rest
    /// is only translated, for the list of unmapped owners.
    fn file(&mut self, mut s: Box<WalkedFile>, watch: &mut Watch, report: &mut Report) {
        if self.own == Some((s.dev, s.ino)) {
            return;
        }
        if let Err(e) = self.owners.take(&mut s, &mut self.no_specs) {
            self.failed.get_or_insert(e);
            return;
        }
        if self.owners.translator.unmapped.is_empty()
            && self.failed.is_none()
            && let Err(e) = self.members.write(*s, watch, report)
        {
            self.failed = Some(e);
        }
    }
}
