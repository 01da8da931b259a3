//! Archive output: plain tar, or independent zstd frames compressed in
//! parallel and written in order, followed by a zstd seekable-format seek
//! table.
//!
//! The encoder hands over tar bytes with [`TarSink::write`] and marks entry
//! boundaries with [`TarSink::boundary`]; frames are cut at boundaries once
//! they reach [`FRAME_TARGET`] bytes, and inside large members at
//! [`FRAME_TARGET`] multiples, so every frame holds whole 512-byte blocks.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

pub mod seek;

/// Uncompressed bytes per frame (a frame is cut at the first entry boundary
/// after this many bytes, or inside a member at this size).
pub const FRAME_TARGET: usize = 4 << 20;

/// Where tar bytes go.
pub trait TarSink {
    /// Append tar bytes (whole blocks over time; a call may hold any part).
    fn write(&mut self, data: &[u8]) -> io::Result<()>;
    /// The bytes written so far end an entry (a good place to cut a frame).
    fn boundary(&mut self) -> io::Result<()>;
    /// Flush everything and write trailers.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Plain tar output.
pub struct PlainSink<W: Write> {
    w: io::BufWriter<W>,
}

impl<W: Write> PlainSink<W> {
    /// Plain output to `w`.
    pub fn new(w: W) -> Self {
        PlainSink {
            w: io::BufWriter::with_capacity(1 << 20, w),
        }
    }
}

impl<W: Write> TarSink for PlainSink<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.w.write_all(data)
    }
    fn boundary(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.w.flush()
    }
}

type Done = (usize, io::Result<Vec<u8>>, u32);

/// zstd output: frames compressed on the rayon pool, written in order by one
/// writer thread; at most `in_flight` frames exist at a time.
pub struct ZstdSink {
    buf: Vec<u8>,
    seq: usize,
    level: i32,
    tokens: Receiver<()>,
    done_tx: Sender<Done>,
    writer: Option<JoinHandle<io::Result<()>>>,
    count_tx: Sender<usize>,
}

impl ZstdSink {
    /// zstd output to `w` at compression `level`.
    pub fn new(w: Box<dyn Write + Send>, level: i32) -> Self {
        let in_flight = rayon::current_num_threads() * 2 + 2;
        let (tok_tx, tok_rx) = bounded(in_flight);
        for _ in 0..in_flight {
            tok_tx.send(()).expect("fresh channel");
        }
        let (done_tx, done_rx) = unbounded::<Done>();
        let (count_tx, count_rx) = bounded::<usize>(1);
        let writer = std::thread::Builder::new()
            .name("alientar-writer".into())
            .spawn(move || write_in_order(w, done_rx, tok_tx, count_rx))
            .expect("spawn writer thread");
        ZstdSink {
            buf: Vec::with_capacity(FRAME_TARGET + 64 * 1024),
            seq: 0,
            level,
            tokens: tok_rx,
            done_tx,
            writer: Some(writer),
            count_tx,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // Wait for a slot; if the writer died, surface its error.
        if self.tokens.recv().is_err() {
            return Err(self.writer_error());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(FRAME_TARGET + 64 * 1024));
        let seq = self.seq;
        self.seq += 1;
        let level = self.level;
        let tx = self.done_tx.clone();
        rayon::spawn(move || {
            let raw_len = data.len() as u32;
            let r = compress_frame(&data, level);
            drop(data);
            let _ = tx.send((seq, r, raw_len));
        });
        Ok(())
    }

    fn writer_error(&mut self) -> io::Error {
        match self.writer.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::other("the archive writer stopped"),
        }
    }
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Compress one independent frame with a content checksum.
pub fn compress_frame(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().map(|(l, _)| *l) != Some(level) {
            let mut comp = zstd::bulk::Compressor::new(level)?;
            comp.set_parameter(zstd::stream::raw::CParameter::ChecksumFlag(true))?;
            *c = Some((level, comp));
        }
        let comp = &mut c.as_mut().expect("set above").1;
        comp.compress(data)
    })
}

fn write_in_order(
    mut w: Box<dyn Write + Send>,
    done: Receiver<Done>,
    tokens: Sender<()>,
    count: Receiver<usize>,
) -> io::Result<()> {
    let mut pending: BTreeMap<usize, (Vec<u8>, u32)> = BTreeMap::new();
    let mut next = 0usize;
    let mut total: Option<usize> = None;
    let mut table = seek::SeekTable::default();
    loop {
        if total == Some(next) {
            break;
        }
        crossbeam_channel::select! {
            recv(done) -> msg => {
                let Ok((seq, r, raw_len)) = msg else { break };
                pending.insert(seq, (r?, raw_len));
                while let Some((frame, raw_len)) = pending.remove(&next) {
                    w.write_all(&frame)?;
                    table.push(frame.len() as u32, raw_len);
                    next += 1;
                    let _ = tokens.send(());
                }
            }
            recv(count) -> msg => {
                match msg {
                    Ok(n) => total = Some(n),
                    Err(_) => if total.is_none() { return Err(io::Error::other("archive creation was abandoned")) },
                }
            }
        }
    }
    w.write_all(&table.encode())?;
    w.flush()
}

impl TarSink for ZstdSink {
    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let room = FRAME_TARGET.saturating_sub(self.buf.len());
            if room == 0 {
                self.submit()?;
                continue;
            }
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    fn boundary(&mut self) -> io::Result<()> {
        if self.buf.len() >= FRAME_TARGET / 2 {
            self.submit()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.submit()?;
        let _ = self.count_tx.send(self.seq);
        match self.writer.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the archive writer panicked")),
            None => Err(io::Error::other("the archive writer stopped")),
        }
    }
}
