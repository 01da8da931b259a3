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
//! | path | varint: bytes shared with the previous entry's path, then the rest as bytes |
//! | kind | `u8`: 0 file, 1 dir, 2 symlink, 3 hardlink, 4 char, 5 block, 6 fifo |
//! | mode, uid, gid, size | varint |
//! | mtime | zigzag varint: seconds minus the previous entry's seconds; varint nanoseconds |
//! | uname, gname, link | optional bytes |
//! | devmajor, devminor | varint (devices only) |
//! | label | varint: 0 none, else 1 + index into the label table |
//! | xattrs | count, then name (bytes) and value (optional bytes: present for POSIX ACLs) |
//! | blocks | varint: 512-byte blocks from this entry's first header block to the next entry's (headers, data, padding) |
//!
//! The first entry starts at the uncompressed offset given after the label
//! table (varint, the size of the global header); each next one `blocks × 512`
//! bytes later. With the seek table's decompressed frame sizes this gives
//! the frame and offset where each entry's header starts.
//!
//! "bytes" is a varint length then the bytes; "optional bytes" is a varint
//! `0` for none or `1 + length` then the bytes. Varints are LEB128.

use super::chain::{ChainBuilder, ChainInfo, ChainSection, Change};
use crate::entry::{Entry, Kind, Time};
use crate::translate::{ACL_ACCESS, ACL_DEFAULT};

/// Skippable-frame magic of the index.
pub const INDEX_MAGIC: u32 = 0x184D_2A5B;
const TAG: &[u8; 14] = b"ALIENTAR-INDEX";
/// The version of an index without a chain section.
const VERSION: u16 = 1;
/// The version of an index with one: the archive belongs to an incremental
/// chain (see [`super::chain`]).
const CHAIN_VERSION: u16 = 2;
/// Largest index body (decompressed) read into memory: about a million
/// members (some 28 bytes each in a tree of small files) or two and a half
/// million carried entries of an increment (some 12); archives with a
/// larger index are listed by streaming. Readers decode it entry by entry
/// ([`IndexReader`]) rather than into one allocation per entry.
pub const MAX_INDEX: u64 = 32 << 20;
/// Most bytes of paths and labels a decoded index may hold: front-coded
/// paths and label references let a small body describe far more.
pub const MAX_EXPANDED: u64 = 256 << 20;
/// Longest label (the format allows 1 to 255 characters).
const MAX_LABEL: usize = 255;

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

pub(super) fn put_var(out: &mut Vec<u8>, mut v: u64) {
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

pub(super) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub(super) fn put_opt(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_var(out, 0),
        Some(b) => {
            put_var(out, b.len() as u64 + 1);
            out.extend_from_slice(b);
        }
    }
}

pub(super) fn kind_code(k: Kind) -> u8 {
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

/// The kind of a [`kind_code`].
pub(super) fn kind_of(code: u8) -> Result<Kind, String> {
    Ok(match code {
        0 => Kind::File,
        1 => Kind::Dir,
        2 => Kind::Symlink,
        3 => Kind::HardLink,
        4 => Kind::Char,
        5 => Kind::Block,
        6 => Kind::Fifo,
        k => return Err(format!("index entry has unknown kind {k}")),
    })
}

/// An entry's xattrs as the index keeps them: names, and the values of
/// POSIX ACLs only.
pub(super) fn put_xattrs(out: &mut Vec<u8>, xattrs: &[(String, Vec<u8>)]) {
    put_var(out, xattrs.len() as u64);
    for (n, v) in xattrs {
        put_bytes(out, n.as_bytes());
        let keep = n == ACL_ACCESS || n == ACL_DEFAULT;
        put_opt(out, keep.then_some(v.as_slice()));
    }
}

/// Builds an index while an archive is written.
#[derive(Default)]
pub struct IndexBuilder {
    body: Vec<u8>,
    count: u64,
    labels: Vec<String>,
    prev_path: Vec<u8>,
    prev_sec: i64,
    /// Uncompressed offset of the previous entry (None before the first).
    prev_pos: Option<u64>,
    first_pos: u64,
    /// The chain section, for an archive of an incremental chain.
    chain: Option<ChainBuilder>,
    /// What the next members are to their increment, in order (members
    /// past the end are [`Change::Plain`]).
    changes: std::collections::VecDeque<Change>,
}

impl IndexBuilder {
    /// Make the index one of an incremental chain's archive (version 2).
    pub fn start_chain(&mut self, info: ChainInfo) {
        self.chain = Some(ChainBuilder::new(info));
    }

    /// What the next members pushed are to their increment, in order.
    pub fn changes(&mut self, changes: impl IntoIterator<Item = Change>) {
        self.changes.extend(changes);
    }

    /// An entry of the tree this archive leaves as an earlier one stored
    /// it (see [`super::chain`]); in archive order.
    pub fn carry(&mut self, e: &Entry) {
        let label = self.label_ref(&e.label);
        if let Some(c) = &mut self.chain {
            c.carry(e, label);
        }
    }

    /// A name this archive deletes, in the order they are to be deleted.
    pub fn delete(&mut self, path: &[u8]) {
        if let Some(c) = &mut self.chain {
            c.delete(path);
        }
    }

    /// The label's reference: 0 for none, else 1 + its place in the table.
    fn label_ref(&mut self, label: &Option<String>) -> u64 {
        let i = match label {
            None => 0,
            Some(l) => match self.labels.iter().position(|x| x == l) {
                Some(i) => i + 1,
                None => {
                    self.labels.push(l.clone());
                    self.labels.len()
                }
            },
        };
        i as u64
    }

    /// Record an entry whose first header block starts at `pos` in the
    /// uncompressed tar stream. Entries must come in stream order.
    pub fn push(&mut self, e: &Entry, pos: u64) {
        match self.prev_pos {
            None => self.first_pos = pos,
            Some(p) => put_var(&mut self.body, (pos - p) / 512),
        }
        self.prev_pos = Some(pos);
        let b = &mut self.body;
        let shared = e
            .path
            .iter()
            .zip(&self.prev_path)
            .take_while(|(a, b)| a == b)
            .count();
        put_var(b, shared as u64);
        put_bytes(b, &e.path[shared..]);
        self.prev_path.clone_from(&e.path);
        b.push(kind_code(e.kind));
        put_var(b, u64::from(e.mode));
        put_var(b, e.uid);
        put_var(b, e.gid);
        put_var(b, e.size);
        let d = e.mtime.sec.wrapping_sub(self.prev_sec);
        self.prev_sec = e.mtime.sec;
        put_var(b, ((d << 1) ^ (d >> 63)) as u64);
        put_var(b, u64::from(e.mtime.nsec));
        put_opt(b, e.uname.as_deref());
        put_opt(b, e.gname.as_deref());
        put_opt(b, e.link.as_deref());
        if e.kind.is_device() {
            put_var(b, u64::from(e.dev_major));
            put_var(b, u64::from(e.dev_minor));
        }
        let label = self.label_ref(&e.label);
        let b = &mut self.body;
        put_var(b, label);
        put_xattrs(b, &e.xattrs);
        if self.chain.is_some() {
            let c = self.changes.pop_front().unwrap_or(Change::Plain);
            b.push(ChainBuilder::change_code(c));
        }
        self.count += 1;
    }

    /// Move every recorded position `by` bytes later (entries were laid out
    /// before the bytes that precede them were known).
    pub fn shift(&mut self, by: u64) {
        if self.prev_pos.is_some() {
            self.first_pos += by;
        }
    }

    /// The whole skippable frame; `end` is the uncompressed offset where the
    /// last entry ends (the end-of-archive marker).
    ///
    /// # Errors
    /// A zstd failure.
    pub fn finish_at(mut self, end: u64) -> std::io::Result<Vec<u8>> {
        if let Some(p) = self.prev_pos {
            put_var(&mut self.body, (end - p) / 512);
        }
        self.finish()
    }

    /// The whole skippable frame.
    ///
    /// # Errors
    /// A zstd failure.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(self.body.len() + 64);
        put_var(&mut body, self.count);
        put_var(&mut body, self.labels.len() as u64);
        for l in &self.labels {
            put_bytes(&mut body, l.as_bytes());
        }
        if self.count > 0 {
            put_var(&mut body, self.first_pos);
        }
        body.extend_from_slice(&self.body);
        let version = match self.chain {
            Some(c) => {
                c.finish(&mut body);
                CHAIN_VERSION
            }
            None => VERSION,
        };
        let z = zstd::bulk::compress(&body, 3)?;
        let payload = TAG.len() + 2 + z.len();
        let mut out = Vec::with_capacity(payload + 8);
        out.extend_from_slice(&INDEX_MAGIC.to_le_bytes());
        out.extend_from_slice(&(payload as u32).to_le_bytes());
        out.extend_from_slice(TAG);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&z);
        Ok(out)
    }
}

/// A cursor over the decompressed body (owned, or borrowed to read a part
/// of it again). Positions are checked, so no input can make it read out of
/// bounds.
pub(super) struct Cur<B> {
    pub(super) b: B,
    pub(super) i: usize,
}

impl<B: AsRef<[u8]>> Cur<B> {
    /// Bytes after the cursor.
    pub(super) fn left(&self) -> usize {
        self.b.as_ref().len() - self.i
    }

    pub(super) fn var(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .b
                .as_ref()
                .get(self.i)
                .ok_or("index ends inside a number")?;
            self.i += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("index number is too long".into())
    }
    pub(super) fn small(&mut self, max: u64, what: &str) -> Result<u64, String> {
        let v = self.var()?;
        if v > max {
            return Err(format!("index {what} {v} is out of range"));
        }
        Ok(v)
    }
    pub(super) fn take(&mut self, n: u64) -> Result<&[u8], String> {
        let n = usize::try_from(n).map_err(|_| "index length too large")?;
        let end = self
            .i
            .checked_add(n)
            .filter(|&e| e <= self.b.as_ref().len())
            .ok_or("index ends inside a field")?;
        let s = &self.b.as_ref()[self.i..end];
        self.i = end;
        Ok(s)
    }
    pub(super) fn bytes(&mut self) -> Result<&[u8], String> {
        let n = self.var()?;
        self.take(n)
    }
    /// Optional bytes into `to`, reusing its allocation.
    pub(super) fn opt_into(&mut self, to: &mut Option<Vec<u8>>) -> Result<(), String> {
        match self.var()? {
            0 => *to = None,
            n => {
                let b = self.take(n - 1)?;
                let v = to.get_or_insert_with(Vec::new);
                v.clear();
                v.extend_from_slice(b);
            }
        }
        Ok(())
    }
}

/// Decodes an index one entry at a time into a caller's [`Entry`], reusing
/// its allocations: listing a large index allocates nothing per entry.
///
/// [`IndexReader::new`] checks the whole index first (decoding every entry
/// once), so an index that is malformed or inconsistent anywhere is refused
/// before any entry is used.
pub struct IndexReader {
    c: Cur<Vec<u8>>,
    /// The index's version: 2 has a change code per member and a chain
    /// section.
    version: u16,
    /// The last member's change code.
    change: Change,
    /// The chain section of a version 2 index.
    chain: Option<ChainSection>,
    labels: Vec<String>,
    frame_sizes: Vec<u32>,
    total: u64,
    count: u64,
    /// Entries decoded so far.
    done: u64,
    /// The last entry's path (paths are front-coded).
    prev: Vec<u8>,
    /// Where the entries start in the body (after count, labels, first position).
    start: usize,
    first_pos: u64,
    pos: u64,
    prev_sec: i64,
    frame: usize,
    frame_start: u64,
    /// What decoding copies out of shared data (path prefixes, labels).
    expanded: u64,
}

impl IndexReader {
    /// Parse an index payload (after the 8-byte skippable header), checking
    /// all of it against the data frames' decompressed sizes.
    ///
    /// # Errors
    /// Anything malformed or inconsistent, described.
    pub fn new(payload: &[u8], frame_sizes: &[u32]) -> Result<IndexReader, String> {
        let (version, body) = decompress_body(payload)?;
        let body_len = body.len() as u64;
        let mut c = Cur { b: body, i: 0 };
        // Every entry takes at least 16 bytes of the body and starts with a
        // 512-byte header block in the data: counts above either are lies.
        let total: u64 = frame_sizes.iter().map(|&s| u64::from(s)).sum();
        let count = c.small((body_len / 16 + 1).min(total / 512), "entry count")?;
        let labels = read_labels(&mut c, count)?;
        let first_pos = if count > 0 { c.var()? } else { 0 };
        let start = c.i;
        let mut r = IndexReader {
            c,
            version,
            change: Change::Plain,
            chain: None,
            labels,
            frame_sizes: frame_sizes.to_vec(),
            total,
            count,
            done: 0,
            prev: Vec::new(),
            start,
            first_pos,
            pos: first_pos,
            prev_sec: 0,
            frame: 0,
            frame_start: 0,
            expanded: 0,
        };
        r.check_whole()?;
        r.rewind();
        Ok(r)
    }

    /// Decode every entry once, and check what follows the last.
    fn check_whole(&mut self) -> Result<(), String> {
        let mut scratch = Entry::new(Vec::new(), Kind::File);
        while self.next_into(&mut scratch)?.is_some() {}
        if self.count > 0 {
            let blocks = self.c.var()?;
            let end = blocks
                .checked_mul(512)
                .and_then(|d| self.pos.checked_add(d))
                .ok_or("index position overflows")?;
            if end > self.total {
                return Err(format!(
                    "index runs to {end}, past the {} bytes of data",
                    self.total
                ));
            }
        }
        if self.version == CHAIN_VERSION {
            let s =
                ChainSection::check(&mut self.c, &self.labels, &mut self.expanded, MAX_EXPANDED)?;
            self.chain = Some(s);
        }
        if self.c.i != self.c.b.len() {
            return Err("index has trailing bytes".into());
        }
        Ok(())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// What the last member decoded is to its increment.
    pub fn change(&self) -> Change {
        self.change
    }

    /// What the archive says of itself when it belongs to an incremental
    /// chain.
    pub fn chain(&self) -> Option<ChainInfo> {
        self.chain.as_ref().map(|s| s.info)
    }

    /// Each entry the archive carries (leaves as an earlier archive of
    /// its chain stored it), in archive order, into `f`.
    pub fn each_carried(&self, f: &mut dyn FnMut(&Entry)) {
        if let Some(s) = &self.chain {
            s.each_carried(&self.c.b, &self.labels, f);
        }
    }

    /// The names the archive deletes, in the order they are deleted.
    pub fn deleted(&self) -> Vec<Vec<u8>> {
        self.chain
            .as_ref()
            .map(|s| s.deleted(&self.c.b))
            .unwrap_or_default()
    }

    /// Back to the first entry.
    pub fn rewind(&mut self) {
        self.c.i = self.start;
        self.done = 0;
        self.prev.clear();
        self.pos = self.first_pos;
        self.prev_sec = 0;
        self.frame = 0;
        self.frame_start = 0;
        self.expanded = 0;
    }

    /// Decode the next entry into `e` (every field is set, reusing `e`'s
    /// allocations). Returns where its first header block is, or `None`
    /// after the last entry.
    ///
    /// # Errors
    /// Malformed or inconsistent data (never after [`IndexReader::new`]
    /// accepted the index).
    pub fn next_into(&mut self, e: &mut Entry) -> Result<Option<Place>, String> {
        if self.done == self.count {
            return Ok(None);
        }
        let pos = self.next_position()?;
        let shared = self.c.small(self.prev.len() as u64, "shared path length")? as usize;
        self.prev.truncate(shared);
        self.prev.extend_from_slice(self.c.bytes()?);
        e.path.clone_from(&self.prev);
        self.expanded += e.path.len() as u64;
        self.decode_fields(e)?;
        self.decode_label(e)?;
        if self.expanded > MAX_EXPANDED {
            return Err(format!(
                "index expands to more than {} MiB of paths and labels",
                MAX_EXPANDED >> 20
            ));
        }
        decode_xattrs(&mut self.c, e)?;
        if self.version == CHAIN_VERSION {
            self.change = Change::decode(&mut self.c)?;
        }
        self.done += 1;
        Ok(Some(Place {
            frame: self.frame as u32,
            offset: (pos - self.frame_start) as u32,
        }))
    }

    /// Where the next entry starts in the data, checked, with the frame
    /// holding it made current.
    fn next_position(&mut self) -> Result<u64, String> {
        if self.done > 0 {
            let blocks = self.c.var()?;
            self.pos = blocks
                .checked_mul(512)
                .and_then(|d| self.pos.checked_add(d))
                .ok_or("index position overflows")?;
        }
        let (i, pos) = (self.done, self.pos);
        if pos % 512 != 0 || pos >= self.total {
            return Err(format!(
                "index entry {i} starts at {pos}, outside the {} bytes of data",
                self.total
            ));
        }
        while self.frame_start + u64::from(self.frame_sizes[self.frame]) <= pos {
            self.frame_start += u64::from(self.frame_sizes[self.frame]);
            self.frame += 1;
        }
        Ok(pos)
    }

    /// Kind, mode, owners, size, time, names, link and device numbers.
    fn decode_fields(&mut self, e: &mut Entry) -> Result<(), String> {
        let c = &mut self.c;
        e.kind = kind_of(c.take(1)?[0])?;
        e.mode = c.small(0o7777, "mode")? as u32;
        e.uid = c.var()?;
        e.gid = c.var()?;
        e.size = c.var()?;
        let z = c.var()?;
        self.prev_sec = self
            .prev_sec
            .wrapping_add(((z >> 1) as i64) ^ -((z & 1) as i64));
        e.mtime = Time {
            sec: self.prev_sec,
            nsec: c.small(999_999_999, "nanoseconds")? as u32,
        };
        c.opt_into(&mut e.uname)?;
        c.opt_into(&mut e.gname)?;
        c.opt_into(&mut e.link)?;
        (e.dev_major, e.dev_minor) = if e.kind.is_device() {
            (
                c.small(u64::from(u32::MAX), "device major")? as u32,
                c.small(u64::from(u32::MAX), "device minor")? as u32,
            )
        } else {
            (0, 0)
        };
        Ok(())
    }

    fn decode_label(&mut self, e: &mut Entry) -> Result<(), String> {
        let label = self.c.small(self.labels.len() as u64, "label")?;
        if label == 0 {
            e.label = None;
            return Ok(());
        }
        let l = &self.labels[label as usize - 1];
        match &mut e.label {
            Some(s) => s.clone_from(l),
            None => e.label = Some(l.clone()),
        }
        self.expanded += l.len() as u64;
        Ok(())
    }
}

/// Where an entry's first header block is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The data frame holding it.
    pub frame: u32,
    /// Its offset in the frame's uncompressed bytes.
    pub offset: u32,
}

/// The version and body of an index payload, decompressed within
/// [`MAX_INDEX`].
fn decompress_body(payload: &[u8]) -> Result<(u16, Vec<u8>), String> {
    if payload.len() < TAG.len() + 2 || &payload[..TAG.len()] != TAG {
        return Err("not an alientar index".into());
    }
    let version = u16::from_le_bytes([payload[TAG.len()], payload[TAG.len() + 1]]);
    if version != VERSION && version != CHAIN_VERSION {
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
    zstd::bulk::decompress(z, limit as usize)
        .map(|b| (version, b))
        .map_err(|e| format!("index does not decompress: {e}"))
}

/// The label table: only labels some entry uses are recorded, so there are
/// no more than the entries (members and, in a chain section, carried
/// entries: each takes at least two body bytes).
fn read_labels(c: &mut Cur<Vec<u8>>, count: u64) -> Result<Vec<String>, String> {
    let nlabels = c.small(count.max(c.left() as u64 / 2), "label count")?;
    let mut labels = Vec::with_capacity(nlabels.min(1024) as usize);
    for _ in 0..nlabels {
        let l = c.bytes()?;
        if l.len() > MAX_LABEL {
            return Err(format!(
                "index label of {} bytes is longer than {MAX_LABEL}",
                l.len()
            ));
        }
        labels.push(String::from_utf8_lossy(l).into_owned());
    }
    Ok(labels)
}

/// An entry's xattrs, into `e.xattrs`.
pub(super) fn decode_xattrs<B: AsRef<[u8]>>(c: &mut Cur<B>, e: &mut Entry) -> Result<(), String> {
    let nx = c.small(c.left() as u64, "xattr count")?;
    e.xattrs.clear();
    for _ in 0..nx {
        let n = String::from_utf8_lossy(c.bytes()?).into_owned();
        let mut v = None;
        c.opt_into(&mut v)?;
        e.xattrs.push((n, v.unwrap_or_default()));
    }
    Ok(())
}

impl IndexReader {
    /// Every entry, owned, from the first.
    pub fn into_indexed(mut self) -> Vec<Indexed> {
        self.rewind();
        let mut out = Vec::with_capacity(self.len());
        let mut e = Entry::new(Vec::new(), Kind::File);
        // (Checked whole when made: decoding again cannot fail.)
        while let Ok(Some(at)) = self.next_into(&mut e) {
            out.push(Indexed {
                entry: e.clone(),
                frame: at.frame,
                offset: at.offset,
            });
        }
        out
    }
}

/// Parse an index payload (after the 8-byte skippable header), checking it
/// against the data frames' decompressed sizes.
///
/// # Errors
/// Anything malformed or inconsistent, described.
pub fn decode(payload: &[u8], frame_sizes: &[u32]) -> Result<Vec<Indexed>, String> {
    Ok(IndexReader::new(payload, frame_sizes)?.into_indexed())
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
        e.xattrs = vec![
            (ACL_ACCESS.into(), vec![2, 0, 0, 0]),
            ("user.x".into(), b"dropped".to_vec()),
        ];
        b.push(&e, 1024);
        let mut d = Entry::new("etc/skel", Kind::Char);
        d.dev_major = 1;
        d.dev_minor = 3;
        d.mtime = Time {
            sec: 1_700_000_000,
            nsec: 0,
        };
        b.push(&d, 4096);
        let frame = b.finish_at(4608).unwrap();
        assert_eq!(
            u32::from_le_bytes(frame[..4].try_into().unwrap()),
            INDEX_MAGIC
        );
        let got = decode(&frame[8..], &[4096, 1024]).unwrap();
        let mut want = e.clone();
        want.xattrs[1].1.clear();
        assert_eq!(got[0].entry, want);
        assert_eq!((got[0].frame, got[0].offset), (0, 1024));
        assert_eq!(got[1].entry, d);
        assert_eq!((got[1].frame, got[1].offset), (1, 0));
        // Inconsistent with the frames: rejected.
        assert!(decode(&frame[8..], &[4096]).is_err());
        assert!(decode(&frame[8..], &[2048, 1024]).is_err());
        assert!(decode(&frame[8..frame.len() - 3], &[4096, 1024]).is_err());
        assert!(decode(b"garbage", &[]).is_err());
        // More entries than the data has header blocks for.
        assert!(decode(&frame[8..], &[512, 512]).is_err());
    }

    /// An entry decoded into the buffer of the one before keeps nothing of
    /// it: every field is the entry's own (a reused buffer once kept the
    /// last device numbers, label or xattrs).
    #[test]
    fn reused_entry_keeps_nothing_of_the_last() {
        let mut b = IndexBuilder::default();
        let mut dev = Entry::new("dev/null", Kind::Char);
        (dev.dev_major, dev.dev_minor) = (1, 3);
        dev.uname = Some(b"root".to_vec());
        dev.link = None;
        dev.label = Some("rootless".into());
        dev.xattrs = vec![(ACL_ACCESS.into(), vec![2, 0, 0, 0])];
        let mut link = Entry::new("dev/stdin", Kind::Symlink);
        link.link = Some(b"/proc/self/fd/0".to_vec());
        link.uname = Some(b"a-much-longer-user-name".to_vec());
        let plain = Entry::new("etc", Kind::Dir);
        let all = [dev, link, plain];
        for (i, e) in all.iter().enumerate() {
            b.push(e, 512 * i as u64);
        }
        let frame = b.finish_at(1536).unwrap();
        let mut r = IndexReader::new(&frame[8..], &[1536]).unwrap();
        assert_eq!(r.len(), 3);
        for _ in 0..2 {
            let mut e = Entry::new("stale/path", Kind::Fifo);
            e.gname = Some(b"stale".to_vec());
            let mut n = 0;
            while let Some(at) = r.next_into(&mut e).unwrap() {
                assert_eq!(e, all[n]);
                let want = Place {
                    frame: 0,
                    offset: 512 * n as u32,
                };
                assert_eq!(at, want);
                n += 1;
            }
            assert_eq!(n, 3);
            r.rewind();
        }
    }

    /// Regression: a 16 KB index frame claiming 500 MiB of content was
    /// decompressed in full (`list` used 520 MB), and label counts sized an
    /// allocation of up to 24 bytes per body byte.
    #[test]
    fn hostile_sizes_are_refused_before_allocating() {
        let body = vec![0u8; (MAX_INDEX + 1) as usize];
        let z = zstd::bulk::compress(&body, 1).unwrap();
        let mut payload = TAG.to_vec();
        payload.extend_from_slice(&VERSION.to_le_bytes());
        payload.extend_from_slice(&z);
        let err = decode(&payload, &[4 << 20]).unwrap_err();
        assert!(err.contains("larger than allowed"), "{err}");
        // count 1, a label count far over it.
        let mut body = Vec::new();
        put_var(&mut body, 1);
        put_var(&mut body, 1 << 40);
        body.resize(64, 0);
        let mut payload = TAG.to_vec();
        payload.extend_from_slice(&VERSION.to_le_bytes());
        payload.extend_from_slice(&zstd::bulk::compress(&body, 1).unwrap());
        let err = decode(&payload, &[4 << 20]).unwrap_err();
        assert!(err.contains("label count"), "{err}");
    }

    /// Regression: front-coded paths let each entry of a small body share a
    /// long prefix (one 4 MiB path, then 200 000 entries sharing it: 800 GB),
    /// and label references cloned a label of any length per entry.
    #[test]
    fn shared_prefixes_and_labels_are_bounded() {
        let payload = |body: &[u8]| {
            let mut p = TAG.to_vec();
            p.extend_from_slice(&VERSION.to_le_bytes());
            p.extend_from_slice(&zstd::bulk::compress(body, 1).unwrap());
            p
        };
        // (shared, new path bytes, label) for one minimal file entry.
        let entry = |b: &mut Vec<u8>, shared: u64, new: &[u8], label: u64| {
            put_var(b, shared);
            put_bytes(b, new);
            b.push(0);
            for _ in 0..5 {
                put_var(b, 0); // mode uid gid size mtime
            }
            put_var(b, 0); // nsec
            for _ in 0..3 {
                put_var(b, 0); // uname gname link
            }
            put_var(b, label);
            put_var(b, 0); // xattrs
        };
        let n = 200_000u64;
        let mut b = Vec::new();
        put_var(&mut b, n);
        put_var(&mut b, 0);
        put_var(&mut b, 0); // first position
        entry(&mut b, 0, &vec![b'p'; 4 << 20], 0);
        for _ in 1..n {
            put_var(&mut b, 1);
            entry(&mut b, 4 << 20, b"", 0);
        }
        put_var(&mut b, 1);
        let err = decode(&payload(&b), &[u32::MAX, u32::MAX]).unwrap_err();
        assert!(err.contains("expands"), "{err}");
        // A label longer than any valid label.
        let mut b = Vec::new();
        put_var(&mut b, 1);
        put_var(&mut b, 1);
        put_bytes(&mut b, &[b'l'; 256]);
        let err = decode(&payload(&b), &[4 << 20]).unwrap_err();
        assert!(err.contains("longer than 255"), "{err}");
    }
}
