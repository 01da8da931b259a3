//! Reading a seekable archive: the seek table and index at its end, and a
//! reader that decompresses the data frames in parallel ahead of use.
//!
//! Everything read from the file is checked against the file itself: the
//! frames' compressed sizes must add up to where the trailer starts, the
//! trailer must be the seek table alone or one index frame and the seek
//! table, and no count may exceed what the file can hold. Anything else
//! means "not seekable": the caller streams the archive instead.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::index::{self, INDEX_MAGIC, IndexReader, Indexed};
use super::seek::SeekTable;

/// The index of the archive at `path`, when it is a regular file with a
/// valid seek table and index (`None` otherwise: stream it instead).
pub fn index_of(path: &std::path::Path) -> Option<IndexReader> {
    if path == std::path::Path::new("-") {
        return None;
    }
    let f = File::open(path).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    Seekable::probe(f)?.index_reader()
}

/// Largest decompressed frame a seek table may announce (alientar writes at
/// most 4 MiB; the reader holds a few frames per thread in memory).
pub const MAX_FRAME_SIZE: u32 = 16 << 20;

/// Bytes of frames decompressed ahead of the reader at most (beyond two
/// frames): with alientar's 4 MiB frames, 16 frames.
pub const READ_AHEAD_BYTES: u64 = 64 << 20;

/// A zstd archive with a valid seek table.
#[derive(Debug)]
pub struct Seekable {
    file: Arc<File>,
    frames: Vec<FrameSpan>,
    /// Where the index frame's payload starts and how long it is, if
    /// there is one.
    index: Option<IndexSpan>,
}

/// Where a data frame lies in the file, and its sizes.
#[derive(Copy, Clone, Debug)]
struct FrameSpan {
    offset: u64,
    compressed: u32,
    decompressed: u32,
}

/// Where the index frame's payload lies in the file.
#[derive(Copy, Clone, Debug)]
struct IndexSpan {
    offset: u64,
    len: u64,
}

impl Seekable {
    /// Probe `file` for a valid seek table; `None` when it has none or it
    /// does not fit the file.
    pub fn probe(file: File) -> Option<Seekable> {
        let len = file.metadata().ok()?.len();
        if len < 17 {
            return None;
        }
        let mut foot = [0u8; 9];
        file.read_exact_at(&mut foot, len - 9).ok()?;
        let nframes = u32::from_le_bytes(foot[..4].try_into().ok()?);
        let desc = foot[4];
        let entry = if desc & 0x80 != 0 { 12u64 } else { 8 };
        let table_len = 8 + u64::from(nframes) * entry + 9;
        if table_len > len || u64::from(nframes) > len / 9 || nframes > super::seek::MAX_FRAMES {
            return None;
        }
        let mut tail = vec![0u8; table_len as usize];
        file.read_exact_at(&mut tail, len - table_len).ok()?;
        let (table, used) = SeekTable::decode_tail(&tail)?;
        if used as u64 != table_len {
            return None;
        }
        let mut frames = Vec::with_capacity(table.frames.len());
        let mut off = 0u64;
        for &(c, d) in &table.frames {
            // A frame's decompressed size sizes a buffer: larger frames than
            // MAX_FRAME_SIZE are read by streaming instead.
            if c == 0 || d > MAX_FRAME_SIZE {
                return None;
            }
            frames.push(FrameSpan {
                offset: off,
                compressed: c,
                decompressed: d,
            });
            off += u64::from(c);
        }
        let trailer = len - table_len;
        if off > trailer {
            return None;
        }
        let index = if off == trailer {
            None
        } else {
            let mut h = [0u8; 8];
            file.read_exact_at(&mut h, off).ok()?;
            let magic = u32::from_le_bytes(h[..4].try_into().ok()?);
            let size = u64::from(u32::from_le_bytes(h[4..].try_into().ok()?));
            if magic != INDEX_MAGIC || off + 8 + size != trailer {
                return None;
            }
            Some(IndexSpan {
                offset: off + 8,
                len: size,
            })
        };
        Some(Seekable {
            file: Arc::new(file),
            frames,
            index,
        })
    }

    /// The archive has an index frame (valid or not).
    pub fn has_index(&self) -> bool {
        self.index.is_some()
    }

    /// Number of data frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Total uncompressed size of the data frames.
    pub fn data_size(&self) -> u64 {
        self.frames.iter().map(|f| u64::from(f.decompressed)).sum()
    }

    /// The index, when the archive has a valid one.
    pub fn index(&self) -> Option<Vec<Indexed>> {
        self.index_reader().map(IndexReader::into_indexed)
    }

    /// A reader of the index, entry by entry, when the archive has a valid
    /// one (checked whole before it is returned).
    pub fn index_reader(&self) -> Option<IndexReader> {
        let span = self.index?;
        if span.len > index::MAX_INDEX {
            return None;
        }
        let mut payload = vec![0u8; span.len as usize];
        self.file.read_exact_at(&mut payload, span.offset).ok()?;
        let sizes: Vec<u32> = self.frames.iter().map(|f| f.decompressed).collect();
        IndexReader::new(&payload, &sizes).ok()
    }

    /// A reader of the uncompressed tar stream that decompresses up to
    /// `ahead` frames in parallel — fewer when the frames are large, so that
    /// at most about [`READ_AHEAD_BYTES`] are decompressed ahead.
    pub fn reader(&self, ahead: usize) -> ParallelFrames {
        let ahead = ahead.min(self.max_ahead()).max(1);
        ParallelFrames::new(self.file.clone(), self.frames.clone(), ahead)
    }

    /// How many frames fit in [`READ_AHEAD_BYTES`] (at least 2).
    fn max_ahead(&self) -> usize {
        let largest = self
            .frames
            .iter()
            .map(|f| u64::from(f.compressed.max(f.decompressed)))
            .max()
            .unwrap_or(1);
        (READ_AHEAD_BYTES / largest.max(1)).max(2) as usize
    }
}

type Done = (usize, io::Result<Vec<u8>>);

thread_local! {
    /// Per-thread input buffer and decompression context.
    static DECODER: std::cell::RefCell<(Vec<u8>, Option<zstd::bulk::Decompressor<'static>>)> =
        const { std::cell::RefCell::new((Vec::new(), None)) };
}

/// Decompresses frames on the rayon pool, hands them out in order.
pub struct ParallelFrames {
    file: Arc<File>,
    frames: Vec<FrameSpan>,
    ahead: usize,
    next_spawn: usize,
    next_use: usize,
    got: BTreeMap<usize, io::Result<Vec<u8>>>,
    cur: Arc<FrameBuf>,
    pos: usize,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    /// Frame buffers already read, for reuse (no page faults per frame).
    pool: super::BufferPool,
}

impl ParallelFrames {
    fn new(file: Arc<File>, frames: Vec<FrameSpan>, ahead: usize) -> Self {
        let (tx, rx) = unbounded();
        let pool = super::BufferPool::default();
        ParallelFrames {
            file,
            frames,
            ahead,
            next_spawn: 0,
            next_use: 0,
            got: BTreeMap::new(),
            cur: Arc::new(FrameBuf {
                buf: Vec::new(),
                pool: pool.clone(),
            }),
            pos: 0,
            tx,
            rx,
            pool,
        }
    }

    /// Start decompressing frames, up to `ahead` beyond the one in use.
    fn spawn_more(&mut self) {
        while self.next_spawn < self.frames.len() && self.next_spawn < self.next_use + self.ahead {
            let i = self.next_spawn;
            let span = self.frames[i];
            let file = self.file.clone();
            let tx = self.tx.clone();
            let pool = self.pool.clone();
            rayon::spawn(move || {
                let _ = tx.send((i, decode_frame(&file, i, span, &pool)));
            });
            self.next_spawn += 1;
        }
    }
}

/// Read and decompress frame `i`, into a buffer from `pool`.
fn decode_frame(
    file: &File,
    i: usize,
    span: FrameSpan,
    pool: &super::BufferPool,
) -> io::Result<Vec<u8>> {
    let (c, d) = (span.compressed as usize, span.decompressed as usize);
    let mut out = pool.take();
    super::clear_with_room(&mut out, d, super::FRAME_TARGET);
    DECODER.with(|dec| -> io::Result<()> {
        let mut dec = dec.borrow_mut();
        let (z, ctx) = &mut *dec;
        super::clear_with_room(z, c, super::FRAME_TARGET);
        while z.len() < c {
            let got = z.len();
            match crate::sys::pread_append(file, z, c - got, span.offset + got as u64) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if ctx.is_none() {
            *ctx = Some(zstd::bulk::Decompressor::new()?);
        }
        let ctx = ctx.as_mut().expect("set above");
        ctx.decompress_to_buffer(z.as_slice(), &mut out)
            .map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("zstd frame {i}: {e}"))
            })?;
        Ok(())
    })?;
    if out.len() != d {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "zstd frame {i} holds {} bytes, the seek table says {d}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

impl ParallelFrames {
    /// Make the next frame current when the current one is used up.
    /// False at the end of the data.
    fn fill(&mut self) -> io::Result<bool> {
        while self.pos == self.cur.buf.len() {
            if self.next_use == self.frames.len() {
                return Ok(false);
            }
            self.spawn_more();
            let want = self.next_use;
            let data = loop {
                if let Some(r) = self.got.remove(&want) {
                    break r;
                }
                let (i, r) = self
                    .rx
                    .recv()
                    .map_err(|_| io::Error::other("frame decoder stopped"))?;
                self.got.insert(i, r);
            };
            // The last frame goes back to the pool once every holder of
            // its bytes (see Shared) is done with it.
            self.cur = Arc::new(FrameBuf {
                buf: data?,
                pool: self.pool.clone(),
            });
            self.pos = 0;
            self.next_use += 1;
            self.spawn_more();
        }
        Ok(true)
    }

    /// Up to `n` bytes at the read position, without copying: fewer when
    /// the current frame ends first, none at the end of the data. They are
    /// consumed as by a read.
    ///
    /// # Errors
    /// A frame that does not decompress.
    pub fn borrow(&mut self, n: usize) -> io::Result<Shared> {
        if !self.fill()? {
            return Ok(Shared::default());
        }
        let len = n.min(self.cur.buf.len() - self.pos);
        let s = Shared {
            frame: Some(self.cur.clone()),
            start: self.pos,
            len,
        };
        self.pos += len;
        Ok(s)
    }
}

impl crate::tar::Lend for ParallelFrames {
    type Loan = Shared;

    fn lend(&mut self, n: usize) -> io::Result<Option<Shared>> {
        self.borrow(n).map(Some)
    }
}

impl Read for ParallelFrames {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.fill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.cur.buf.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A decompressed frame; its buffer goes back to the pool when the last
/// holder of its bytes is done.
pub struct FrameBuf {
    buf: Vec<u8>,
    pool: super::BufferPool,
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// Bytes of a decompressed frame, shared without copying (see
/// [`ParallelFrames::borrow`]). The frame stays in memory while any
/// `Shared` of it lives.
#[derive(Clone, Default)]
pub struct Shared {
    frame: Option<Arc<FrameBuf>>,
    start: usize,
    len: usize,
}

impl Shared {
    /// Do both lie in the same frame?
    pub fn same_frame(&self, other: &Shared) -> bool {
        match (&self.frame, &other.frame) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl std::ops::Deref for Shared {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.frame {
            Some(f) => &f.buf[self.start..self.start + self.len],
            None => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of two zstd frames, then `trailer`; returns it opened.
    fn file_with(trailer: impl Fn(&[(u32, u32)]) -> Vec<u8>) -> File {
        let a = zstd::bulk::compress(&[1u8; 1024], 3).unwrap();
        let b = zstd::bulk::compress(&[2u8; 512], 3).unwrap();
        let sizes = [(a.len() as u32, 1024), (b.len() as u32, 512)];
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&a).unwrap();
        f.write_all(&b).unwrap();
        f.write_all(&trailer(&sizes)).unwrap();
        f
    }

    fn table(frames: &[(u32, u32)]) -> Vec<u8> {
        let mut t = SeekTable::default();
        for &(c, d) in frames {
            t.push(c, d);
        }
        t.encode()
    }

    /// Borrowed bytes are the stream's bytes, stop where a frame ends, mix
    /// with reads, and keep their frame alive after the reader moved on.
    #[test]
    fn borrowed_bytes_match_the_stream() {
        let s = Seekable::probe(file_with(table)).expect("valid table");
        let mut r = s.reader(2);
        let mut head = [0u8; 24];
        r.read_exact(&mut head).unwrap();
        let a = r.borrow(4000).unwrap();
        assert_eq!(a.len(), 1000, "the first frame ends");
        assert!(a.iter().all(|&b| b == 1));
        let b = r.borrow(100).unwrap();
        assert_eq!(&b[..], &[2u8; 100][..]);
        assert!(!a.same_frame(&b));
        let c = r.borrow(100).unwrap();
        assert!(b.same_frame(&c));
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, vec![2u8; 312]);
        assert!(r.borrow(1).unwrap().is_empty(), "the end");
        drop(r);
        assert_eq!(a.len() + b.len() + c.len(), 1200);
        assert!(a.iter().all(|&x| x == 1) && c.iter().all(|&x| x == 2));
    }

    #[test]
    fn probe_trusts_only_consistent_tables() {
        let s = Seekable::probe(file_with(table)).expect("valid table");
        let mut out = Vec::new();
        s.reader(2).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 1536);
        assert!(out[..1024].iter().all(|&b| b == 1));
        // Compressed sizes past the table's start, or short of it.
        assert!(
            Seekable::probe(file_with(|f| table(&[(f[0].0, 1024), (f[1].0 + 1, 512)]))).is_none()
        );
        assert!(Seekable::probe(file_with(|f| table(&[(f[0].0, 1024)]))).is_none());
        // Regression: a decompressed size of 4 GiB sized a buffer per frame
        // in flight; over MAX_FRAME_SIZE the archive is streamed instead.
        assert!(Seekable::probe(file_with(|f| table(&[(f[0].0, u32::MAX), f[1]]))).is_none());
        // A count larger than the file.
        assert!(
            Seekable::probe(file_with(|f| {
                let mut t = table(f);
                let n = t.len();
                t[n - 9..n - 5].copy_from_slice(&u32::MAX.to_le_bytes());
                t
            }))
            .is_none()
        );
        // Read-ahead is bounded by bytes: 4 frames of 16 MiB, 16 of 4 MiB.
        let s = Seekable::probe(file_with(table)).unwrap();
        assert_eq!(s.max_ahead(), (READ_AHEAD_BYTES / 1024) as usize);
        let big = Seekable {
            frames: vec![
                FrameSpan {
                    offset: 0,
                    compressed: 100,
                    decompressed: MAX_FRAME_SIZE,
                };
                3
            ],
            ..s
        };
        assert_eq!(big.max_ahead(), 4);
        // Wrong decompressed size: the table is accepted, reading fails cleanly.
        let s = Seekable::probe(file_with(|f| table(&[(f[0].0, 1000), f[1]])))
            .expect("plausible table");
        let err = s.reader(2).read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("zstd frame 0"), "{err}");
        // An index frame in front of the table that does not fill the gap.
        assert!(
            Seekable::probe(file_with(|f| {
                let mut t = INDEX_MAGIC.to_le_bytes().to_vec();
                t.extend_from_slice(&100u32.to_le_bytes());
                t.extend_from_slice(&[0; 10]);
                t.extend_from_slice(&table(f));
                t
            }))
            .is_none()
        );
    }
}
