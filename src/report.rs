//! What a run did, for the caller to report: counts, warnings, per-file
//! errors and the error that stopped it, if any.

use crate::error::Error;

/// What a run did, for the caller to report.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries written or extracted.
    pub entries: u64,
    /// Warnings (one per kind of problem).
    pub warnings: Vec<String>,
    /// Per-file errors; the run went on without those files.
    pub errors: Vec<Error>,
    /// Bytes of the tar stream (uncompressed) written or read, for
    /// `--totals`.
    pub bytes: u64,
    /// The error that stopped the run part-way (extract: a damaged
    /// archive), after everything before it was completed.
    pub fatal: Option<Error>,
}
