//! Opening archives for reading: a file or stdin, with the compression
//! detected from the first bytes (zstd, gzip, xz, bzip2, or plain tar).

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;

use crate::error::{Error, Result};

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

/// Open `archive` (`-` for stdin) and return a reader of the uncompressed tar stream.
///
/// # Errors
/// The file cannot be opened, or it uses a compression alientar cannot read
/// (the message names the file and the format).
pub fn open(archive: &Path) -> Result<(Compression, Box<dyn Read + Send>)> {
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
        Box::new(f)
    };
    decompress(raw).map_err(|e| e.with_path(archive))
}

/// Wrap a raw archive stream in the decompressor its first bytes call for.
///
/// # Errors
/// A read error, or an unsupported compression.
pub fn decompress(mut raw: Box<dyn Read + Send>) -> Result<(Compression, Box<dyn Read + Send>)> {
    let mut head = [0u8; 6];
    let mut n = 0;
    while n < head.len() {
        match raw.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io_nopath("cannot read archive", e)),
        }
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
    let c = detect(&head);
    let stream = BufReader::with_capacity(256 << 10, Cursor::new(head).chain(raw));
    let r: Box<dyn Read + Send> = match c {
        Compression::None => Box::new(stream),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            256 << 10,
            zstd::stream::read::Decoder::with_buffer(stream)
                .map_err(|e| Error::io_nopath("cannot start zstd decoder", e))?,
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

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
