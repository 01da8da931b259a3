//! Walk and write at once: the walk runs on its own thread (stat'ing in
//! parallel) while entries are laid out and frames compressed. The global
//! header, which names the maps of every label found on disk, goes in a
//! first frame of its own, made when the walk is over (or at once when the
//! label is given); later frames are compressed meanwhile, and parked until
//! it is made. An unmapped owner still means no archive: the temporary
//! output is removed.
//!
//! The walk runs at most [`AHEAD`] bytes of entries ahead of the layout, so
//! memory does not grow with the tree: it waits (running the pool's jobs
//! meanwhile) while the entries it found and the layout has not taken hold
//! that much.

use std::collections::BTreeSet;
use std::io;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::members::{Members, Written};
use super::overrides::PendingSpecs;
use super::owners::{OwnerStep, Plans, global_header, plan_disk_labels};
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
    let ahead = Ahead::default();
    let walked = std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::unbounded::<(Vec<Item>, usize, Instant)>();
        let prog = watch.progress.clone();
        let walk = Walking {
            tx,
            labels: labels_tx,
            ahead: &ahead,
        };
        let walker = scope.spawn(move || walk_counting(&roots, walk, &prog));
        for (batch, bytes, seen) in &rx {
            run.take(batch, seen, &mut watch, &mut report);
            ahead.taken(bytes);
            if run.failed.is_some() {
                // Stop the walk (it sees the channel closed) and wait for it.
                break;
            }
        }
        drop(rx);
        ahead.close();
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

/// Bytes of entries found by the walk and not yet taken by the layout, at
/// most (a tiny file's entry holds about 300): enough for the layout to
/// start on while the walk reads the next directories.
const AHEAD: usize = 4 << 20;

/// The bytes of entries the walk has found and the layout not yet taken.
#[derive(Default)]
struct Ahead {
    /// The bytes, and whether the layout has stopped taking any.
    held: Mutex<(usize, bool)>,
    taken: Condvar,
}

impl Ahead {
    /// Count `bytes` more found, once the layout has taken enough of those
    /// before: false when it has stopped. The walk runs as a job of the
    /// pool: while it waits, it runs the pool's other jobs (compressing
    /// frames), so that on one core the layout it waits for goes on.
    fn found(&self, bytes: usize) -> bool {
        let lock = || self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mut held = lock();
        while held.0 > 0 && held.0 + bytes > AHEAD && !held.1 {
            drop(held);
            if rayon::yield_now() != Some(rayon::Yield::Executed) {
                let h = lock();
                let wait = std::time::Duration::from_millis(1);
                drop(self.taken.wait_timeout(h, wait));
            }
            held = lock();
        }
        held.0 += bytes;
        !held.1
    }

    /// The layout took `bytes`.
    fn taken(&self, bytes: usize) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.0 -= bytes;
        self.taken.notify_all();
    }

    /// The layout takes no more.
    fn close(&self) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.taken.notify_all();
    }
}

/// The bytes an item holds, about.
fn item_bytes(it: &Item) -> usize {
    let own = std::mem::size_of::<Item>();
    match it {
        Item::File(s) => {
            let e = &s.entry;
            let xattrs: usize = e.xattrs.iter().map(|(k, v)| 64 + k.len() + v.len()).sum();
            own + std::mem::size_of::<WalkedFile>()
                + s.fs_path.as_os_str().len()
                + e.path.len()
                + e.link.as_ref().map_or(0, Vec::len)
                + xattrs
                + s.data.as_ref().map_or(0, |d| d.bytes().len())
        }
        Item::Socket(p) => own + p.as_os_str().len(),
        Item::Error(_) => own + 256,
    }
}

/// Where the walk's findings go.
struct Walking<'a> {
    /// Batches of items, with their bytes and when they were found.
    tx: Sender<(Vec<Item>, usize, Instant)>,
    /// The labels found on disk, once the walk is over.
    labels: Sender<BTreeSet<String>>,
    ahead: &'a Ahead,
}

/// Walk `roots`, sending what is found in batches; when done, give
/// `progress` the totals and `to.labels` the labels found on disk.
fn walk_counting(roots: &Plan, to: Walking, progress: &Progress) {
    let Walking { tx, labels, ahead } = to;
    let mut found = BTreeSet::new();
    let (mut bytes, mut entries) = (0u64, 0u64);
    // The walk runs as a job of the pool that compresses frames: its
    // parallel stat calls then go on a worker's own queue, ahead of queued
    // frames, rather than behind them in the pool's global queue while the
    // planner, waiting for the walk, leaves the cores idle.
    rayon::scope(|_| {
        crate::walk::walk_each(roots, &mut |batch| {
            let size = batch.iter().map(item_bytes).sum();
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
            let seen = Instant::now();
            ahead.found(size) && tx.send((batch, size, seen)).is_ok()
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
        if ctx.is_some() {
            self.owners.plans.insert(ctx.clone(), env.plan(ctx)?);
            self.members.header(global_header(env, &self.owners.plans));
            return Ok(());
        }
        let probe = labels.clone();
        let ready = Box::new(move || !probe.is_empty());
        self.members.defer_header(
            ready,
            Box::new(move || {
                let mut plans = Plans::new();
                for l in labels.recv().unwrap_or_default() {
                    let l = Some(l);
                    let plan = env.plan(&l).map_err(|e| io::Error::other(e.to_string()))?;
                    plans.insert(l, plan);
                }
                plan_disk_labels(&mut plans, env).map_err(|e| io::Error::other(e.to_string()))?;
                Ok(global_header(env, &plans))
            }),
        );
        Ok(())
    }

    /// Take one batch of what the walk found at the time `seen`.
    fn take(&mut self, batch: Vec<Item>, seen: Instant, watch: &mut Watch, report: &mut Report) {
        for it in batch {
            match it {
                Item::File(s) => self.file(s, seen, watch, report),
                Item::Socket(p) => report
                    .warnings
                    .push(format!("{}: socket ignored", p.display())),
                Item::Error(e) => report.errors.push(e),
            }
        }
    }

    /// Label, translate and write `s`. Once an owner is unmapped, the rest
    /// is only translated, for the list of unmapped owners.
    fn file(
        &mut self,
        mut s: Box<WalkedFile>,
        seen: Instant,
        watch: &mut Watch,
        report: &mut Report,
    ) {
        if self.own == Some((s.dev, s.ino)) {
            return;
        }
        if let Err(e) = self.owners.take(&mut s, &mut self.no_specs) {
            self.failed.get_or_insert(e);
            return;
        }
        if self.owners.translator.unmapped.is_empty()
            && self.failed.is_none()
            && let Err(e) = self.members.write(*s, Some(seen), watch, report)
        {
            self.failed = Some(e);
        }
    }
}
