//! What the workers leave for the final phases, and the report made of it.

use std::collections::BTreeMap;
use std::io;

use crate::error::Error;
use crate::report::Report;

use super::admit::Admit;
use super::dirs::{DeferredDir, SymlinkOwners};

/// Per-entry errors kept for the report (per worker); the rest are counted.
const MAX_ERRORS: usize = 1000;

/// What a worker leaves behind for the final phases.
#[derive(Default)]
pub(super) struct Leftovers {
    pub(super) deferred: Vec<DeferredDir>,
    pub(super) symlink_owners: SymlinkOwners,
    pub(super) warnings: BTreeMap<String, u64>,
    pub(super) owner_failures: OwnerFailures,
    /// Errors by the seq of their entry.
    pub(super) errors: Vec<(u64, Error)>,
    /// Errors not kept (beyond [`MAX_ERRORS`]).
    pub(super) dropped: u64,
    /// Entries applied.
    pub(super) done: u64,
    /// Bytes held by `deferred` (see [`super::kinds`]).
    pub(super) deferred_bytes: usize,
}

impl Leftovers {
    /// Take in what another worker left.
    pub(super) fn absorb(&mut self, l: Leftovers) {
        self.deferred.extend(l.deferred);
        for (k, v) in l.symlink_owners {
            self.symlink_owners.entry(k).or_default().extend(v);
        }
        for (k, v) in l.warnings {
            *self.warnings.entry(k).or_insert(0) += v;
        }
        for (cause, f) in l.owner_failures {
            self.owner_failures.entry(cause).or_default().absorb(f);
        }
        self.errors.extend(l.errors);
        self.dropped += l.dropped;
        self.done += l.done;
    }

    pub(super) fn warn(&mut self, what: impl Into<String>) {
        *self.warnings.entry(what.into()).or_insert(0) += 1;
    }

    pub(super) fn error(&mut self, seq: u64, e: Error) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push((seq, e));
        } else {
            self.dropped += 1;
        }
    }

    /// The report of a run: what the workers left, the error that stopped
    /// the run if one did, else the patterns nothing matched.
    pub(super) fn into_report(
        mut self,
        mut report: Report,
        fatal: Option<Error>,
        admit: &Admit,
    ) -> Report {
        report.entries = self.done;
        self.errors.sort_by_key(|(s, _)| *s);
        report.errors = self.errors.into_iter().map(|(_, e)| e).collect();
        owner_failure_report(self.owner_failures, &mut report);
        if self.dropped > 0 {
            report.errors.push(Error::usage(format!(
                "... and {} more errors like those above",
                self.dropped
            )));
        }
        for (w, n) in self.warnings {
            report.warnings.push(if n > 1 {
                format!("{w} ({n} entries)")
            } else {
                w
            });
        }
        if let Some(f) = fatal {
            report.fatal = Some(f);
            return report;
        }
        report
            .errors
            .extend(crate::pattern::not_found(admit.unmatched()));
        report
    }
}

/// Owner changes refused, by cause (an OS error number): reported once per
/// cause, with a count and the first entry, instead of once per entry.
pub(super) type OwnerFailures = BTreeMap<i32, OwnerFailure>;

/// The owner changes refused for one cause.
#[derive(Default)]
pub(super) struct OwnerFailure {
    pub(super) count: u64,
    /// The first in archive order.
    first: Option<Refused>,
}

/// An entry whose owner could not be set.
pub(super) struct Refused {
    pub(super) seq: u64,
    pub(super) path: String,
    /// The uid and gid it was to get.
    pub(super) owner: (u32, u32),
}

impl OwnerFailure {
    fn absorb(&mut self, o: OwnerFailure) {
        self.count += o.count;
        if let Some(f) = o.first {
            self.note(f);
        }
    }

    pub(super) fn note(&mut self, f: Refused) {
        if self.first.as_ref().is_none_or(|x| f.seq < x.seq) {
            self.first = Some(f);
        }
    }
}

/// The report of refused owner changes: an error per cause, and one
/// warning that says what became of those entries.
fn owner_failure_report(failures: OwnerFailures, report: &mut Report) {
    for (cause, f) in &failures {
        let Some(Refused {
            path,
            owner: (u, g),
            ..
        }) = &f.first
        else {
            continue;
        };
        let what = if f.count == 1 {
            format!("cannot change the owner of {path} to {u}:{g}")
        } else {
            format!(
                "cannot change the owner of {} entries (first: {path}, to {u}:{g})",
                f.count
            )
        };
        report
            .errors
            .push(Error::io_nopath(what, io::Error::from_raw_os_error(*cause)));
    }
    if !failures.is_empty() {
        report.warnings.push(
            "entries whose owner could not be changed are written owned by you, without setuid/setgid bits; \
             --owners xattr or --owners manifest=FILE record the owners instead"
                .into(),
        );
    }
}
