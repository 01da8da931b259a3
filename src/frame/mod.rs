//! Archive output and seekable input: independent zstd frames built and
//! compressed in parallel, written in order by one writer thread, followed by
//! the entry [`index`] and the zstd seekable-format [`seek`] table; and
//! [`read`], which reads them back.
//!
//! [`FramePipeline`] runs [`FrameJob`]s — closures that produce one frame's
//! uncompressed bytes (reading files) — on the rayon pool,
//! compresses their output there, and hands frames to the writer in order.
//! At most `in_flight` frames are built or compressed at a time, so memory
//! is bounded by `in_flight × 2 × FRAME_TARGET` whatever the archive's
//! size; frames compressed behind a reserved one (create's global header)
//! are [`park`]ed, a few MiB of them in memory and the rest in a scratch
//! file.
//!
//! [`layout::FrameLayout`] decides where frames are cut, for every writer.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use crate::sys;

pub mod chain;
pub mod index;
pub mod layout;
mod park;
pub mod read;
pub mod seek;

/// Uncompressed bytes per frame at most (a multiple of 512).
pub const FRAME_TARGET: usize = 4 << 20;
// Every frame fits the compressors' window.
const _: () = assert!(1 << sys::zstd::WINDOW_LOG >= FRAME_TARGET);
/// A frame is closed at the first entry boundary after this many bytes
/// (small frames compress worse: each starts with an empty window).
pub const FRAME_CUT: usize = FRAME_TARGET - (FRAME_TARGET >> 3);

/// A closure producing one frame's uncompressed bytes.
pub type FrameJob = Box<dyn FnOnce() -> io::Result<Vec<u8>> + Send>;

/// One frame's uncompressed bytes, or what builds them.
pub enum RawFrame {
    /// The bytes, ready.
    Ready(Vec<u8>),
    /// A job that builds them (reading files) on the pool.
    Build(FrameJob),
}

impl RawFrame {
    pub(crate) fn build(self) -> io::Result<Vec<u8>> {
        match self {
            RawFrame::Ready(raw) => Ok(raw),
            RawFrame::Build(job) => job(),
        }
    }
}

/// A frame's length as the seek table records it.
fn frame_len(raw: &[u8]) -> io::Result<u32> {
    u32::try_from(raw.len()).map_err(|_| io::Error::other("frame over 4 GiB"))
}

/// Sees the uncompressed tar stream as it is written, frame by frame in
/// order (for a digest of it), on the writer thread.
pub type Tap = Box<dyn FnMut(&[u8]) + Send>;

/// A frame ready to write: its bytes, its uncompressed length, and for a
/// [`Tap`] its uncompressed bytes when those are not the bytes written.
struct Ready {
    frame: Vec<u8>,
    raw_len: u32,
    raw: Option<Vec<u8>>,
}

/// What the writer is told of a frame.
enum Done {
    /// The frame, built and compressed.
    Frame(io::Result<Ready>),
    /// The frame is reserved (see [`FramePipeline::reserve`]): the frames
    /// after it are parked until it comes ([`park`]).
    Reserved,
}

/// Byte buffers handed back by the thread done with them, for another to
/// fill again: their pages stay mapped (a fresh multi-MiB buffer costs a
/// page fault per 4 KiB and, freed by another thread, a contended free).
#[derive(Clone, Default)]
pub(crate) struct BufferPool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    /// At most this many buffers are kept (about as many as are in flight
    /// anywhere alientar uses a pool).
    const MAX_KEPT: usize = 64;

    /// An empty buffer: one given back, else a new one.
    pub(crate) fn take(&self) -> Vec<u8> {
        let mut v = self.take_as_given();
        v.clear();
        v
    }

    /// A buffer as it was given back, length and bytes kept (no zero-fill
    /// needed to use it again as a slice), else a new empty one.
    pub(crate) fn take_as_given(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default()
    }

    /// Keep `v` for a later [`BufferPool::take`].
    pub(crate) fn give(&self, v: Vec<u8>) {
        if v.capacity() == 0 {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() < Self::MAX_KEPT {
            kept.push(v);
        }
    }
}

/// Parallel frame builder and ordered writer.
pub struct FramePipeline {
    seq: usize,
    level: Option<i32>,
    tokens: Receiver<()>,
    done_tx: Sender<(usize, Done)>,
    end_tx: Sender<(usize, Option<Vec<u8>>)>,
    writer: Option<JoinHandle<io::Result<()>>>,
    returns: Returns,
    /// Compressed frames keep their uncompressed bytes for the writer's tap.
    tapped: bool,
}

/// Where buffers go once used, to be filled again.
#[derive(Clone, Default)]
struct Returns {
    /// Compressed frames the writer is done with.
    compressed: BufferPool,
    /// Uncompressed frames once compressed or written, for the producer
    /// that takes its buffers from here; `None`: kept by the compressing
    /// thread for the next frame it builds ([`input_buffer`]), or freed.
    uncompressed: Option<BufferPool>,
}

impl FramePipeline {
    /// Frames to `w`, zstd-compressed at `level` (with a seek table at the
    /// end), or written as they are when `level` is `None`. Each frame's
    /// uncompressed buffer, once compressed or written, goes to
    /// `uncompressed` if given; `tap`, if given, sees each frame's
    /// uncompressed bytes as the frame is written. Frames parked behind a
    /// reserved one go to a scratch file in `scratch`, if given, when they
    /// do not fit in memory.
    pub(crate) fn returning(
        w: Box<dyn Write + Send>,
        level: Option<i32>,
        uncompressed: Option<BufferPool>,
        tap: Option<Tap>,
        scratch: Option<sys::Dir>,
    ) -> Self {
        let in_flight = (rayon::current_num_threads() * 2 + 2).min(16);
        let (tok_tx, tok_rx) = bounded(in_flight);
        for _ in 0..in_flight {
            tok_tx.send(()).expect("fresh channel");
        }
        let (done_tx, done_rx) = unbounded::<(usize, Done)>();
        let (end_tx, end_rx) = bounded(1);
        let seekable = level.is_some();
        let returns = Returns {
            compressed: BufferPool::default(),
            uncompressed,
        };
        let wreturns = returns.clone();
        let tapped = tap.is_some();
        let ends = Ends {
            end: end_rx,
            seekable,
            tap,
            scratch,
        };
        let writer = std::thread::Builder::new()
            .name("alientar-writer".into())
            .spawn(move || write_in_order(w, done_rx, tok_tx, wreturns, ends))
            .expect("spawn writer thread");
        FramePipeline {
            seq: 0,
            level,
            tokens: tok_rx,
            done_tx,
            end_tx,
            writer: Some(writer),
            returns,
            tapped,
        }
    }

    /// Build `frame` on the pool (and compress it); it is written after all
    /// earlier ones.
    /// Blocks while `in_flight` frames are pending.
    ///
    /// # Errors
    /// The writer failed (the write error is returned).
    pub fn submit(&mut self, frame: RawFrame) -> io::Result<()> {
        if self.tokens.recv().is_err() {
            return Err(self.writer_error());
        }
        let seq = self.seq;
        self.seq += 1;
        self.spawn(seq, frame);
        Ok(())
    }

    /// Keep the next frame's place for a job given later with
    /// [`FramePipeline::submit_reserved`]; later frames are compressed
    /// meanwhile, parked, and written once it is. One frame at a time may
    /// be reserved.
    pub fn reserve(&mut self) -> usize {
        self.seq += 1;
        let _ = self.done_tx.send((self.seq - 1, Done::Reserved));
        self.seq - 1
    }

    /// The frame reserved with [`FramePipeline::reserve`] (it takes no
    /// in-flight place).
    pub fn submit_reserved(&mut self, seq: usize, frame: RawFrame) {
        self.spawn(seq, frame);
    }

    fn spawn(&self, seq: usize, frame: RawFrame) {
        let level = self.level;
        let tx = self.done_tx.clone();
        let as_is = |raw: Vec<u8>| {
            frame_len(&raw).map(|raw_len| Ready {
                frame: raw,
                raw_len,
                raw: None,
            })
        };
        let frame = match (frame, level) {
            (RawFrame::Ready(raw), None) => {
                // Nothing to build or compress: straight to the writer.
                let _ = tx.send((seq, Done::Frame(as_is(raw))));
                return;
            }
            (frame, _) => frame,
        };
        let (returns, tapped) = (self.returns.clone(), self.tapped);
        rayon::spawn(move || {
            let r = frame.build().and_then(|raw| {
                let Some(l) = level else { return as_is(raw) };
                let raw_len = frame_len(&raw)?;
                let mut frame = returns.compressed.take();
                compress_frame_into(&raw, l, &mut frame)?;
                let raw = match &returns.uncompressed {
                    _ if tapped => Some(raw),
                    Some(pool) => {
                        pool.give(raw);
                        None
                    }
                    None => {
                        recycle_input(raw);
                        None
                    }
                };
                Ok(Ready {
                    frame,
                    raw_len,
                    raw,
                })
            });
            let _ = tx.send((seq, Done::Frame(r)));
        });
    }

    fn writer_error(&mut self) -> io::Error {
        match self.writer.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::other("the archive writer stopped"),
        }
    }

    /// Wait for every frame, then write `index` (if any) and the seek table.
    ///
    /// # Errors
    /// A job's error (a read error it could not recover from) or a write error.
    pub fn finish(mut self, index: Option<Vec<u8>>) -> io::Result<()> {
        let _ = self.end_tx.send((self.seq, index));
        match self.writer.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the archive writer panicked")),
            None => Err(io::Error::other("the archive writer stopped")),
        }
    }
}

thread_local! {
    /// A compressed frame's uncompressed buffer, for the next frame this
    /// thread builds: its pages are already mapped (a fresh 4 MiB buffer
    /// costs a thousand page faults).
    static SPARE_INPUT: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Empty `v` with room for `need` bytes. One too small is replaced by a
/// new buffer of `need.max(full)` bytes, not grown: growing copies the old
/// allocation whole (stale bytes) into fresh pages, and at the full size
/// the new one serves every later frame.
pub(crate) fn clear_with_room(v: &mut Vec<u8>, need: usize, full: usize) {
    v.clear();
    if v.capacity() < need {
        *v = Vec::with_capacity(need.max(full));
    }
}

/// An empty buffer with room for `len` bytes, to build a frame's
/// uncompressed bytes in: the last one this thread compressed, if any.
pub fn input_buffer(len: usize) -> Vec<u8> {
    let mut b = SPARE_INPUT.take();
    // Always the full size, so that every buffer can serve every frame.
    clear_with_room(&mut b, len, FRAME_TARGET);
    b
}

fn recycle_input(b: Vec<u8>) {
    if b.capacity() == FRAME_TARGET {
        SPARE_INPUT.set(b);
    }
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<(i32, sys::zstd::FrameCompressor)>> =
        const { std::cell::RefCell::new(None) };
}

/// Compress one independent frame with a content checksum into `out`
/// (cleared first; its capacity reused).
/// Each thread keeps one context (see [`sys::zstd`] for its settings).
///
/// # Errors
/// A zstd failure.
pub fn compress_frame_into(data: &[u8], level: i32, out: &mut Vec<u8>) -> io::Result<()> {
    clear_with_room(
        out,
        zstd::zstd_safe::compress_bound(data.len()),
        zstd::zstd_safe::compress_bound(FRAME_TARGET),
    );
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().map(|(l, _)| *l) != Some(level) {
            *c = Some((level, sys::zstd::FrameCompressor::new(level)?));
        }
        c.as_mut().expect("set above").1.compress(data, out)
    })
}

/// The most bytes handed to one `write(2)`: the kernel copies a 4 MiB
/// buffer into the page cache several times slower than four of 1 MiB.
const WRITE_CHUNK: usize = 1 << 20;

/// Write `b` in pieces of at most [`WRITE_CHUNK`] bytes.
///
/// # Errors
/// A write error.
pub(crate) fn write_chunked(w: &mut dyn Write, b: &[u8]) -> io::Result<()> {
    b.chunks(WRITE_CHUNK).try_for_each(|c| w.write_all(c))
}

/// How the writer thread ends: told the count of frames and the index on
/// `end`, it writes them (and the seek table when `seekable`); `tap` sees
/// the uncompressed frames; frames parked go to a file in `scratch`.
struct Ends {
    end: Receiver<(usize, Option<Vec<u8>>)>,
    seekable: bool,
    tap: Option<Tap>,
    scratch: Option<sys::Dir>,
}

/// The writer thread's side: frames written in order, recorded in the seek
/// table, shown to the tap, their buffers given back.
struct Writer {
    w: Box<dyn Write + Send>,
    table: seek::SeekTable,
    tap: Option<Tap>,
    returns: Returns,
    seekable: bool,
}

impl Writer {
    /// Write the next frame.
    fn put(&mut self, r: Ready) -> io::Result<()> {
        let Ready {
            frame,
            raw_len,
            raw,
        } = r;
        write_chunked(&mut self.w, &frame)?;
        self.table.push(frame.len() as u32, raw_len);
        if let Some(t) = self.tap.as_mut() {
            t(raw.as_deref().unwrap_or(&frame));
        }
        self.recycle(frame, raw);
        Ok(())
    }

    /// Give a frame's buffers back to be filled again.
    fn recycle(&self, frame: Vec<u8>, raw: Option<Vec<u8>>) {
        let returns = &self.returns;
        if let (Some(raw), Some(pool)) = (raw, &returns.uncompressed) {
            pool.give(raw);
        }
        match &returns.uncompressed {
            _ if self.seekable => returns.compressed.give(frame),
            Some(pool) => pool.give(frame),
            None => {}
        }
    }

    /// Write the frames of `pending` that are next, from `next`, and park
    /// those behind a reserved frame still to come; each frame written or
    /// parked gives its place back to `tokens` (a reserved frame took
    /// none). Returns the next frame to write.
    fn advance(
        &mut self,
        pending: &mut BTreeMap<usize, Ready>,
        mut next: usize,
        park: &mut Option<park::Parked>,
        tokens: &Sender<()>,
    ) -> io::Result<usize> {
        loop {
            if let Some(r) = pending.remove(&next) {
                self.put(r)?;
                next += 1;
                match park.take_if(|p| p.reserved + 1 == next) {
                    Some(p) => next = p.unpark(self)?,
                    None => {
                        let _ = tokens.try_send(());
                    }
                }
                continue;
            }
            if let Some(p) = park.as_mut()
                && p.reserved == next
            {
                while let Some(r) = pending.remove(&p.next) {
                    p.park(r, self)?;
                    let _ = tokens.try_send(());
                }
            }
            return Ok(next);
        }
    }
}

fn write_in_order(
    w: Box<dyn Write + Send>,
    done: Receiver<(usize, Done)>,
    tokens: Sender<()>,
    returns: Returns,
    ends: Ends,
) -> io::Result<()> {
    let Ends {
        end,
        seekable,
        tap,
        mut scratch,
    } = ends;
    let mut out = Writer {
        w,
        table: seek::SeekTable::default(),
        tap,
        returns,
        seekable,
    };
    let mut pending: BTreeMap<usize, Ready> = BTreeMap::new();
    let mut park = None;
    let mut next = 0usize;
    let mut total: Option<(usize, Option<Vec<u8>>)> = None;
    loop {
        if let Some((n, _)) = &total
            && *n == next
        {
            break;
        }
        crossbeam_channel::select! {
            recv(done) -> msg => {
                let Ok((seq, msg)) = msg else { break };
                match msg {
                    Done::Frame(r) => {
                        pending.insert(seq, r?);
                    }
                    Done::Reserved => park = Some(park::Parked::after(seq, scratch.take())),
                }
                next = out.advance(&mut pending, next, &mut park, &tokens)?;
            }
            recv(end) -> msg => match msg {
                Ok(t) => total = Some(t),
                Err(_) => {
                    if total.is_none() {
                        return Err(io::Error::other("archive creation was abandoned"));
                    }
                }
            }
        }
    }
    let Writer { mut w, table, .. } = out;
    if seekable {
        if let Some((_, Some(index))) = &total {
            w.write_all(index)?;
        }
        w.write_all(&table.encode())?;
    }
    w.flush()
}
