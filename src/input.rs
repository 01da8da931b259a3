//! Opening archives for reading: a file or stdin, with the compression
//! detected from the first bytes (zstd, gzip, xz, bzip2, or plain tar).

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::frame::read::Shared;
use crate::tar::Lend;

/// The compression of an archive, as detected from its first bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// zstd (one or more frames; skippable frames are passed over).
    Zstd,
    /// gzip (several members are read as one stream).
    Gzip,
    /// xz.
    Xz,
    /// bzip2.
    Bzip2,
}

/// Detect the compression from up to the first 6 bytes.
pub fn detect(head: &[u8]) -> Compression {
    let starts = |m: &[u8]| head.len() >= m.len() && &head[..m.len()] == m;
    if starts(&[0x28, 0xb5, 0x2f, 0xfd])
        || (head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18])
    {
        Compression::Zstd
    } else if starts(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if starts(b"BZh") {
        Compression::Bzip2
    } else {
        Compression::None
    }
}

/// Compressions recognised only to refuse them clearly: (description, command to convert).
fn unsupported(head: &[u8]) -> Option<(&'static str, &'static str)> {
    if head.starts_with(b"LZIP") {
        return Some(("an lzip", "lzip -dc"));
    }
    if head.starts_with(b"\x89LZO\0\r\n\x1a\n") {
        return Some(("an lzop", "lzop -dc"));
    }
    if head.starts_with(b"LRZI") {
        return Some(("an lrzip", "lrzip -dq -o -"));
    }
    if head.starts_with(b"GRZipII\0\x02\x04:)") {
        return Some(("a grzip", "grzip -d"));
    }
    // Legacy .lzma: properties byte 0x5d, a power-of-two dictionary of at least
    // 4 KiB, and an uncompressed size that is unknown (all ones) or below 2^48.
    // A tar header cannot look like this (its name would be "]" plus junk).
    if head.len() >= 13 && head[0] == 0x5d {
        let dict = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        let size_ok = head[5..13] == [0xff; 8] || head[11..13] == [0, 0];
        if dict.is_power_of_two() && dict >= 4096 && size_ok {
            return Some(("an lzma", "xz -dc"));
        }
    }
    None
}

/// Open `archive` (`-` for stdin) and return a reader of the uncompressed tar stream.
///
/// # Errors
/// The file cannot be opened, or it uses a compression alientar cannot read
/// (the message names the file and the format).
pub fn open(archive: &Path) -> Result<(Compression, Box<dyn Read + Send>)> {
    let (c, s) = open_source(archive)?;
    Ok((c, s))
}

/// An uncompressed tar stream that may lend the bytes of the frames it
/// has decompressed instead of copying them ([`ParallelFrames`]).
///
/// [`ParallelFrames`]: crate::frame::read::ParallelFrames
pub trait Source: Lend<Loan = Shared> + Send {}

impl<T: Lend<Loan = Shared> + Send + ?Sized> Source for T {}

/// A stream that only copies.
struct Copying(Box<dyn Read + Send>);

impl Read for Copying {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Lend for Copying {
    type Loan = Shared;
}

/// A stream as a [`Source`] that only copies.
pub fn source(r: Box<dyn Read + Send>) -> Box<dyn Source> {
    Box::new(Copying(r))
}

/// As [`open`], as a [`Source`].
///
/// # Errors
/// As [`open`].
pub fn open_source(archive: &Path) -> Result<(Compression, Box<dyn Source>)> {
    let raw: Box<dyn Read + Send> = if archive == Path::new("-") {
        Box::new(io::stdin())
    } else {
        let f = File::open(archive).map_err(|e| Error::io("cannot open archive", archive, e))?;
        if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(Error::io(
                "cannot read archive",
                archive,
                io::Error::from(io::ErrorKind::IsADirectory),
            ));
        }
        // A zstd archive with a valid seek table: frames decompressed in
        // parallel ahead of the reader.
        if let Ok(probe) = f.try_clone()
            && let Some(s) = crate::frame::read::Seekable::probe(probe)
        {
            let ahead = rayon::current_num_threads() * 2 + 1;
            return Ok((Compression::Zstd, Box::new(s.reader(ahead))));
        }
        Box::new(f)
    };
    let shown = if archive == Path::new("-") {
        Path::new("standard input")
    } else {
        archive
    };
    let (c, r) = decompress(raw).map_err(|e| e.with_path(shown))?;
    Ok((c, Box::new(Copying(r))))
}

/// Wrap a raw archive stream in the decompressor its first bytes call for.
///
/// # Errors
/// A read error, an empty input (GNU tar refuses it too; an archive with no
/// members still has its end-of-archive blocks), or an unsupported
/// compression.
pub fn decompress(mut raw: Box<dyn Read + Send>) -> Result<(Compression, Box<dyn Read + Send>)> {
    let mut head = [0u8; 13];
    let mut n = 0;
    while n < head.len() {
        match raw.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io_nopath("cannot read archive", e)),
        }
    }
    if n == 0 {
        return Err(Error::format(
            "this does not look like a tar archive (it is empty)",
        ));
    }
    let head = head[..n].to_vec();
    if head.starts_with(&[0x1f, 0x9d]) {
        return Err(Error::format(
            "this is a compress(1) .Z archive, which alientar does not read; convert it with `gzip -dc`",
        ));
    }
    if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        return Err(Error::format(
            "this is an lz4 archive, which alientar does not read; convert it with `lz4 -dc`",
        ));
    }
    if let Some((what, tool)) = unsupported(&head) {
        return Err(Error::format(format!(
            "this is {what} archive, which alientar does not read; convert it with `{tool}`"
        )));
    }
    let c = detect(&head);
    let stream = BufReader::with_capacity(256 << 10, Cursor::new(head).chain(raw));
    let r: Box<dyn Read + Send> = match c {
        Compression::None => Box::new(stream),
        Compression::Zstd => Box::new(
            CheckedZstd::new(stream)
                .map_err(|e| Error::io_nopath("cannot start the zstd decoder for", e))?,
        ),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            256 << 10,
            flate2::bufread::MultiGzDecoder::new(stream),
        )),
        Compression::Xz => Box::new(BufReader::with_capacity(
            256 << 10,
            xz2::bufread::XzDecoder::new_multi_decoder(stream),
        )),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            256 << 10,
            bzip2::bufread::MultiBzDecoder::new(stream),
        )),
    };
    Ok((c, r))
}

/// A frame's decompressed bytes are held back until its checksum has been
/// verified, up to this many; beyond, a frame's bytes are passed on as they
/// are decoded (alientar's frames hold at most 4 MiB; `zstd file.tar`
/// makes one frame of the whole archive).
pub const MAX_CHECKED_FRAME: usize = 16 << 20;

/// Streaming zstd decompression that hands out a frame's bytes only once
/// the frame is complete and its checksum matches (for frames up to
/// [`MAX_CHECKED_FRAME`]), so a corrupt frame never reaches a file. The
/// end of the input inside a frame is an error, and that frame's bytes are
/// not handed out: a corrupt block size looks just like a truncation.
struct CheckedZstd<R> {
    r: R,
    d: zstd::stream::raw::Decoder<'static>,
    /// Decoded bytes; `out[pos..ready]` may be handed out.
    out: Vec<u8>,
    pos: usize,
    ready: usize,
    /// The current frame outgrew MAX_CHECKED_FRAME: pass bytes on as decoded.
    unchecked: bool,
    /// Input consumed since the last frame ended.
    in_frame: bool,
}

impl<R: io::BufRead> CheckedZstd<R> {
    fn new(r: R) -> io::Result<Self> {
        Ok(CheckedZstd {
            r,
            d: zstd::stream::raw::Decoder::new()?,
            out: Vec::new(),
            pos: 0,
            ready: 0,
            unchecked: false,
            in_frame: false,
        })
    }

    /// Decode one step of input into `out`; false at the end of the input.
    fn step(&mut self) -> io::Result<bool> {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        if self.pos == self.ready && self.ready > 0 {
            self.out.drain(..self.ready);
            (self.pos, self.ready) = (0, 0);
        }
        let input = self.r.fill_buf()?;
        if input.is_empty() {
            return Ok(false);
        }
        if self.out.capacity() - self.out.len() < 128 << 10 {
            self.out.reserve(256 << 10);
        }
        let mut inb = InBuffer::around(input);
        let at = self.out.len();
        let mut outb = OutBuffer::around_pos(&mut self.out, at);
        let hint = self.d.run(&mut inb, &mut outb)?;
        let used = inb.pos();
        self.r.consume(used);
        if used > 0 {
            self.in_frame = true;
        }
        if hint == 0 {
            // The frame is complete and its checksum verified.
            self.ready = self.out.len();
            self.unchecked = false;
            self.in_frame = false;
        } else if self.unchecked || self.out.len() - self.ready > MAX_CHECKED_FRAME {
            self.unchecked = true;
            self.ready = self.out.len();
        }
        Ok(true)
    }
}

impl<R: io::BufRead> Read for CheckedZstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.ready {
                let n = buf.len().min(self.ready - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if !self.step()? {
                if !self.in_frame && self.ready == self.out.len() {
                    return Ok(0);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "zstd data ends inside a frame (truncated or corrupt); its data is not used",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_formats_are_named() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"LZIP\x01\x0c\x003\x1a\xc9\xd6\xb8J", Some("lzip")),
            (b"\x89LZO\0\r\n\x1a\n\x10\x30\x20\x60", Some("lzop")),
            (b"LRZI\0\x06\0\x0c\0\0\0\0\0", Some("lrzip")),
            (b"GRZipII\0\x02\x04:)\0", Some("grzip")),
            (
                b"\x5d\0\0\x80\0\xff\xff\xff\xff\xff\xff\xff\xff",
                Some("lzma"),
            ),
            (b"]\0\0\0\0\0\0\0\0\0\0\0\0", None), // a tar member named "]"
            (b"etc/passwd\0\0\0", None),
            (b"LZ", None),
        ];
        for (head, want) in cases {
            let got = unsupported(head).map(|(what, _)| what);
            assert_eq!(got.is_some(), want.is_some(), "{head:?}");
            if let (Some(g), Some(w)) = (got, want) {
                assert!(g.contains(w), "{g} for {head:?}");
            }
            if want.is_some() {
                let r = decompress(Box::new(Cursor::new(head.to_vec())));
                let msg = r.err().expect("refused").to_string();
                assert!(msg.contains("does not read"), "{msg}");
            }
        }
    }

    /// Three frames of `n` bytes each (b'a', b'b', b'c'), with checksums,
    /// a skippable frame between the first two.
    fn frames(n: usize) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut starts = Vec::new();
        for (i, c) in [b'a', b'b', b'c'].into_iter().enumerate() {
            starts.push(out.len());
            let mut z = zstd::bulk::Compressor::new(1).unwrap();
            z.include_checksum(true).unwrap();
            let data: Vec<u8> = (0..n).map(|k| c ^ (k as u8 & 3)).collect();
            out.extend_from_slice(&z.compress(&data).unwrap());
            if i == 0 {
                out.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(b"skip");
            }
        }
        (out, starts)
    }

    fn read_all(z: Vec<u8>) -> (Vec<u8>, Option<io::Error>) {
        let mut r =
            CheckedZstd::new(std::io::BufReader::with_capacity(100, Cursor::new(z))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 777];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Some(e)),
            }
        }
    }

    /// Regression: through a pipe (no seek table), a member whose frame
    /// failed its checksum only at the frame's end was already extracted
    /// with the corrupt bytes, and the error named a later member.
    #[test]
    fn corrupt_frames_are_never_handed_out() {
        let n = 300_000;
        let (z, starts) = frames(n);
        let (got, err) = read_all(z.clone());
        assert!(err.is_none());
        assert_eq!(got.len(), 3 * n);
        // Flip a literal byte in the middle frame: its bytes never come out.
        let mut bad = z.clone();
        let at = (starts[1] + starts[2]) / 2;
        bad[at] ^= 0x01;
        let (got, err) = read_all(bad);
        assert!(err.is_some(), "corruption is an error");
        assert_eq!(got.len(), n, "only the first frame's bytes");
        assert!(got.iter().all(|&b| b & !3 == b'a' & !3));
        // Truncated inside the last frame: the frames before it, then an
        // error (a truncation and a corrupt block size look the same).
        let (got, err) = read_all(z[..starts[2] + 40].to_vec());
        assert_eq!(err.unwrap().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(got, read_all(z.clone()).0[..2 * n]);
        // A flip anywhere in the later frames: never more than the frames
        // before the flip.
        for at in (starts[1]..z.len()).step_by(3) {
            let mut bad = z.clone();
            bad[at] ^= 0x10;
            let (got, err) = read_all(bad);
            if err.is_some() {
                assert!(
                    got.len() <= 2 * n && got.len() % n == 0,
                    "flip at {at}: {}",
                    got.len()
                );
            }
        }
    }

    #[test]
    fn frames_over_the_limit_stream() {
        let n = MAX_CHECKED_FRAME + (1 << 20);
        let mut z = zstd::bulk::Compressor::new(1).unwrap();
        z.include_checksum(true).unwrap();
        let c = z.compress(&vec![7u8; n]).unwrap();
        let (got, err) = read_all(c);
        assert!(err.is_none());
        assert_eq!(got.len(), n);
    }

    #[test]
    fn detection_table() {
        let cases: &[(&[u8], Compression)] = &[
            (&[0x28, 0xb5, 0x2f, 0xfd, 0, 0], Compression::Zstd),
            (&[0x50, 0x2a, 0x4d, 0x18, 0, 0], Compression::Zstd),
            (&[0x5e, 0x2a, 0x4d, 0x18, 0, 0], Compression::Zstd),
            (&[0x1f, 0x8b, 8, 0], Compression::Gzip),
            (b"\xfd7zXZ\0", Compression::Xz),
            (b"BZh91A", Compression::Bzip2),
            (b"etc/sh", Compression::None),
            (b"", Compression::None),
        ];
        for (head, want) in cases {
            assert_eq!(detect(head), *want, "{head:?}");
        }
    }
}
