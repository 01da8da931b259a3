//! The entry index: what `list` and `check` need about every entry, and
//! where its header starts, in one skippable zstd frame after the data
//! (docs/format.md §3.3 is the specification; this is a summary).
//!
//! Frame: skippable magic `0x184D2A5B` (LE), payload length (LE `u32`),
//! payload = `ALIENTAR-INDEX` (14 bytes), version (LE `u16`), then the
//! version's body. `create` writes version 3; readers read 1, 2 and 3.
//!
//! Version 3: a head of varints — flags (bit 0: the archive belongs to an
//! incremental chain, bit 1: it is an increment), member count, the first
//! member's uncompressed offset, and for a chain the state time and the
//! counts of carried entries and deleted names — then *chunks* to the end
//! of the payload. A chunk is a section byte (0 members, 1 carried
//! entries, 2 deleted names), a varint length and one zstd frame (content
//! size and checksum) holding: entry count, the byte length of each of 18
//! columns, then the columns. Each column holds one field of every entry of
//! the chunk, in order ([`columns`]):
//!
//! | column | per entry |
//! |---|---|
//! | flags | kind (bits 0–2, codes as version 1), then has nanoseconds, link, xattrs; uname, gname, label differ from the previous entry's |
//! | shared, suffix length, suffix | the path front-coded against the previous entry's in the chunk |
//! | mode, uid, gid, size | varints (carried entries: no size) |
//! | mtime | zigzag seconds minus the previous entry's (0 at a chunk's start) |
//! | nsec | nanoseconds, when not 0 (the tar stream stores them then) |
//! | names | uname, then gname, each when it differs from the previous entry's (optional bytes) |
//! | link, device | link target (bytes); major and minor of devices |
//! | label, labels | the label reference when it changes (0 none, else 1 + place in the section's table); labels first used in the chunk, appended to the table |
//! | xattrs | count, then name (bytes) and value (optional bytes: present for POSIX ACLs) |
//! | blocks | zigzag: the member's 512-byte blocks (to the next member's header, or the end-of-archive marker) minus 1 + ⌈size / 512⌉ for files, 1 for the rest |
//! | change | a chain's members: 0 plain, 1 added, 2 changed |
//!
//! Each member starts `blocks × 512` bytes after the one before; with the
//! seek table's decompressed frame sizes this gives the frame and offset
//! where each member's header starts.
//!
//! Versions 1 and 2 ([`rows`]): one zstd frame holding the whole body, each
//! entry's fields one after the other. "bytes" is a varint length then the
//! bytes; "optional bytes" is a varint `0` for none or `1 + length` then
//! the bytes. Varints are LEB128.

mod columns;
mod rows;
#[cfg(test)]
pub(super) use rows::writer as rows_writer;

use std::collections::VecDeque;

use super::chain::{ChainInfo, Change};
use crate::entry::{Entry, Kind, Time};
use crate::translate::{ACL_ACCESS, ACL_DEFAULT};
use columns::{Part, Section, SectionReader, predicted_blocks};

/// Skippable-frame magic of the index.
pub const INDEX_MAGIC: u32 = 0x184D_2A5B;
const TAG: &[u8; 14] = b"ALIENTAR-INDEX";
/// The version of a rows index with a chain section (see [`super::chain`]).
const CHAIN_VERSION: u16 = 2;
/// The version `create` writes: chunks of columns.
const VERSION: u16 = 3;
/// The zstd level of the index's chunks. Measured on the chunks of real
/// indexes (best of 9): a million tiny files' 16 MB of chunks take 3.3 ms
/// at level 3 and 6.7 ms at level 7, for 0.5 % fewer bytes (847 261 →
/// 842 729: the files' sizes, most of it, do not compress); a root
/// filesystem's, 0.5 and 1.7 ms, for 4.4 % fewer (57 859 → 55 306).
/// Level 9 gains under 0.5 % more for 4 times the time.
const LEVEL: i32 = 7;
/// Largest index payload read into memory (compressed; version 3 takes
/// about a byte per member in a tree of tiny files, some 6 in a root
/// filesystem).
pub const MAX_INDEX: u64 = 64 << 20;
/// Most bytes version 3 chunks may decompress to, together: they are
/// decoded one at a time, but twice (checked whole, then read), and the
/// work is what this bounds.
pub const MAX_BODY: u64 = 1 << 30;
/// Most bytes of paths and labels a section of a decoded index may hold:
/// front-coded paths and label references let a small body describe far
/// more (the work of copying them is what this bounds).
pub const MAX_EXPANDED: u64 = 1 << 30;
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

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Builds an index while an archive is written, compressing a chunk at a
/// time: it holds one chunk of each section uncompressed, and the
/// compressed chunks (about a byte per member in a tree of tiny files).
pub struct IndexBuilder {
    /// The compressed chunks so far.
    out: Vec<u8>,
    members: Section,
    carried: Section,
    deleted: Section,
    count: u64,
    carried_count: u64,
    deleted_count: u64,
    first_pos: u64,
    /// The previous member's position and predicted blocks.
    prev: Option<(u64, u64)>,
    /// The chain this archive belongs to, if any.
    chain: Option<ChainInfo>,
    /// What the next members are to their increment, in order (members
    /// past the end are [`Change::Plain`]).
    changes: VecDeque<Change>,
    z: Option<zstd::bulk::Compressor<'static>>,
    /// The first compression failure, reported by [`IndexBuilder::finish_at`].
    failed: Option<std::io::Error>,
}

impl Default for IndexBuilder {
    fn default() -> IndexBuilder {
        IndexBuilder {
            out: Vec::new(),
            members: Section::new(Part::Members),
            carried: Section::new(Part::Carried),
            deleted: Section::new(Part::Deleted),
            count: 0,
            carried_count: 0,
            deleted_count: 0,
            first_pos: 0,
            prev: None,
            chain: None,
            changes: VecDeque::new(),
            z: None,
            failed: None,
        }
    }
}

impl IndexBuilder {
    /// Make the index one of an incremental chain's archive.
    pub fn start_chain(&mut self, info: ChainInfo) {
        self.chain = Some(info);
    }

    /// What the next members pushed are to their increment, in order.
    pub fn changes(&mut self, changes: impl IntoIterator<Item = Change>) {
        self.changes.extend(changes);
    }

    /// An entry of the tree this archive leaves as an earlier one stored
    /// it (see [`super::chain`]); in archive order.
    pub fn carry(&mut self, e: &Entry) {
        if self.chain.is_some() {
            self.make_room(Part::Carried);
            self.carried.entry(e, false, None);
        }
    }

    /// A name this archive deletes, in the order they are to be deleted.
    pub fn delete(&mut self, path: &[u8]) {
        if self.chain.is_some() {
            self.make_room(Part::Deleted);
            self.deleted.path(path);
        }
    }

    /// Record an entry whose first header block starts at `pos` in the
    /// uncompressed tar stream. Entries must come in stream order.
    pub fn push(&mut self, e: &Entry, pos: u64) {
        match self.prev {
            None => self.first_pos = pos,
            Some((p, predicted)) => self.members.blocks((pos - p) / 512, predicted),
        }
        self.make_room(Part::Members);
        let change = self
            .chain
            .is_some()
            .then(|| self.changes.pop_front().unwrap_or(Change::Plain));
        self.members.entry(e, true, change);
        self.prev = Some((pos, predicted_blocks(e)));
        self.count += 1;
    }

    /// Move every recorded position `by` bytes later (entries were laid out
    /// before the bytes that precede them were known).
    pub fn shift(&mut self, by: u64) {
        if self.prev.is_some() {
            self.first_pos += by;
        }
    }

    /// Compress the section's chunk if it is full.
    fn make_room(&mut self, part: Part) {
        let full = match part {
            Part::Members => self.members.full(),
            Part::Carried => self.carried.full(),
            Part::Deleted => self.deleted.full(),
        };
        if full && let Err(e) = self.flush(part) {
            self.failed.get_or_insert(e);
        }
    }

    /// Compress the section's chunk (if it holds anything) onto the output.
    fn flush(&mut self, part: Part) -> std::io::Result<()> {
        let z = match &mut self.z {
            Some(z) => z,
            None => {
                let mut z = zstd::bulk::Compressor::new(LEVEL)?;
                z.set_parameter(zstd::stream::raw::CParameter::ChecksumFlag(true))?;
                self.z.insert(z)
            }
        };
        let (section, count) = match part {
            Part::Members => (&mut self.members, &mut self.count),
            Part::Carried => (&mut self.carried, &mut self.carried_count),
            Part::Deleted => (&mut self.deleted, &mut self.deleted_count),
        };
        let n = section.flush(z, &mut self.out)?;
        if part != Part::Members {
            *count += n;
        }
        Ok(())
    }

    /// The whole skippable frame; `end` is the uncompressed offset where the
    /// last entry ends (the end-of-archive marker).
    ///
    /// # Errors
    /// A zstd failure.
    pub fn finish_at(mut self, end: u64) -> std::io::Result<Vec<u8>> {
        if let Some((p, predicted)) = self.prev {
            self.members.blocks((end - p) / 512, predicted);
        }
        for part in [Part::Members, Part::Carried, Part::Deleted] {
            self.flush(part)?;
        }
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut head = Vec::new();
        let flags = self.chain.map_or(0, |c| 1 | (u64::from(c.increment) << 1));
        put_var(&mut head, flags);
        put_var(&mut head, self.count);
        if self.count > 0 {
            put_var(&mut head, self.first_pos);
        }
        if let Some(c) = self.chain {
            put_var(&mut head, zigzag(c.time.sec));
            put_var(&mut head, u64::from(c.time.nsec));
            put_var(&mut head, self.carried_count);
            put_var(&mut head, self.deleted_count);
        }
        let payload = TAG.len() + 2 + head.len() + self.out.len();
        let len = u32::try_from(payload)
            .map_err(|_| std::io::Error::other("the entry index is larger than 4 GiB"))?;
        let mut frame = Vec::with_capacity(payload + 8);
        frame.extend_from_slice(&INDEX_MAGIC.to_le_bytes());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(TAG);
        frame.extend_from_slice(&VERSION.to_le_bytes());
        frame.extend_from_slice(&head);
        frame.extend_from_slice(&self.out);
        Ok(frame)
    }
}

/// A cursor over a body (owned, or borrowed to read a part of it again).
/// Positions are checked, so no input can make it read out of bounds.
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
    /// Device numbers, present for a device only (else 0, 0).
    pub(super) fn devices(&mut self, kind: Kind) -> Result<(u32, u32), String> {
        if !kind.is_device() {
            return Ok((0, 0));
        }
        let max = u64::from(u32::MAX);
        Ok((
            self.small(max, "device major")? as u32,
            self.small(max, "device minor")? as u32,
        ))
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

/// Where each entry starts: positions checked against the data frames'
/// decompressed sizes, turned into (frame, offset).
struct Places {
    sizes: Vec<u32>,
    total: u64,
    pos: u64,
    frame: usize,
    frame_start: u64,
}

impl Places {
    fn new(sizes: &[u32]) -> Places {
        Places {
            sizes: sizes.to_vec(),
            total: sizes.iter().map(|&s| u64::from(s)).sum(),
            pos: 0,
            frame: 0,
            frame_start: 0,
        }
    }

    fn rewind(&mut self, first: u64) {
        (self.pos, self.frame, self.frame_start) = (first, 0, 0);
    }

    /// The next entry starts `blocks` blocks later.
    fn advance(&mut self, blocks: u64) -> Result<(), String> {
        self.pos = blocks
            .checked_mul(512)
            .and_then(|d| self.pos.checked_add(d))
            .ok_or("index position overflows")?;
        Ok(())
    }

    /// Where entry `i` starts: the current position, which must be in the
    /// data.
    fn place(&mut self, i: u64) -> Result<Place, String> {
        let pos = self.pos;
        if !pos.is_multiple_of(512) || pos >= self.total {
            return Err(format!(
                "index entry {i} starts at {pos}, outside the {} bytes of data",
                self.total
            ));
        }
        while self.frame_start + u64::from(self.sizes[self.frame]) <= pos {
            self.frame_start += u64::from(self.sizes[self.frame]);
            self.frame += 1;
        }
        // Frames hold whole blocks: with a frame size that is not a
        // multiple of 512, a header would start inside a block.
        if !(pos - self.frame_start).is_multiple_of(512) {
            return Err(format!(
                "index entry {i} starts inside a block of data frame {}",
                self.frame
            ));
        }
        Ok(Place {
            frame: self.frame as u32,
            offset: (pos - self.frame_start) as u32,
        })
    }

    /// The last entry takes `blocks` blocks, which must end in the data.
    fn end(&mut self, blocks: u64) -> Result<(), String> {
        self.advance(blocks)?;
        if self.pos > self.total {
            return Err(format!(
                "index runs to {}, past the {} bytes of data",
                self.pos, self.total
            ));
        }
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

/// Decodes an index one entry at a time into a caller's [`Entry`], reusing
/// its allocations: listing a large index allocates nothing per entry.
///
/// [`IndexReader::new`] checks the whole index first (decoding every entry
/// once), so an index that is malformed or inconsistent anywhere is refused
/// before any entry is used.
pub struct IndexReader(Version);

enum Version {
    /// Versions 1 and 2: the whole body decompressed.
    Rows(Box<rows::RowsReader>),
    /// Version 3: a chunk decompressed at a time.
    Chunks(Box<ChunksReader>),
}

impl IndexReader {
    /// Parse an index payload (after the 8-byte skippable header), checking
    /// all of it against the data frames' decompressed sizes.
    ///
    /// # Errors
    /// Anything malformed or inconsistent, described.
    pub fn new(payload: &[u8], frame_sizes: &[u32]) -> Result<IndexReader, String> {
        if payload.len() < TAG.len() + 2 || &payload[..TAG.len()] != TAG {
            return Err("not an alientar index".into());
        }
        let version = u16::from_le_bytes([payload[TAG.len()], payload[TAG.len() + 1]]);
        let body = &payload[TAG.len() + 2..];
        Ok(IndexReader(match version {
            1 | CHAIN_VERSION => {
                Version::Rows(Box::new(rows::RowsReader::new(version, body, frame_sizes)?))
            }
            VERSION => Version::Chunks(Box::new(ChunksReader::new(body, frame_sizes)?)),
            v => return Err(format!("index version {v} is not supported")),
        }))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        (match &self.0 {
            Version::Rows(r) => r.len(),
            Version::Chunks(r) => r.count,
        }) as usize
    }

    /// True when the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the last member decoded is to its increment.
    pub fn change(&self) -> Change {
        match &self.0 {
            Version::Rows(r) => r.change(),
            Version::Chunks(r) => r.change,
        }
    }

    /// What the archive says of itself when it belongs to an incremental
    /// chain.
    pub fn chain(&self) -> Option<ChainInfo> {
        match &self.0 {
            Version::Rows(r) => r.chain(),
            Version::Chunks(r) => r.head.chain,
        }
    }

    /// Each entry the archive carries (leaves as an earlier archive of
    /// its chain stored it), in archive order, into `f`.
    pub fn each_carried(&self, f: &mut dyn FnMut(&Entry)) {
        match &self.0 {
            Version::Rows(r) => r.each_carried(f),
            Version::Chunks(r) => {
                let mut e = Entry::new(Vec::new(), Kind::File);
                // (Checked whole when made: decoding again cannot fail.)
                let _ = r.walk(Part::Carried, &mut |s| {
                    s.entry(&mut e, false)?;
                    f(&e);
                    Ok(())
                });
            }
        }
    }

    /// The names the archive deletes, in the order they are deleted.
    pub fn deleted(&self) -> Vec<Vec<u8>> {
        match &self.0 {
            Version::Rows(r) => r.deleted(),
            Version::Chunks(r) => {
                let mut out = Vec::with_capacity(r.head.deleted.min(1 << 16) as usize);
                let _ = r.walk(Part::Deleted, &mut |s| {
                    let mut p = Vec::new();
                    s.path(&mut p)?;
                    out.push(p);
                    Ok(())
                });
                out
            }
        }
    }

    /// Back to the first entry.
    pub fn rewind(&mut self) {
        match &mut self.0 {
            Version::Rows(r) => r.rewind(),
            Version::Chunks(r) => r.rewind(),
        }
    }

    /// Decode the next entry into `e` (every field is set, reusing `e`'s
    /// allocations). Returns where its first header block is, or `None`
    /// after the last entry.
    ///
    /// # Errors
    /// Malformed or inconsistent data (never after [`IndexReader::new`]
    /// accepted the index).
    pub fn next_into(&mut self, e: &mut Entry) -> Result<Option<Place>, String> {
        match &mut self.0 {
            Version::Rows(r) => r.next_into(e),
            Version::Chunks(r) => r.next_into(e),
        }
    }

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

/// A version 3 index's head.
struct Head {
    count: u64,
    first_pos: u64,
    chain: Option<ChainInfo>,
    carried: u64,
    deleted: u64,
}

impl Head {
    /// Read the head; `total` bytes of data bound the member count.
    fn read(c: &mut Cur<&[u8]>, total: u64) -> Result<Head, String> {
        let flags = c.small(3, "flags")?;
        if flags == 2 {
            return Err("index of an increment outside a chain".into());
        }
        let count = c.small(total / 512, "entry count")?;
        let first_pos = if count > 0 { c.var()? } else { 0 };
        let mut head = Head {
            count,
            first_pos,
            chain: None,
            carried: 0,
            deleted: 0,
        };
        if flags & 1 != 0 {
            let sec = unzigzag(c.var()?);
            let nsec = c.small(999_999_999, "nanoseconds")? as u32;
            head.chain = Some(ChainInfo {
                increment: flags & 2 != 0,
                time: Time { sec, nsec },
            });
            head.carried = c.small(MAX_BODY, "carried count")?;
            head.deleted = c.small(MAX_BODY, "deleted count")?;
        }
        Ok(head)
    }
}

/// Decodes a version 3 index: the payload kept compressed, one members'
/// chunk decompressed at a time.
struct ChunksReader {
    payload: Vec<u8>,
    /// Where the chunks start in the payload.
    start: usize,
    head: Head,
    members: SectionReader,
    places: Places,
    count: u64,
    /// Members decoded so far.
    done: u64,
    /// The last member's change code.
    change: Change,
}

impl ChunksReader {
    fn new(body: &[u8], frame_sizes: &[u32]) -> Result<ChunksReader, String> {
        let places = Places::new(frame_sizes);
        let mut c = Cur { b: body, i: 0 };
        let head = Head::read(&mut c, places.total)?;
        let start = c.i;
        check_chunks(body, start, head.chain.is_some())?;
        let mut r = ChunksReader {
            payload: body.to_vec(),
            start,
            count: head.count,
            head,
            members: SectionReader::new(Part::Members, start),
            places,
            done: 0,
            change: Change::Plain,
        };
        r.rewind();
        r.check_whole()?;
        r.rewind();
        Ok(r)
    }

    /// Decode every entry of every section once.
    fn check_whole(&mut self) -> Result<(), String> {
        let mut e = Entry::new(Vec::new(), Kind::File);
        while self.next_into(&mut e)?.is_some() {}
        if self.places.pos > self.places.total {
            return Err(format!(
                "index runs to {}, past the {} bytes of data",
                self.places.pos, self.places.total
            ));
        }
        if self.members.ready(&self.payload)? {
            return Err("index has more members than it says".into());
        }
        let carried = self.walk(Part::Carried, &mut |s| s.entry(&mut e, false))?;
        let mut p = Vec::new();
        let deleted = self.walk(Part::Deleted, &mut |s| s.path(&mut p))?;
        if (carried, deleted) != (self.head.carried, self.head.deleted) {
            return Err("index section counts differ from its head".into());
        }
        Ok(())
    }

    /// Run `f` on each entry of a section; returns how many there are.
    fn walk(
        &self,
        part: Part,
        f: &mut dyn FnMut(&mut SectionReader) -> Result<(), String>,
    ) -> Result<u64, String> {
        let mut s = SectionReader::new(part, self.start);
        let mut n = 0;
        while s.ready(&self.payload)? {
            f(&mut s)?;
            s.done_entry()?;
            n += 1;
        }
        Ok(n)
    }

    fn rewind(&mut self) {
        self.members.rewind(self.start);
        self.places.rewind(self.head.first_pos);
        self.done = 0;
    }

    fn next_into(&mut self, e: &mut Entry) -> Result<Option<Place>, String> {
        if self.done == self.count {
            return Ok(None);
        }
        if !self.members.ready(&self.payload)? {
            return Err("index has fewer members than it says".into());
        }
        let place = self.places.place(self.done)?;
        self.members.entry(e, true)?;
        let blocks = self.members.blocks(predicted_blocks(e))?;
        self.places.advance(blocks)?;
        if self.head.chain.is_some() {
            self.change = self.members.change()?;
        }
        self.members.done_entry()?;
        self.done += 1;
        Ok(Some(place))
    }
}

/// Check the chunks' framing from `at` to the payload's end: known
/// sections (carried entries and deleted names only in a chain's index),
/// each chunk within [`columns::MAX_CHUNK`], all within [`MAX_BODY`].
fn check_chunks(payload: &[u8], mut at: usize, chain: bool) -> Result<(), String> {
    let mut body = 0u64;
    while at < payload.len() {
        let (part, frame, next) = columns::chunk_at(payload, at)?;
        if part != Part::Members && !chain {
            return Err("index has a chain's section but no chain".into());
        }
        let size = zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten()
            .ok_or("index chunk has no content size")?;
        if size > columns::MAX_CHUNK {
            return Err(format!(
                "index chunk of {size} bytes is larger than allowed"
            ));
        }
        body += size;
        if body > MAX_BODY {
            return Err(format!(
                "index chunks hold more than {} MiB",
                MAX_BODY >> 20
            ));
        }
        at = next;
    }
    Ok(())
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
mod tests;
