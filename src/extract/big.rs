//! Big files: created by the reading thread, their data written in pieces
//! at offsets by a worker, sealed by whoever finishes them.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::frame::read::Shared;
use crate::member::split;
use crate::sink::Applied;
use crate::sys::Dir;
use crate::tar::read::Chunk;

use super::batch::{Task, data_buffer, room};
use super::crew::worker_gone;
use super::meta::{Has, Xattrs};
use super::place::{Born, Placing, Written, create_unnamed};
use super::read::Reading;
use super::worker::Worker;

/// Files up to this size travel to a worker in one piece; larger ones are
/// written in pieces of [`BIG_CHUNK`] ([`BigFile`]).
pub(super) const CHUNK: usize = 256 << 10;
const BIG_CHUNK: u64 = 1 << 20;

/// A file larger than [`CHUNK`]: created by the reading thread, its data
/// written at offsets by the worker that gets its pieces, given its
/// metadata and name by whoever brings its count of bytes left to zero.
pub(super) struct BigFile {
    file: File,
    born: Born,
    dir: Arc<Dir>,
    tmp: Vec<u8>,
    name: Vec<u8>,
    path: String,
    ctx: Entry,
    host: Entry,
    /// The xattrs the sink gives it (set when it is sealed).
    xattrs: Xattrs,
    label: bool,
    seq: u64,
    /// Bytes still to be written, plus one held by the reader until every
    /// piece is sent: whoever brings it to zero seals the file.
    left: AtomicU64,
    failed: Mutex<Option<Error>>,
}

impl BigFile {
    fn fail(&self, e: Error) {
        let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(e);
        }
    }

    fn has_failed(&self) -> bool {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

/// A big file's bytes for one write, and where they go.
pub(super) struct BigPiece {
    file: Arc<BigFile>,
    offset: u64,
    bytes: PieceBytes,
}

/// A piece's bytes.
enum PieceBytes {
    /// `buf[..len]`, copied out of the archive.
    Copied { buf: Vec<u8>, len: usize },
    /// Bytes of a decompressed frame, not copied.
    Shared(Shared),
}

impl PieceBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            PieceBytes::Copied { buf, len } => &buf[..*len],
            PieceBytes::Shared(s) => &s[..],
        }
    }
}

/// What the archive gave for the next piece: bytes, then the length of a
/// hole when the member is sparse and one follows.
struct Got {
    bytes: PieceBytes,
    hole: u64,
}

impl Worker {
    /// Create the file for a big entry.
    pub(super) fn create_big(&mut self, t: Box<Task>) -> Result<Arc<BigFile>> {
        let Task {
            seq,
            key,
            ctx,
            host,
            label,
            ..
        } = *t;
        let host = host.unwrap_or_else(|| ctx.clone());
        let comps = split(&key);
        let path = String::from_utf8_lossy(&key).into_owned();
        let dir = self
            .parent(&comps)
            .map_err(|x| Error::io("cannot create the parent directories of", &path, x))?;
        let tmp = self.tmp_name();
        let a = Applied {
            ctx: &ctx,
            host: &host,
        };
        let (xattrs, final_mode) = self.new_file(&a, label);
        let name = comps[comps.len() - 1];
        let (file, born) = self
            .open_big(&dir, name, &tmp, final_mode.unwrap_or(0o600))
            .map_err(|x| Error::io("cannot create", &path, x))?;
        Ok(Arc::new(BigFile {
            file,
            born,
            dir,
            tmp: tmp.to_vec(),
            name: name.to_vec(),
            path,
            left: AtomicU64::new(ctx.size + 1),
            ctx,
            host,
            xattrs,
            label,
            seq,
            failed: Mutex::new(None),
        }))
    }

    /// The file a big entry is written into: with `--overwrite` the
    /// existing regular file of its name, else a new one.
    fn open_big(&self, dir: &Dir, name: &[u8], tmp: &[u8], mode: u32) -> io::Result<(File, Born)> {
        if self.overwrite
            && let Some(f) = dir.open_regular_truncated(name)?
        {
            return Ok((f, Born::Existing));
        }
        create_unnamed(dir, tmp, mode)
    }

    /// Write a piece (unless its file failed already), then give back its
    /// buffer and its slot (taken by the reader before sending it).
    pub(super) fn write_piece(&mut self, p: BigPiece) {
        let bytes = p.bytes.as_slice();
        if !p.file.has_failed()
            && let Err(x) = p.file.file.write_all_at(bytes, p.offset)
        {
            p.file.fail(Error::io("cannot write", &p.file.path, x));
        }
        self.piece_done(&p.file, bytes.len() as u64);
        if let PieceBytes::Copied { buf, .. } = p.bytes {
            self.buffers.give(buf);
        }
        let _ = self.slots.try_recv();
    }

    /// `n` bytes of a big file are done (written, skipped or given up);
    /// the one who finishes it seals it.
    pub(super) fn piece_done(&mut self, big: &BigFile, n: u64) {
        if big.left.fetch_sub(n, Ordering::AcqRel) != n {
            return;
        }
        let failed = big.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        let r = match failed {
            Some(e) => Err(e),
            // The length covers trailing holes of a sparse member.
            None => big
                .file
                .set_len(big.ctx.size)
                .map_err(|x| Error::io("cannot set the length of", &big.path, x)),
        };
        let a = Applied {
            ctx: &big.ctx,
            host: &big.host,
        };
        let p = Placing {
            dir: &big.dir,
            name: &big.name,
            tmp: &big.tmp,
            a: &a,
            label: big.label,
            path: &big.path,
        };
        // Owner and mode always: the sealing worker's cached parent is
        // not this file's, so "born with the right owner" cannot be judged.
        let w = Written {
            file: &big.file,
            born: big.born,
            xattrs: &big.xattrs,
            has: Has::Nothing,
        };
        self.seq = big.seq;
        match self.seal(&p, w, r) {
            Ok(()) => self.left.done += 1,
            Err(e) => self.left.error(big.seq, e),
        }
    }
}

impl Reading<'_> {
    /// Hand out a big file: created here, its pieces written at their
    /// offsets by worker `w`. One worker writes a file's pieces: ext4
    /// serializes writers of one inode, and several of them would spin on
    /// its lock; decompression stays parallel, and different files go to
    /// different workers. `Err`: what stops the run.
    pub(super) fn big_file(&mut self, t: Box<Task>, w: usize) -> Result<()> {
        let seq = t.seq;
        let big = match self.planner.create_big(t) {
            Ok(b) => b,
            Err(e) => {
                self.early.error(seq, e);
                return Ok(()); // its data is skipped by the next read
            }
        };
        let mut offset = 0;
        let r = self.send_pieces(&big, w, &mut offset);
        let size = big.ctx.size;
        if offset < size {
            big.fail(Error::format("archive ended inside this member's data").with_path(&big.path));
            self.planner.piece_done(&big, size - offset);
        }
        self.planner.piece_done(&big, 1); // the reader's guard
        r
    }

    /// Send `big`'s pieces from `offset` on, advancing it.
    fn send_pieces(&mut self, big: &Arc<BigFile>, w: usize, offset: &mut u64) -> Result<()> {
        let size = big.ctx.size;
        while *offset < size {
            let want = (size - *offset).min(BIG_CHUNK) as usize;
            let Got { bytes, hole } = self.next_piece(want)?;
            let n = bytes.as_slice().len() as u64;
            if n == 0 && hole == 0 {
                break;
            }
            if n > 0 {
                self.progress.add_bytes(n);
                let piece = BigPiece {
                    file: big.clone(),
                    offset: *offset,
                    bytes,
                };
                if !self.crew.send_piece(w, piece) {
                    big.fail(worker_gone());
                    self.planner.piece_done(big, n);
                    break;
                }
                *offset += n;
            }
            if hole > 0 {
                let h = hole.min(size - *offset);
                self.planner.piece_done(big, h);
                *offset += h;
            }
        }
        Ok(())
    }

    /// Up to `want` bytes of the member: from a seekable archive a share
    /// of the frame (up to the frame's end), else a copy.
    fn next_piece(&mut self, want: usize) -> Result<Got> {
        let rd = &mut self.input.rd;
        if let Some(s) = rd.borrow_data(want).map_err(|e| self.input.read_error(e))? {
            return Ok(Got {
                bytes: PieceBytes::Shared(s),
                hole: 0,
            });
        }
        let mut buf = data_buffer(&self.kit.buffers);
        room(&mut buf, 0, want);
        let mut len = 0;
        let mut hole = 0;
        while len < want {
            match self.input.rd.read_chunk(&mut buf[len..want]) {
                Ok(Chunk::Data(0)) => break,
                Ok(Chunk::Data(k)) => len += k,
                // A hole of a sparse member: not written (the file's length
                // is set when it is sealed). What was read before it is
                // sent first.
                Ok(Chunk::Hole(h)) => {
                    hole = h;
                    break;
                }
                Err(e) => return Err(self.input.read_error(e)),
            }
        }
        Ok(Got {
            bytes: PieceBytes::Copied { buf, len },
            hole,
        })
    }
}
