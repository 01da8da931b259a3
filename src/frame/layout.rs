//! Where frames are cut, for every archive writer (`create`, `remap`).
//!
//! A frame holds at most [`FRAME_TARGET`] bytes: the bytes given are cut
//! there wherever they fall, and a frame is closed at an entry boundary once
//! it holds the cut size of [`Cuts`]. Frame sizes are multiples of 512, so
//! every frame holds whole tar blocks. Where frames are cut depends on the
//! bytes alone, never on timing: the same tree makes the same archive.
//!
//! What a frame is made of (bytes copied in, or spans of files read when the
//! frame is built) belongs to the [`FrameContent`].

use std::io::{self, Write};

use super::index::IndexBuilder;
use super::{BufferPool, FRAME_CUT, FRAME_TARGET, FramePipeline, RawFrame, Tap, clear_with_room};
use crate::entry::Entry;

/// What one frame is made of while it is laid out.
pub trait FrameContent {
    /// Append `b` (it fits in the frame).
    fn bytes(&mut self, b: &[u8]);
    /// The frame laid out so far, `len` bytes (or a job that builds
    /// them); the content is left empty for the next frame.
    fn take(&mut self, len: usize) -> RawFrame;
    /// A frame's buffer, written, to fill again.
    fn reuse(&mut self, _written: Vec<u8>) {}
}

/// A frame made of the bytes given, copied in as they come (see
/// [`FrameLayout::copying`]).
pub struct CopiedBytes {
    buf: Vec<u8>,
    /// Frames given back once compressed or written: their pages stay
    /// mapped for the next.
    used: BufferPool,
}

impl FrameContent for CopiedBytes {
    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn take(&mut self, _len: usize) -> RawFrame {
        let mut next = self.used.take();
        clear_with_room(&mut next, FRAME_TARGET, FRAME_TARGET);
        RawFrame::Ready(std::mem::replace(&mut self.buf, next))
    }

    fn reuse(&mut self, written: Vec<u8>) {
        self.used.give(written);
    }
}

/// Uncompressed bytes at the start cut into small frames by
/// [`Cuts::SMALL_ENDS`].
const EARLY_BYTES: u64 = 2 << 20;
/// About this many bytes at the end cut into small frames by
/// [`Cuts::SMALL_ENDS`]: 16 frames, one for each of 16 cores. A constant,
/// not a count of this machine's cores, so that the same tree makes the
/// same archive anywhere.
const TAIL_BYTES: u64 = 8 << 20;
/// The size at which a small frame is closed at an entry boundary.
const SMALL_CUT: usize = 512 << 10;

/// The frame sizes at which a frame is closed at an entry boundary.
#[derive(Clone, Copy, Debug)]
pub struct Cuts {
    /// Frames that start before this many bytes are small.
    early: u64,
    /// The entries among the last this many bytes go in small frames (the
    /// writer tells which they are: see [`FrameLayout::end_entry`]).
    tail: u64,
    /// The cut of a small frame.
    small: usize,
}

impl Cuts {
    /// Every frame closed at [`FRAME_CUT`].
    pub const EVEN: Cuts = Cuts {
        early: 0,
        tail: 0,
        small: FRAME_CUT,
    };

    /// Small frames at the start, so that every core compresses while the
    /// walk is near its start, and at the end, so that the cores finish
    /// together; [`FRAME_CUT`] between.
    pub const SMALL_ENDS: Cuts = Cuts {
        early: EARLY_BYTES,
        tail: TAIL_BYTES,
        small: SMALL_CUT,
    };

    /// The entries among the last this many bytes of the stream go in
    /// small frames.
    pub fn tail_bytes(&self) -> u64 {
        self.tail
    }
}

/// The archive's first bytes (the global header), made once everything it
/// names is known.
pub struct DeferredHeader<'a> {
    /// Can [`DeferredHeader::make`] run now without waiting?
    pub ready: Box<dyn Fn() -> bool + 'a>,
    /// Makes the bytes (waiting, if not ready, until it can).
    pub make: Box<dyn FnOnce() -> io::Result<Vec<u8>> + 'a>,
}

impl FrameLayout<'_, CopiedBytes> {
    /// As [`FrameLayout::new`], frames made of the bytes given. Frames to
    /// compress are compressed in parallel; others are written at once by
    /// this thread (whose cache holds them).
    pub fn copying(w: Box<dyn Write + Send>, level: Option<i32>, cuts: Cuts) -> Self {
        let used = BufferPool::default();
        let out = match level {
            Some(_) => {
                let p = FramePipeline::returning(w, level, Some(used.clone()), None, None);
                Frames::Pipeline(p)
            }
            None => Frames::Direct(w),
        };
        let content = CopiedBytes {
            buf: Vec::with_capacity(FRAME_TARGET),
            used,
        };
        Self::on(out, level, content, cuts)
    }
}

/// Lays a tar stream out in frames and hands each, as it is closed, to be
/// built, compressed and written in order; records each entry's place in
/// the index.
pub struct FrameLayout<'a, C: FrameContent> {
    out: Frames,
    content: C,
    /// Bytes in the frame being laid out.
    len: usize,
    /// Bytes in frames already submitted.
    done: u64,
    cuts: Cuts,
    /// Only for a seekable (zstd) archive: no other output stores one.
    index: Option<IndexBuilder>,
    /// The first frame's place, kept for the global header, and what makes
    /// it (see [`FrameLayout::defer_header`]).
    header: Option<(usize, DeferredHeader<'a>)>,
    /// Bytes of a deferred header (the positions laid out do not count them).
    header_len: u64,
}

impl<'a, C: FrameContent> FrameLayout<'a, C> {
    /// Frames of `content` to `w`, zstd-compressed at `level` with an index
    /// and a seek table, or written as they are when `level` is `None`;
    /// `tap` sees the uncompressed stream as it is written. Frames made
    /// while a deferred header waits go to a scratch file in `scratch` when
    /// they do not fit in memory (see [`FrameLayout::defer_header`]).
    pub fn new(
        w: Box<dyn Write + Send>,
        level: Option<i32>,
        content: C,
        cuts: Cuts,
        (tap, scratch): (Option<Tap>, Option<crate::sys::Dir>),
    ) -> Self {
        Self::on(
            Frames::Pipeline(FramePipeline::returning(w, level, None, tap, scratch)),
            level,
            content,
            cuts,
        )
    }

    fn on(out: Frames, level: Option<i32>, content: C, cuts: Cuts) -> Self {
        FrameLayout {
            out,
            content,
            len: 0,
            done: 0,
            cuts,
            index: level.map(|_| IndexBuilder::default()),
            header: None,
            header_len: 0,
        }
    }

    /// The index being built, for a seekable (zstd) archive.
    pub fn index_mut(&mut self) -> Option<&mut IndexBuilder> {
        self.index.as_mut()
    }

    /// The frame being laid out is still within the first small frames.
    pub fn early(&self) -> bool {
        self.done < self.cuts.early
    }

    /// The cuts this layout makes.
    pub fn cuts(&self) -> Cuts {
        self.cuts
    }

    /// Uncompressed bytes laid out so far (a deferred header left out).
    pub fn position(&self) -> u64 {
        self.done + self.len as u64
    }

    /// `e`'s header starts with the next byte laid out.
    ///
    /// # Errors
    /// A write error.
    pub fn begin_entry(&mut self, e: &Entry) -> io::Result<()> {
        self.make_room()?;
        let at = self.position();
        if let Some(index) = &mut self.index {
            index.push(e, at);
        }
        Ok(())
    }

    /// Append `b`, cut where frames fill up.
    ///
    /// # Errors
    /// A write error.
    pub fn bytes(&mut self, mut b: &[u8]) -> io::Result<()> {
        while !b.is_empty() {
            self.make_room()?;
            let n = (FRAME_TARGET - self.len).min(b.len());
            self.content.bytes(&b[..n]);
            self.len += n;
            b = &b[n..];
        }
        Ok(())
    }

    /// Lay out `size` bytes that `content` adds itself, one span per frame
    /// they fall in: `span(content, offset, len)`.
    ///
    /// # Errors
    /// A write error.
    pub fn spans(&mut self, size: u64, mut span: impl FnMut(&mut C, u64, u64)) -> io::Result<()> {
        let mut offset = 0u64;
        while offset < size {
            self.make_room()?;
            let len = ((FRAME_TARGET - self.len) as u64).min(size - offset);
            span(&mut self.content, offset, len);
            self.len += len as usize;
            offset += len;
        }
        Ok(())
    }

    /// An entry ends here: close the frame if it holds the cut size.
    /// `tail` when the entry is among the stream's last
    /// [`Cuts::tail_bytes`].
    ///
    /// # Errors
    /// A write error.
    pub fn end_entry(&mut self, tail: bool) -> io::Result<()> {
        let cut = if self.early() || tail {
            self.cuts.small
        } else {
            FRAME_CUT
        };
        if self.len >= cut {
            self.submit()?;
        }
        Ok(())
    }

    /// Keep the first frame for the global header, made as soon as it is
    /// ready, or at the end; the frames after it are compressed and parked
    /// meanwhile, so that the layout never waits for it (see
    /// [`super::park`]). Call before anything else.
    pub fn defer_header(&mut self, make: DeferredHeader<'a>) {
        let seq = self.out.reserve();
        self.header = Some((seq, make));
    }

    /// Submit the last frame; `end` is where the entries end (the start of
    /// the end-of-archive marker). Returns the tar stream's length.
    ///
    /// # Errors
    /// A job's or the header's error, or a write error.
    pub fn finish(mut self, end: u64) -> io::Result<u64> {
        self.submit()?;
        self.resolve_header()?;
        let FrameLayout {
            out,
            index,
            header_len,
            done,
            ..
        } = self;
        let index = match index {
            Some(mut index) => {
                index.shift(header_len);
                Some(index.finish_at(end)?)
            }
            None => None,
        };
        out.finish(index)?;
        Ok(done + header_len)
    }

    /// A full frame is submitted before anything more is laid out.
    fn make_room(&mut self) -> io::Result<()> {
        if self.len == FRAME_TARGET {
            self.submit()?;
        }
        Ok(())
    }

    fn resolve_header(&mut self) -> io::Result<()> {
        if let Some((seq, header)) = self.header.take() {
            let h = (header.make)()?;
            self.header_len = h.len() as u64;
            self.out.submit_reserved(seq, RawFrame::Ready(h))?;
        }
        Ok(())
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        if self
            .header
            .as_ref()
            .is_some_and(|(_, h)| self.out.direct() || (h.ready)())
        {
            self.resolve_header()?;
        }
        let len = std::mem::replace(&mut self.len, 0);
        self.done += len as u64;
        let frame = self.content.take(len);
        if let Some(written) = self.out.submit(frame)? {
            self.content.reuse(written);
        }
        Ok(())
    }
}

/// Where closed frames go.
enum Frames {
    /// Built and compressed on the pool, written in order by the
    /// pipeline's writer thread.
    Pipeline(FramePipeline),
    /// Written at once by the caller's thread: frames that need no
    /// building or compression.
    Direct(Box<dyn Write + Send>),
}

impl Frames {
    /// Are frames written at once? Then nothing is parked: a deferred
    /// header is made before the first frame.
    fn direct(&self) -> bool {
        matches!(self, Frames::Direct(_))
    }

    fn reserve(&mut self) -> usize {
        match self {
            Frames::Pipeline(p) => p.reserve(),
            Frames::Direct(_) => 0,
        }
    }

    fn submit_reserved(&mut self, seq: usize, frame: RawFrame) -> io::Result<()> {
        match self {
            Frames::Pipeline(p) => {
                p.submit_reserved(seq, frame);
                Ok(())
            }
            Frames::Direct(w) => w.write_all(&frame.build()?),
        }
    }

    /// Submit `frame`; a frame written at once is handed back.
    fn submit(&mut self, frame: RawFrame) -> io::Result<Option<Vec<u8>>> {
        match self {
            Frames::Pipeline(p) => p.submit(frame).map(|()| None),
            Frames::Direct(w) => {
                let raw = frame.build()?;
                super::write_chunked(w, &raw)?;
                Ok(Some(raw))
            }
        }
    }

    /// Wait for every frame, then write `index` (if any) and the seek table
    /// (a pipeline's, for zstd output).
    fn finish(self, index: Option<Vec<u8>>) -> io::Result<()> {
        match self {
            Frames::Pipeline(p) => p.finish(index),
            Frames::Direct(mut w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Kind;
    use crate::testutil::noise;
    use std::sync::{Arc, Mutex};

    /// A writer whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Entries of `sizes` blocks each, laid out by `layout`; returns the
    /// bytes given, in order.
    fn lay_out(layout: &mut FrameLayout<CopiedBytes>, sizes: &[usize]) -> Vec<u8> {
        let mut given = Vec::new();
        for (i, &blocks) in sizes.iter().enumerate() {
            let e = Entry::new(format!("f{i}"), Kind::File);
            layout.begin_entry(&e).unwrap();
            let b = vec![i as u8; blocks * 512];
            layout.bytes(&b).unwrap();
            given.extend_from_slice(&b);
            layout.end_entry(false).unwrap();
        }
        given
    }

    #[test]
    fn plain_output_is_the_bytes_given_header_first() {
        let out = Shared::default();
        let mut layout = FrameLayout::copying(Box::new(out.clone()), None, Cuts::EVEN);
        layout.defer_header(DeferredHeader {
            ready: Box::new(|| true),
            make: Box::new(|| Ok(vec![7u8; 512])),
        });
        let given = lay_out(&mut layout, &[1, 9000, 3, 20000]);
        let end = layout.position();
        assert_eq!(end, given.len() as u64);
        assert_eq!(layout.finish(end).unwrap(), end + 512);
        let written = out.0.lock().unwrap();
        assert_eq!(&written[..512], &[7u8; 512][..]);
        assert!(written[512..] == given[..]);
    }

    #[test]
    fn frames_are_cut_at_the_target_and_after_the_cut_size() {
        let out = Shared::default();
        let mut layout = FrameLayout::copying(Box::new(out.clone()), Some(1), Cuts::EVEN);
        // 7168 blocks (3.5 MiB) reach FRAME_CUT: the frame closes after
        // the entry. 9000 blocks overflow FRAME_TARGET: cut inside.
        let given = lay_out(&mut layout, &[7168, 1, 9000, 2]);
        let end = layout.position();
        layout.finish(end).unwrap();
        let written = out.0.lock().unwrap();
        let (table, _) = super::super::seek::SeekTable::decode_tail(&written).unwrap();
        let sizes: Vec<u32> = table.frames.iter().map(|&(_, d)| d).collect();
        let first = 7168 * 512;
        assert_eq!(first, FRAME_CUT as u32);
        let second = FRAME_TARGET as u32;
        let third = (7168 + 1 + 9000 + 2) * 512 - first - second;
        assert_eq!(sizes, [first, second, third]);
        assert_eq!(
            sizes.iter().map(|&s| u64::from(s)).sum::<u64>(),
            given.len() as u64
        );
    }

    /// The layout does not wait for a deferred header: the frames after it
    /// are compressed and parked (past the memory kept for them, in the
    /// scratch file), the header made once it is ready, and the archive
    /// is the header and the frames in order.
    #[test]
    fn frames_behind_a_deferred_header_are_parked_until_it_is_made() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let out = Shared::default();
        let scratch = tempfile::tempdir().unwrap();
        let content = CopiedBytes {
            buf: Vec::with_capacity(FRAME_TARGET),
            used: BufferPool::default(),
        };
        let dir = crate::sys::Dir::open(scratch.path()).ok();
        let mut layout = FrameLayout::new(
            Box::new(out.clone()),
            Some(1),
            content,
            Cuts::EVEN,
            (None, dir),
        );
        let (ready, made) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (r, m) = (ready.clone(), made.clone());
        layout.defer_header(DeferredHeader {
            ready: Box::new(move || r.load(Ordering::SeqCst)),
            make: Box::new(move || {
                m.store(true, Ordering::SeqCst);
                Ok(vec![7u8; 512])
            }),
        });
        // 9 frames of 4 MiB: more than the in-flight places and than the
        // memory kept for parked frames.
        let mut given = Vec::new();
        for i in 0..9u64 {
            let e = Entry::new(format!("f{i}"), Kind::File);
            layout.begin_entry(&e).unwrap();
            let b = noise(i + 1, FRAME_TARGET);
            layout.bytes(&b).unwrap();
            given.extend_from_slice(&b);
            layout.end_entry(false).unwrap();
        }
        assert!(!made.load(Ordering::SeqCst), "made before it was ready");
        ready.store(true, Ordering::SeqCst);
        let e = Entry::new("last", Kind::File);
        layout.begin_entry(&e).unwrap();
        let b = noise(99, FRAME_TARGET);
        layout.bytes(&b).unwrap();
        given.extend_from_slice(&b);
        layout.end_entry(false).unwrap();
        assert!(
            made.load(Ordering::SeqCst),
            "made once ready, before the end"
        );
        let end = layout.position();
        layout.finish(end).unwrap();
        let written = out.0.lock().unwrap();
        let plain = zstd::decode_all(&written[..]).unwrap();
        assert_eq!(&plain[..512], &[7u8; 512][..]);
        assert!(plain[512..] == given[..], "the frames, in order");
    }
}
