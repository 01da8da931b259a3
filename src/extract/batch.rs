//! What travels from the reading thread to a worker.

use crossbeam_channel::Sender;

use crate::entry::Entry;
use crate::frame::BufferPool;
use crate::frame::read::Shared;

use super::big::{BigPiece, CHUNK};

/// A batch is sent when its data and names reach this many bytes.
pub(super) const BATCH_BYTES: usize = 1 << 20;
/// A batch is sent when it holds this many jobs: one wake-up per batch,
/// not per file.
pub(super) const BATCH_JOBS: usize = 64;

/// Jobs for one worker, and the file data of their entries.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) jobs: Vec<Work>,
    /// Its entries' data in `data[..used]`; the rest of `data` is room.
    pub(super) data: Vec<u8>,
    pub(super) used: usize,
    /// Data and names, to send the batch when it reaches [`BATCH_BYTES`].
    pub(super) weight: usize,
    /// The frame its `Data::Shared` entries lie in (one at most).
    pub(super) frame: Option<Shared>,
}

impl Batch {
    /// A batch of one job.
    pub(super) fn of(job: Work) -> Batch {
        Batch {
            jobs: vec![job],
            ..Batch::default()
        }
    }

    /// Is it due to be sent?
    pub(super) fn full(&self) -> bool {
        self.jobs.len() >= BATCH_JOBS || self.weight >= BATCH_BYTES
    }
}

/// What a worker is handed.
pub(super) enum Work {
    Entry(Box<Task>),
    /// A big file's bytes, to write at their offset.
    Piece(BigPiece),
    /// Answer when everything before this is done.
    Barrier(Sender<()>),
}

/// One entry for a worker.
pub(super) struct Task {
    pub(super) seq: u64,
    /// Its name, made safe (see [`crate::member::safe_components`]).
    pub(super) key: Vec<u8>,
    pub(super) ctx: Entry,
    /// The host view when it differs from `ctx` (a map applied).
    pub(super) host: Option<Entry>,
    /// It gets the label xattr.
    pub(super) label: bool,
    pub(super) data: Data,
}

impl Task {
    /// What it weighs in a batch: its data, a header, and its names and
    /// xattrs (twice: both views).
    pub(super) fn weight(&self) -> usize {
        let xattrs: usize = self.ctx.xattrs.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.ctx.size as usize + 512 + 2 * (self.ctx.path.len() + xattrs)
    }
}

/// An entry's data as a worker receives it.
pub(super) enum Data {
    None,
    /// `len` bytes at `at` in its batch's data.
    At {
        at: usize,
        len: usize,
    },
    /// Bytes of a decompressed frame, not copied.
    Shared(Shared),
}

/// A buffer for a batch's file data or a big file's piece: the data of the
/// batches the workers are done with, given back to a shared pool, so a
/// file's bytes go into memory already mapped instead of an allocation of
/// their own that another thread frees. Room for a full batch (its last
/// file, at most [`CHUNK`], may take it past [`BATCH_BYTES`]), so a buffer
/// never moves once made. Its length is how far it was ever filled, all
/// initialized (zeros, or an earlier batch's bytes): data is read into it
/// without zero-filling it each time, and only the pages used are touched.
pub(super) fn data_buffer(pool: &BufferPool) -> Vec<u8> {
    let mut v = pool.take_as_given();
    v.reserve_exact((BATCH_BYTES + CHUNK).saturating_sub(v.len()));
    v
}

/// `v[at..at + len]`, zero-filling only what `v` never held before.
pub(super) fn room(v: &mut Vec<u8>, at: usize, len: usize) -> &mut [u8] {
    if at + len > v.len() {
        v.resize(at + len, 0);
    }
    &mut v[at..at + len]
}
