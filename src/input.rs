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
    decompress(raw).map_err(|e| e.with_path(archive))
}

/// Wrap a raw archive stream in the decompressor its first bytes call for.
///
/// # Errors
/// A read error, or an unsupported compression.
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
