//! The workers: what each is made from, their threads and their queues.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::error::{Error, Result};
use crate::frame::BufferPool;
use crate::sink::Sink;
use crate::sys::{self, Dir};

use super::batch::{Batch, Work};
use super::big::BigPiece;
use super::leftovers::Leftovers;
use super::staging::Staging;
use super::worker::{Swept, Worker};
use super::{ExtractOptions, OldFiles};

/// Batches queued per worker: deep enough that, while one worker creates a
/// directory's files, the reader hands the next directories to the others.
const QUEUE: usize = 16;

/// Big files' pieces queued at a time, over all workers: they keep the
/// large-file extraction's memory at a few frames and pieces.
const PIECES_IN_FLIGHT: usize = 4;

/// Number of extraction workers: syscalls block on I/O, so more than the
/// cores, within reason.
pub(super) fn worker_count() -> usize {
    if let Some(n) = std::env::var("ALIENTAR_EXTRACT_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    (cores() * 2).clamp(2, 16)
}

pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The error when a worker's queue is closed (the worker ended early).
pub(super) fn worker_gone() -> Error {
    Error::io_nopath("extraction worker stopped", io::Error::other("worker gone"))
}

/// What every worker is made from. Each has its own handle on the
/// destination; the sink, the staging, the swept directories and the data
/// buffers are shared.
pub(super) struct WorkerKit<'a> {
    /// The destination, opened before any user namespace was entered.
    root: Dir,
    /// Its name, for messages.
    dest: &'a Path,
    /// The umask, to know when a file's creation mode is already its final mode.
    umask: u32,
    creds: (u32, u32),
    pub(super) sink: Arc<dyn Sink>,
    pub(super) staging: Staging,
    swept: Swept,
    pub(super) buffers: BufferPool,
    /// Big files' pieces queued at any time: the reader sends a message
    /// before each, the worker that writes it takes one.
    slots: (Sender<()>, Receiver<()>),
    overwrite: bool,
}

impl<'a> WorkerKit<'a> {
    pub(super) fn new(opts: &'a ExtractOptions, root: Dir, sink: Arc<dyn Sink>) -> WorkerKit<'a> {
        WorkerKit {
            root,
            dest: &opts.dest,
            umask: sys::umask(),
            creds: sys::creds::effective_ids(),
            sink,
            staging: Staging::new(),
            swept: Swept::default(),
            buffers: BufferPool::default(),
            slots: bounded(PIECES_IN_FLIGHT),
            overwrite: opts.old_files == OldFiles::Overwrite,
        }
    }

    /// A worker with its own handle on the destination.
    pub(super) fn worker(&self, id: usize) -> Result<Worker> {
        Ok(Worker {
            id,
            pid: std::process::id(),
            umask: self.umask,
            creds: self.creds,
            root: self
                .root
                .reopen()
                .map_err(|e| Error::io("cannot open the destination directory", self.dest, e))?,
            sink: self.sink.clone(),
            cache: None,
            staging: self.staging.clone(),
            swept: self.swept.clone(),
            buffers: self.buffers.clone(),
            slots: self.slots.1.clone(),
            tmp_counter: 0,
            seq: 0,
            overwrite: self.overwrite,
            left: Leftovers::default(),
        })
    }
}

/// Where an entry handed out travels: its worker, and the number (from
/// 1) of the batch that holds it among those sent to that worker.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Ticket {
    worker: usize,
    batch: u64,
}

impl Ticket {
    #[cfg(test)]
    pub(super) fn new(worker: usize, batch: u64) -> Ticket {
        Ticket { worker, batch }
    }

    /// A ticket that is done already: for an entry no worker got.
    pub(super) const DONE: Ticket = Ticket {
        worker: 0,
        batch: 0,
    };
}

/// How many batches each worker has finished: the workers count, the
/// reading thread asks whether a [`Ticket`] is done (so it need not
/// remember what the workers have applied).
#[derive(Clone)]
pub(super) struct Finished(Arc<[AtomicU64]>);

impl Finished {
    pub(super) fn new(workers: usize) -> Finished {
        Finished((0..workers).map(|_| AtomicU64::new(0)).collect())
    }

    /// Worker `w` has applied one more batch.
    pub(super) fn count(&self, w: usize) {
        self.0[w].fetch_add(1, Ordering::Release);
    }

    /// Has the batch of ticket `t` been applied?
    pub(super) fn is_done(&self, t: Ticket) -> bool {
        t.batch == 0 || self.0[t.worker].load(Ordering::Acquire) >= t.batch
    }
}

/// The worker threads, their queues, and the batch being filled for each.
pub(super) struct Crew {
    txs: Vec<Sender<Batch>>,
    handles: Vec<JoinHandle<Leftovers>>,
    pub(super) batches: Vec<Batch>,
    slots: Sender<()>,
    /// Batches sent to each worker.
    sent: Vec<u64>,
    pub(super) finished: Finished,
}

impl Crew {
    /// Start `n` workers.
    pub(super) fn start(kit: &WorkerKit, n: usize) -> Result<Crew> {
        let mut txs = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        let finished = Finished::new(n);
        for id in 0..n {
            let (tx, rx) = bounded::<Batch>(QUEUE);
            let w = kit.worker(id)?;
            let fin = finished.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("alientar-x{id}"))
                    .spawn(move || w.run(rx, &fin))
                    .map_err(|e| Error::io_nopath("cannot start a worker thread", e))?,
            );
            txs.push(tx);
        }
        Ok(Crew {
            txs,
            handles,
            batches: (0..n).map(|_| Batch::default()).collect(),
            slots: kit.slots.0.clone(),
            sent: vec![0; n],
            finished,
        })
    }

    /// The ticket of an entry just put in worker `w`'s batch: it travels
    /// with the next batch sent to `w` (nothing else is sent to a worker
    /// while its batch holds entries: see [`Crew::send_piece`]).
    pub(super) fn ticket(&self, w: usize) -> Ticket {
        Ticket {
            worker: w,
            batch: self.sent[w] + 1,
        }
    }

    /// The ticket of the last batch sent to worker `w`.
    pub(super) fn last_sent(&self, w: usize) -> Ticket {
        Ticket {
            worker: w,
            batch: self.sent[w],
        }
    }

    fn send_batch(&mut self, w: usize, b: Batch) -> Result<()> {
        self.txs[w].send(b).map_err(|_| worker_gone())?;
        self.sent[w] += 1;
        Ok(())
    }

    pub(super) fn len(&self) -> usize {
        self.txs.len()
    }

    /// Send worker `w` its batch.
    pub(super) fn send(&mut self, w: usize) -> Result<()> {
        let b = std::mem::take(&mut self.batches[w]);
        self.send_batch(w, b)
    }

    /// Send a big file's piece to worker `w`, once one of the
    /// [`PIECES_IN_FLIGHT`] slots is free; the batch being filled for `w`
    /// goes first, so batches travel in the order their tickets say.
    /// False when the worker is gone.
    pub(super) fn send_piece(&mut self, w: usize, piece: BigPiece) -> bool {
        if !self.batches[w].jobs.is_empty() && self.send(w).is_err() {
            return false;
        }
        self.slots.send(()).is_ok() && self.send_batch(w, Batch::of(Work::Piece(piece))).is_ok()
    }

    /// Hand out every pending batch, then wait until all workers have done
    /// all they were given.
    pub(super) fn sync(&mut self) -> Result<()> {
        for w in 0..self.len() {
            if !self.batches[w].jobs.is_empty() {
                self.send(w)?;
            }
        }
        let (tx, rx) = bounded(self.len());
        for w in 0..self.len() {
            self.send_batch(w, Batch::of(Work::Barrier(tx.clone())))?;
        }
        if (0..self.len()).all(|_| rx.recv().is_ok()) {
            Ok(())
        } else {
            Err(worker_gone())
        }
    }

    /// Hand out the last batches and wait for the workers to end: what they
    /// left, and whether one panicked.
    pub(super) fn finish(self) -> (Leftovers, bool) {
        for (tx, b) in self.txs.iter().zip(self.batches) {
            if !b.jobs.is_empty() {
                let _ = tx.send(b);
            }
        }
        drop(self.txs);
        let mut left = Leftovers::default();
        let mut panicked = false;
        for h in self.handles {
            match h.join() {
                Ok(l) => left.absorb(l),
                Err(_) => panicked = true,
            }
        }
        (left, panicked)
    }
}
