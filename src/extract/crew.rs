//! The workers: what each is made from, their threads and their queues.

use std::io;
use std::path::Path;
use std::sync::Arc;
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

/// The worker threads, their queues, and the batch being filled for each.
pub(super) struct Crew {
    txs: Vec<Sender<Batch>>,
    handles: Vec<JoinHandle<Leftovers>>,
    pub(super) batches: Vec<Batch>,
    slots: Sender<()>,
}

impl Crew {
    /// Start `n` workers.
    pub(super) fn start(kit: &WorkerKit, n: usize) -> Result<Crew> {
        let mut txs = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for id in 0..n {
            let (tx, rx) = bounded::<Batch>(QUEUE);
            let w = kit.worker(id)?;
            handles.push(
                std::thread::Builder::new()
                    .name(format!("alientar-x{id}"))
                    .spawn(move || w.run(rx))
                    .map_err(|e| Error::io_nopath("cannot start a worker thread", e))?,
            );
            txs.push(tx);
        }
        Ok(Crew {
            txs,
            handles,
            batches: (0..n).map(|_| Batch::default()).collect(),
            slots: kit.slots.0.clone(),
        })
    }

    pub(super) fn len(&self) -> usize {
        self.txs.len()
    }

    /// Send worker `w` its batch.
    pub(super) fn send(&mut self, w: usize) -> Result<()> {
        let b = std::mem::take(&mut self.batches[w]);
        self.txs[w].send(b).map_err(|_| worker_gone())
    }

    /// Send a big file's piece to worker `w`, once one of the
    /// [`PIECES_IN_FLIGHT`] slots is free. False when the worker is gone.
    pub(super) fn send_piece(&self, w: usize, piece: BigPiece) -> bool {
        self.slots.send(()).is_ok() && self.txs[w].send(Batch::of(Work::Piece(piece))).is_ok()
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
        for t in &self.txs {
            t.send(Batch::of(Work::Barrier(tx.clone())))
                .map_err(|_| worker_gone())?;
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
