//! The end of a run, once the archive is read: the workers' last batches,
//! new subtrees renamed into place, hard links, directory metadata, and
//! the report.

use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::report::Report;

use super::batch::Task;
use super::crew::{WorkerKit, cores};
use super::dirs::finish_dirs;
use super::leftovers::Leftovers;
use super::links::make_links;
use super::read::Reading;
use super::worker::Worker;

impl Reading<'_> {
    /// Finish the run (`fatal`: what stopped the reading, if anything).
    ///
    /// # Errors
    /// A worker panicked.
    pub(super) fn finish(self, kit: &WorkerKit, fatal: Option<Error>) -> Result<Report> {
        let Reading {
            mut input,
            hasher,
            names,
            crew,
            planner: mut main,
            early,
            links,
            root_dir,
            seq,
            ..
        } = self;
        let n = crew.len();
        let (mut left, panicked) = crew.finish();
        // Every worker is done: new subtrees get their names, before hard
        // links (which may point into them) and directory metadata.
        for e in kit.staging.publish(&main.root) {
            left.errors.push((seq, e));
        }
        if panicked {
            return Err(Error::io_nopath(
                "extraction worker panicked",
                io::Error::other("panic"),
            ));
        }
        left.absorb(early);
        let is_last = |l: &Task| names.is_last_link(hasher.of(&l.key), l.seq);
        make_links(&mut main, links, is_last, &mut input.old, &mut left);
        left.deferred.extend(root_dir);
        left.deferred
            .retain(|d| !names.replaced_dirs.contains(&hasher.of(&d.key)));
        apply_dirs(kit, main, n, &input.opts.dest, &mut left);
        if let Err(e) = kit.sink.finish() {
            left.errors.push((u64::MAX, e));
        }
        let report = Report {
            bytes: input.rd.position(),
            ..Report::default()
        };
        Ok(left.into_report(report, fatal, &input.admit))
    }
}

/// Directory metadata on as many threads as there are cores, each with a
/// worker of its own: `main` (the reading thread's) and workers numbered
/// from `n + 1`.
fn apply_dirs(kit: &WorkerKit, main: Worker, n: usize, dest: &Path, left: &mut Leftovers) {
    let mut finishers = vec![main];
    for id in n + 1..n + cores() {
        match kit.worker(id) {
            Ok(w) => finishers.push(w),
            Err(_) => break,
        }
    }
    let deferred = std::mem::take(&mut left.deferred);
    let symlink_owners = std::mem::take(&mut left.symlink_owners);
    finish_dirs(
        &mut finishers,
        dest,
        deferred,
        symlink_owners,
        &mut left.errors,
    );
    for w in finishers {
        left.absorb(w.left);
    }
}
