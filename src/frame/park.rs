//! Frames compressed while the frame before them waits: parked, their
//! in-flight places given back, and written once it comes.
//!
//! A create run keeps its first frame for the global header, which names
//! the maps of every label found on disk: it can be made only once the walk
//! is over. The frames after it are laid out and compressed meanwhile. Were
//! they kept in the pipeline until then, its in-flight places would fill up
//! and the layout would wait for the walk, which therefore had to run ahead
//! with every entry it found held in memory (a million tiny files: 480
//! MiB). Parked instead, the first [`PARK_MEMORY`] bytes of them in memory
//! and the rest in an unnamed scratch file beside the archive (else in the
//! temporary directory), they cost the memory of no entry: a million tiny
//! files park about 28 MB of compressed frames, written once more and read
//! back once.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, Write};

use super::{Ready, Writer};
use crate::sys::Dir;

/// Bytes of parked frames kept in memory before the rest go to a file.
const PARK_MEMORY: usize = 4 << 20;

/// The frames parked behind one reserved frame, in order.
pub(super) struct Parked {
    /// The frame they wait for.
    pub(super) reserved: usize,
    /// The next frame to park.
    pub(super) next: usize,
    /// The first parked, in memory.
    held: VecDeque<Ready>,
    held_bytes: usize,
    /// The rest, in `file`: each frame's length, uncompressed length, and
    /// the length of its uncompressed bytes when they are kept too (for a
    /// [`super::Tap`]).
    spilled: Vec<(usize, u32, Option<usize>)>,
    file: Option<File>,
    /// Where the file is made (else in the temporary directory).
    dir: Option<Dir>,
    /// The file was looked for.
    sought: bool,
}

impl Parked {
    /// Frames parked behind the frame `reserved`; a file for them, if
    /// needed, is made in `dir`.
    pub(super) fn after(reserved: usize, dir: Option<Dir>) -> Parked {
        Parked {
            reserved,
            next: reserved + 1,
            held: VecDeque::new(),
            held_bytes: 0,
            spilled: Vec::new(),
            file: None,
            dir,
            sought: false,
        }
    }

    /// Park `r`, the frame [`Parked::next`]; its buffers go back to `out`'s
    /// pools once copied to the file.
    pub(super) fn park(&mut self, r: Ready, out: &Writer) -> io::Result<()> {
        self.next += 1;
        let len = r.frame.len() + r.raw.as_ref().map_or(0, Vec::len);
        if self.spilled.is_empty() && self.held_bytes + len <= PARK_MEMORY {
            self.hold(r, out);
            return Ok(());
        }
        let Some(f) = self.file() else {
            // Nowhere to put them: kept in memory, as they were before
            // there was a file.
            self.hold(r, out);
            return Ok(());
        };
        f.write_all(&r.frame)?;
        if let Some(raw) = &r.raw {
            f.write_all(raw)?;
        }
        self.spilled
            .push((r.frame.len(), r.raw_len, r.raw.as_ref().map(Vec::len)));
        out.recycle(r.frame, r.raw);
        Ok(())
    }

    /// Keep `r` in memory, in buffers of its size: those it came in are
    /// made for the largest frame, and go back to `out`'s pools.
    fn hold(&mut self, r: Ready, out: &Writer) {
        let kept = Ready {
            frame: r.frame.as_slice().to_vec(),
            raw_len: r.raw_len,
            raw: r.raw.as_deref().map(<[u8]>::to_vec),
        };
        self.held_bytes += kept.frame.len() + kept.raw.as_ref().map_or(0, Vec::len);
        self.held.push_back(kept);
        out.recycle(r.frame, r.raw);
    }

    /// The scratch file, made the first time it is needed: `None` when it
    /// can be made nowhere.
    fn file(&mut self) -> Option<&mut File> {
        if !self.sought {
            self.sought = true;
            let here = self
                .dir
                .take()
                .and_then(|d| d.scratch_file().ok().flatten());
            self.file = here.or_else(|| {
                let tmp = Dir::open(&std::env::temp_dir()).ok()?;
                tmp.scratch_file().ok().flatten()
            });
        }
        self.file.as_mut()
    }

    /// The reserved frame is written: write the parked frames, in order,
    /// to `out`. Returns the next frame to write.
    pub(super) fn unpark(mut self, out: &mut Writer) -> io::Result<usize> {
        for r in self.held.drain(..) {
            out.put(r)?;
        }
        if let Some(mut f) = self.file.take() {
            f.rewind()?;
            let mut f = io::BufReader::with_capacity(1 << 20, f);
            for &(len, raw_len, raw) in &self.spilled {
                let mut frame = out.returns.compressed.take();
                read_into(&mut f, &mut frame, len)?;
                let raw = match raw {
                    Some(n) => {
                        let mut b = Vec::new();
                        read_into(&mut f, &mut b, n)?;
                        Some(b)
                    }
                    None => None,
                };
                out.put(Ready {
                    frame,
                    raw_len,
                    raw,
                })?;
            }
        }
        Ok(self.next)
    }
}

/// Replace `buf`'s bytes with the next `len` of `r`.
fn read_into(r: &mut impl Read, buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf)
}
