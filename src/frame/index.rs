//! The entry index: what `list` and `check` need about every entry, and
//! where its header starts, in one skippable zstd frame after the data.
//!
//! Frame: skippable magic `0x184D2A5B` (LE), payload length (LE `u32`),
//! payload = `ALIENTAR-INDEX` (14 bytes), version (LE `u16`, 1), then one
//! zstd frame holding the body. Body: entry count (varint), label table
//! (count, then length-prefixed strings), then per entry:
//!
//! | field | encoding |
//! |---|---|
//! | path | bytes |
//! | kind | `u8`: 0 file, 1 dir, 2 symlink, 3 hardlink, 4 char, 5 block, 6 fifo |
//! | mode, uid, gid, size | varint |
//! | mtime | zigzag varint seconds, varint nanoseconds |
//! | uname, gname, link | optional bytes |
//! | devmajor, devminor | varint (devices only) |
//! | label | varint: 0 none, else 1 + index into the label table |
//! | xattrs | count, then name (bytes) and value (optional bytes: present for POSIX ACLs) |
//! | frame, offset | varint: the data frame holding the entry's first header block, and its offset in that frame's uncompressed bytes |
//!
//! "bytes" is a varint length then the bytes; "optional bytes" is a varint
//! `0` for none or `1 + length` then the bytes. Varints are LEB128.

use crate::entry::{Entry, Kind, Time};
use crate::translate::{ACL_ACCESS, ACL_DEFAULT};

/// Skippable-frame magic of the index.
pub const INDEX_MAGIC: u32 = 0x184D_2A5B;
const TAG: &[u8; 14] = b"ALIENTAR-INDEX";
const VERSION: u16 = 1;
/// Largest index payload read into memory.
pub const MAX_INDEX: u64 = 512 << 20;

/// One indexed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indexed {
    /// The entry (xattr values kept only for ACLs; other values empty).
    pub entry: Entry,
    /// Data frame holding its first header block.
    pub frame: u32,
    /// Offset of that block in the frame's uncompressed bytes.
    pub offset: u32,
}

fn put_var(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_opt(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_var(out, 0),
        Some(b) => {
            put_var(out, b.len() as u64 + 1);
            out.extend_from_slice(b);
        }
    }
}

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::File => 0,
        Kind::Dir => 1,
        Kind::Symlink => 2,
        Kind::HardLink => 3,
        Kind::Char => 4,
        Kind::Block => 5,
        Kind::Fifo => 6,
    }
}

/// Builds an index while an archive is written.
#[derive(Default)]
pub struct IndexBuilder {
    body: Vec<u8>,
    count: u64,
    labels: Vec<String>,
}

impl IndexBuilder {
    /// Record an entry whose first header block is at `offset` in `frame`.
    pub fn push(&mut self, e: &Entry, frame: u32, offset: u32) {
        let b = &mut self.body;
        put_bytes(b, &e.path);
        b.push(kind_code(e.kind));
        put_var(b, u64::from(e.mode));
        put_var(b, e.uid);
        put_var(b, e.gid);
        put_var(b, e.size);
        put_var(b, ((e.mtime.sec << 1) ^ (e.mtime.sec >> 63)) as u64);
        put_var(b, u64::from(e.mtime.nsec));
        put_opt(b, e.uname.as_deref());
        put_opt(b, e.gname.as_deref());
        put_opt(b, e.link.as_deref());
        if e.kind.is_device() {
            put_var(b, u64::from(e.dev_major));
            put_var(b, u64::from(e.dev_minor));
        }
        let label = match &e.label {
            None => 0,
            Some(l) => match self.labels.iter().position(|x| x == l) {
                Some(i) => i + 1,
                None => {
                    self.labels.push(l.clone());
                    self.labels.len()
                }
            },
        };
        put_var(b, label as u64);
        put_var(b, e.xattrs.len() as u64);
        for (n, v) in &e.xattrs {
            put_bytes(b, n.as_bytes());
            let keep = n == ACL_ACCESS || n == ACL_DEFAULT;
            put_opt(b, keep.then_some(v.as_slice()));
        }
        put_var(b, u64::from(frame));
        put_var(b, u64::from(offset));
        self.count += 1;
    }

    /// The whole skippable frame.
    ///
    /// # Errors
    /// A zstd failure.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(self.body.len() + 64);
        put_var(&mut body, self.count);
        put_var(&mut body, self.labels.len() as u64);
        for l in &self.labels {
            put_bytes(&mut body, l.as_bytes());
        }
        body.extend_from_slice(&self.body);
        let z = zstd::bulk::compress(&body, 3)?;
        let payload = TAG.len() + 2 + z.len();
        let mut out = Vec::with_capacity(payload + 8);
        out.extend_from_slice(&INDEX_MAGIC.to_le_bytes());
        out.extend_from_slice(&(payload as u32).to_le_bytes());
        out.extend_from_slice(TAG);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&z);
        Ok(out)
    }
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn var(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.b.get(self.i).ok_or("index ends inside a number")?;
            self.i += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("index number is too long".into())
    }
    fn small(&mut self, max: u64, what: &str) -> Result<u64, String> {
        let v = self.var()?;
        if v > max {
            return Err(format!("index {what} {v} is out of range"));
        }
        Ok(v)
    }
    fn take(&mut self, n: u64) -> Result<&[u8], String> {
        let n = usize::try_from(n).map_err(|_| "index length too large")?;
        let end = self.i.checked_add(n).filter(|&e| e <= self.b.len()).ok_or("index ends inside a field")?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.var()?;
        Ok(self.take(n)?.to_vec())
    }
    fn opt(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.var()? {
            0 => Ok(None),
            n => Ok(Some(self.take(n - 1)?.to_vec())),
        }
    }
}

/// Parse an index payload (after the 8-byte skippable header), checking it
/// against the data frames' decompressed sizes.
///
/// # Errors
/// Anything malformed or inconsistent, described.
pub fn decode(payload: &[u8], frame_sizes: &[u32]) -> Result<Vec<Indexed>, String> {
    if payload.len() < TAG.len() + 2 || &payload[..TAG.len()] != TAG {
        return Err("not an alientar index".into());
    }
    let version = u16::from_le_bytes([payload[TAG.len()], payload[TAG.len() + 1]]);
    if version != VERSION {
        return Err(format!("index version {version} is not supported"));
    }
    let z = &payload[TAG.len() + 2..];
    let limit = zstd::zstd_safe::get_frame_content_size(z)
        .ok()
        .flatten()
        .ok_or("index frame has no content size")?;
    if limit > MAX_INDEX {
        return Err(format!("index of {limit} bytes is larger than allowed"));
    }
    let body = zstd::bulk::decompress(z, limit as usize).map_err(|e| format!("index does not decompress: {e}"))?;
    let mut c = Cur { b: &body, i: 0 };
    // Every entry takes at least 16 bytes: counts above that are lies.
    let count = c.small(body.len() as u64 / 16 + 1, "entry count")?;
    let nlabels = c.small(body.len() as u64, "label count")?;
    let mut labels = Vec::with_capacity(nlabels as usize);
    for _ in 0..nlabels {
        labels.push(String::from_utf8_lossy(&c.bytes()?).into_owned());
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let path = c.bytes()?;
        let kind = match c.take(1)?[0] {
            0 => Kind::File,
            1 => Kind::Dir,
            2 => Kind::Symlink,
            3 => Kind::HardLink,
            4 => Kind::Char,
            5 => Kind::Block,
            6 => Kind::Fifo,
            k => return Err(format!("index entry has unknown kind {k}")),
        };
        let mut e = Entry::new(path, kind);
        e.mode = c.small(0o7777, "mode")? as u32;
        e.uid = c.var()?;
        e.gid = c.var()?;
        e.size = c.var()?;
        let z = c.var()?;
        e.mtime = Time {
            sec: ((z >> 1) as i64) ^ -((z & 1) as i64),
            nsec: c.small(999_999_999, "nanoseconds")? as u32,
        };
        e.uname = c.opt()?;
        e.gname = c.opt()?;
        e.link = c.opt()?;
        if kind.is_device() {
            e.dev_major = c.small(u64::from(u32::MAX), "device major")? as u32;
            e.dev_minor = c.small(u64::from(u32::MAX), "device minor")? as u32;
        }
        let label = c.small(labels.len() as u64, "label")?;
        e.label = (label > 0).then(|| labels[label as usize - 1].clone());
        let nx = c.small(body.len() as u64, "xattr count")?;
        for _ in 0..nx {
            let n = String::from_utf8_lossy(&c.bytes()?).into_owned();
            let v = c.opt()?.unwrap_or_default();
            e.xattrs.push((n, v));
        }
        let frame = c.small(u64::from(u32::MAX), "frame")? as u32;
        let offset = c.small(u64::from(u32::MAX), "offset")? as u32;
        let size = *frame_sizes
            .get(frame as usize)
            .ok_or_else(|| format!("index entry {} names frame {frame} of {}", e.display_path(), frame_sizes.len()))?;
        if offset >= size || offset % 512 != 0 {
            return Err(format!("index entry {} has offset {offset} outside its frame", e.display_path()));
        }
        out.push(Indexed { entry: e, frame, offset });
    }
    if c.i != body.len() {
        return Err("index has trailing bytes".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejects() {
        let mut b = IndexBuilder::default();
        let mut e = Entry::new("etc/shadow", Kind::File);
        e.mode = 0o640;
        e.gid = 42;
        e.size = 474;
        e.mtime = Time { sec: -5, nsec: 7 };
        e.label = Some("rootless".into());
        e.xattrs = vec![(ACL_ACCESS.into(), vec![2, 0, 0, 0]), ("user.x".into(), b"dropped".to_vec())];
        b.push(&e, 0, 512);
        let mut d = Entry::new("dev/null", Kind::Char);
        d.dev_major = 1;
        d.dev_minor = 3;
        b.push(&d, 1, 0);
        let frame = b.finish().unwrap();
        assert_eq!(u32::from_le_bytes(frame[..4].try_into().unwrap()), INDEX_MAGIC);
        let got = decode(&frame[8..], &[4096, 1024]).unwrap();
        let mut want = e.clone();
        want.xattrs[1].1.clear();
        assert_eq!(got[0].entry, want);
        assert_eq!((got[1].entry.dev_major, got[1].frame, got[1].offset), (1, 1, 0));
        // Inconsistent with the frames: rejected.
        assert!(decode(&frame[8..], &[4096]).is_err());
        assert!(decode(&frame[8..], &[512, 1024]).is_err());
        assert!(decode(&frame[8..frame.len() - 3], &[4096, 1024]).is_err());
        assert!(decode(b"garbage", &[]).is_err());
    }
}
