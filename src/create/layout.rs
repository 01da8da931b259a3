//! Entries → frames: each entry's header and the spans of its file laid out
//! in frames (where frames are cut is [`FrameLayout`]'s), each frame
//! submitted as a job that reads its files on the pool ([`super::build`]).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;

use super::build::{FileSpan, FramePart, Notes, Source, build_frame};
use crate::entry::{Entry, Kind, Time};
use crate::frame::layout::{Cuts, DeferredHeader, FrameContent, FrameLayout};
use crate::frame::{BufferPool, RawFrame, Tap};
use crate::progress::Progress;
use crate::tar::format::TarFormat;

/// One frame's parts while it is laid out.
pub(super) struct FrameParts {
    parts: Vec<FramePart>,
    /// The bytes of the frame's [`FramePart::Bytes`], in one buffer (each
    /// header a buffer of its own, made here and freed by the thread that
    /// built the frame, had the threads waiting on the allocator's locks).
    meta: Vec<u8>,
    /// `meta` buffers given back by the frame jobs.
    metas: BufferPool,
    notes: Arc<Notes>,
    progress: Progress,
}

impl FrameParts {
    /// `len` bytes of the file `src`, from `offset`; the file is `size`
    /// bytes long, with modification time `mtime` when stat'ed. The source
    /// is taken for the file's last span, copied for the others.
    fn file(&mut self, src: &mut Option<Source>, span: (u64, u64), size: u64, mtime: Time) {
        let (offset, len) = span;
        let last = offset + len == size;
        let src = if last { src.take() } else { src.clone() };
        self.parts.push(FramePart::File(FileSpan {
            src: src.unwrap_or_default(),
            offset,
            len,
            size,
            mtime,
            last,
        }));
    }
}

impl FrameContent for FrameParts {
    fn bytes(&mut self, b: &[u8]) {
        let at = self.meta.len();
        self.meta.extend_from_slice(b);
        match self.parts.last_mut() {
            Some(FramePart::Bytes(r)) if r.end == at => r.end += b.len(),
            _ => self.parts.push(FramePart::Bytes(at..at + b.len())),
        }
    }

    fn take(&mut self, len: usize) -> RawFrame {
        let parts = std::mem::take(&mut self.parts);
        let meta = std::mem::replace(&mut self.meta, self.metas.take());
        let metas = self.metas.clone();
        let notes = self.notes.clone();
        let progress = self.progress.clone();
        RawFrame::Build(Box::new(move || {
            let frame = build_frame(parts, &meta, len, &notes, &progress);
            metas.give(meta);
            Ok(frame)
        }))
    }
}

/// Lays the archive out in frames as entries arrive. Files are read at the
/// sizes `lstat` gave during the walk, so the layout (and the index) is
/// known before any data is read; a file that shrinks is padded with zeros,
/// one that grows is cut, both with a warning (as GNU tar does).
pub(super) struct Planner<'a> {
    frames: FrameLayout<'a, FrameParts>,
    /// Entries not laid out yet, and their bytes in the tar stream (see
    /// [`Planner::entry`]).
    held: VecDeque<Held>,
    held_bytes: u64,
    /// A header's bytes, before they join the frame.
    scratch: Vec<u8>,
    /// The archive's label (declared in the global header): entries with
    /// it carry no label record.
    label: Option<String>,
    /// The tar dialect the headers are written in.
    format: TarFormat,
}

/// An entry waiting to be laid out.
struct Held {
    entry: Entry,
    src: Source,
    /// The mtime its file had when stat'ed.
    seen: Time,
    /// Its bytes in the tar stream, about (a header block is counted for
    /// the headers).
    bytes: u64,
}

impl<'a> Planner<'a> {
    /// Frames to `w`, compressed at the zstd `level` if any, of an
    /// archive whose label is `label`, headers in `format`; `tap` sees the
    /// tar stream; frames parked behind the global header go to a scratch
    /// file in `scratch` when they do not fit in memory.
    pub(super) fn new(
        w: Box<dyn Write + Send>,
        level: Option<i32>,
        notes: Arc<Notes>,
        progress: Progress,
        label: Option<String>,
        format: TarFormat,
        outlets: (Option<Tap>, Option<crate::sys::Dir>),
    ) -> Planner<'a> {
        let parts = FrameParts {
            parts: Vec::new(),
            meta: Vec::new(),
            metas: BufferPool::default(),
            notes,
            progress,
        };
        Planner {
            frames: FrameLayout::new(w, level, parts, Cuts::SMALL_ENDS, outlets),
            held: VecDeque::new(),
            held_bytes: 0,
            scratch: Vec::new(),
            label,
            format,
        }
    }

    /// Lay out `b` after everything taken so far (so with no entry held:
    /// before the first, or after [`Planner::drain`]).
    pub(super) fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        debug_assert!(self.held.is_empty(), "bytes laid out before held entries");
        self.frames.bytes(b)
    }

    /// Keep the first frame for the global header, made by `make` (see
    /// [`FrameLayout::defer_header`]).
    pub(super) fn defer_header(&mut self, make: DeferredHeader<'a>) {
        self.frames.defer_header(make);
    }

    /// Take `e`, whose data is `src`'s (`seen` is the mtime its file had
    /// when stat'ed). Where
    /// frames are cut must not depend on timing (the same tree makes the
    /// same archive), so whether an entry is among the stream's last
    /// [`Cuts::tail_bytes`] is told by looking ahead, not by whether the
    /// walk has ended: an entry is laid out once the entries after it hold
    /// that many bytes, or at [`Planner::drain`]. In the first frames, cut
    /// small anyway, entries are laid out at once.
    pub(super) fn entry(&mut self, e: Entry, src: Source, seen: Time) -> io::Result<()> {
        let bytes = crate::tar::header::BLOCK as u64
            + if e.kind == Kind::File {
                e.size + crate::tar::read::padding(e.size)
            } else {
                0
            };
        self.held_bytes += bytes;
        self.held.push_back(Held {
            entry: e,
            src,
            seen,
            bytes,
        });
        let tail = self.frames.cuts().tail_bytes();
        while self
            .held
            .front()
            .is_some_and(|first| self.frames.early() || self.held_bytes - first.bytes >= tail)
        {
            self.lay_out_first(false)?;
        }
        Ok(())
    }

    /// Lay out the entries still held: the tail of the archive.
    pub(super) fn drain(&mut self) -> io::Result<()> {
        while !self.held.is_empty() {
            self.lay_out_first(true)?;
        }
        Ok(())
    }

    /// Lay out the first entry held (there is one).
    fn lay_out_first(&mut self, tail: bool) -> io::Result<()> {
        let h = self.held.pop_front().expect("an entry is held");
        self.held_bytes -= h.bytes;
        self.lay_out(&h.entry, h.src, h.seen, tail)
    }

    /// Lay out `e`'s header and data; `tail` when it is among the archive's
    /// last [`Cuts::tail_bytes`].
    fn lay_out(&mut self, e: &Entry, src: Source, seen: Time, tail: bool) -> io::Result<()> {
        self.frames.begin_entry(e)?;
        // The header is encoded in a buffer kept for the next entry.
        let mut h = std::mem::take(&mut self.scratch);
        h.clear();
        self.format.encode(e, self.label.as_deref(), &mut h);
        let r = self.frames.bytes(&h);
        self.scratch = h;
        r?;
        if e.kind == Kind::File && e.size > 0 {
            let mut src = Some(src);
            self.frames.spans(e.size, |parts, offset, len| {
                parts.file(&mut src, (offset, len), e.size, seen)
            })?;
            let pad = crate::tar::read::padding(e.size) as usize;
            self.frames.bytes(&[0u8; 512][..pad])?;
        }
        self.frames.end_entry(tail)
    }

    /// The index being built, for a zstd archive.
    pub(super) fn index(&mut self) -> Option<&mut crate::frame::index::IndexBuilder> {
        self.frames.index_mut()
    }

    /// Uncompressed bytes laid out so far.
    pub(super) fn position(&self) -> u64 {
        self.frames.position()
    }

    /// Submit the last frame; `end` is where the entries end (the start of
    /// the end-of-archive marker). Returns the tar stream's length.
    pub(super) fn finish(self, end: u64) -> io::Result<u64> {
        self.frames.finish(end)
    }
}
