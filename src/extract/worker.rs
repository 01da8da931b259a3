//! A worker: applies the entries and big-file pieces it is handed, with its
//! own handle on the destination.

use std::io::Write;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::frame::BufferPool;
use crate::sink::Sink;
use crate::sys::Dir;

use super::batch::{Batch, Data, Work};
use super::crew::Finished;
use super::leftovers::Leftovers;
use super::resolve::Cached;
use super::staging::Staging;

/// Directories (as keys) no worker needs to sweep again.
pub(super) type Swept = Arc<std::sync::Mutex<std::collections::HashSet<Vec<u8>>>>;

/// A worker's state: its own handle on the destination and a cache of the
/// last parent directory it resolved.
pub(super) struct Worker {
    pub(super) id: usize,
    pub(super) pid: u32,
    pub(super) umask: u32,
    pub(super) root: Dir,
    pub(super) sink: Arc<dyn Sink>,
    /// The last parent directory resolved.
    pub(super) cache: Option<Cached>,
    /// New subtrees under temporary names, shared by all workers.
    pub(super) staging: Staging,
    /// Effective uid and gid: a file we create is born with them.
    pub(super) creds: (u32, u32),
    /// Directories swept of stale temporaries, or made by this run (which
    /// holds none), shared by all workers.
    pub(super) swept: Swept,
    /// Where batch data buffers go back when done.
    pub(super) buffers: BufferPool,
    /// Big files' pieces in flight, one message each (see [`super::big`]).
    pub(super) slots: Receiver<()>,
    pub(super) tmp_counter: u64,
    /// The entry being applied (its seq), for records naming the first.
    pub(super) seq: u64,
    /// `--overwrite`: existing regular files are written in place.
    pub(super) overwrite: bool,
    pub(super) left: Leftovers,
}

/// A temporary name, `.alientar-PID-WORKER-N`: on the stack, since every
/// entry gets one and most never use it (an unnamed file needs none).
pub(super) struct TmpName {
    buf: [u8; TmpName::MAX],
    len: usize,
}

impl TmpName {
    /// `.alientar-` and three decimal integers (u32, usize, u64) with dashes.
    const MAX: usize = 64;
}

impl std::ops::Deref for TmpName {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Worker {
    pub(super) fn tmp_name(&mut self) -> TmpName {
        self.tmp_counter += 1;
        let mut t = TmpName {
            buf: [0; TmpName::MAX],
            len: 0,
        };
        let mut w = &mut t.buf[..];
        write!(w, ".alientar-{}-{}-{}", self.pid, self.id, self.tmp_counter)
            .expect("three integers fit");
        t.len = TmpName::MAX - w.len();
        t
    }

    pub(super) fn warn_n(&mut self, what: &str, n: u64) {
        *self.left.warnings.entry(what.to_string()).or_insert(0) += n;
    }

    pub(super) fn warn(&mut self, what: impl Into<String>) {
        self.left.warn(what);
    }

    /// Apply what comes in `rx` until it closes, counting each batch done
    /// in `finished`; returns what is left for the final phases.
    pub(super) fn run(mut self, rx: Receiver<Batch>, finished: &Finished) -> Leftovers {
        for Batch { jobs, data, .. } in rx {
            for job in jobs {
                match job {
                    Work::Entry(t) => {
                        let bytes = match &t.data {
                            Data::None => &[][..],
                            Data::At { at, len } => &data[*at..at + len],
                            Data::Shared(s) => &s[..],
                        };
                        match self.apply(&t, bytes) {
                            Ok(()) => self.left.done += 1,
                            Err(e) => self.left.error(t.seq, e),
                        }
                    }
                    Work::Barrier(done) => {
                        let _ = done.send(());
                    }
                    Work::Piece(p) => self.write_piece(p),
                }
            }
            self.buffers.give(data);
            finished.count(self.id);
        }
        self.left
    }
}
