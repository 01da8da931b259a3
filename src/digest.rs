//! Content digests (`sha256:HEX`, `sha512:HEX`): checked before any path
//! is built from one, and computed over what is read (an image's blobs as
//! `-f oci:` verifies them) or written (the blobs `create --oci` names).

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use sha2::Digest as _;

use crate::error::{Error, Result};

/// A digest algorithm alientar verifies.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-256, what every image tool writes.
    Sha256,
    /// SHA-512, which the image-spec also registers.
    Sha512,
}

impl Algorithm {
    /// The name in a digest string and in `blobs/NAME/`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A digest whose algorithm is known and whose hex part is exactly its
/// length of lowercase hex digits, so that `blobs/ALG/HEX` names a file
/// inside the layout and nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The lowercase hex digits.
    pub hex: String,
}

impl Digest {
    /// Parse `ALG:HEX`.
    ///
    /// # Errors
    /// An unknown algorithm, or a hex part of the wrong length or alphabet.
    pub fn parse(s: &str) -> Result<Digest> {
        let bad = |why: &str| Error::format(format!("bad digest '{}': {why}", shown(s)));
        let (alg, hex) = s.split_once(':').ok_or_else(|| bad("no ':'"))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(bad("alientar verifies sha256 and sha512 digests only")),
        };
        if hex.len() != algorithm.hex_len()
            || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(bad(&format!(
                "a {} digest is {} lowercase hex digits",
                algorithm.name(),
                algorithm.hex_len()
            )));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The digest of `data`.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut h = Hasher::new(algorithm);
        h.update(data);
        h.finish()
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

/// At most 100 characters of a string from an image, for a message.
pub fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(100).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// A running digest.
pub enum Hasher {
    /// SHA-256.
    Sha256(Box<sha2::Sha256>),
    /// SHA-512.
    Sha512(Box<sha2::Sha512>),
}

impl Hasher {
    /// A digest of nothing yet.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Box::default()),
            Algorithm::Sha512 => Hasher::Sha512(Box::default()),
        }
    }

    /// Add `data`.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of what was added.
    pub fn finish(self) -> Digest {
        let (algorithm, bytes): (Algorithm, Vec<u8>) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        let hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Digest { algorithm, hex }
    }
}

/// What a [`Hashing`] reader has seen: its digest so far and the bytes.
pub struct Seen {
    hasher: Option<Hasher>,
    /// Bytes read.
    pub bytes: u64,
}

impl Seen {
    /// The digest of the bytes read (once).
    pub fn digest(&mut self) -> Option<Digest> {
        self.hasher.take().map(Hasher::finish)
    }
}

/// A reader that hashes what passes through it, for a digest checked when
/// the stream has been read to its end; the digest is read through the
/// handle [`Hashing::new`] returns (the reader itself is handed to a
/// decompressor that owns it).
pub struct Hashing<R> {
    r: R,
    seen: Arc<Mutex<Seen>>,
}

impl<R: Read> Hashing<R> {
    /// Hash what is read from `r` with `algorithm`.
    pub fn new(r: R, algorithm: Algorithm) -> (Hashing<R>, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen {
            hasher: Some(Hasher::new(algorithm)),
            bytes: 0,
        }));
        (
            Hashing {
                r,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.bytes += n as u64;
        if let Some(h) = seen.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_before_use() {
        let good = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Digest::parse(good).unwrap().to_string(), good);
        assert_eq!(Digest::of(Algorithm::Sha256, b"").to_string(), good);
        for bad in [
            "sha256:../../../etc/passwd",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashing_reader_sees_everything() {
        let (mut r, seen) = Hashing::new(&b"hello world"[..], Algorithm::Sha256);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let mut s = seen.lock().unwrap();
        assert_eq!(s.bytes, 11);
        assert_eq!(
            s.digest().unwrap().hex,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
    }
}
