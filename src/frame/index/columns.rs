//! Index version 3's chunks: a section's entries (members, carried entries
//! or deleted names) in runs of about [`CHUNK_TARGET`] bytes, each field of
//! a run stored together (a *column*) and each run compressed as a zstd
//! frame of its own (docs/format.md §3.3).
//!
//! Why columns: in a tree of tiny files the index costs as much as the
//! headers it describes, and zstd models a run of like values (sizes,
//! modes, path suffixes) far better than the same values interleaved; the
//! fields that merely repeat what the tar stream implies (a header's
//! blocks, the previous entry's owner names, absent nanoseconds) cost
//! next to nothing once predicted. Why chunks: the writer holds one chunk
//! uncompressed, not the whole index, and a reader decompresses one at a
//! time.

use super::super::chain::Change;
use super::{MAX_EXPANDED, MAX_LABEL, decode_xattrs, kind_code, kind_of, put_bytes, put_opt};
use super::{put_var, put_xattrs, unzigzag, zigzag};
use crate::entry::{Entry, Time};

/// A chunk is closed before an entry is added once its columns hold this
/// many bytes (a chunk holds up to one entry more).
pub(super) const CHUNK_TARGET: usize = 1 << 20;
/// Largest chunk (decompressed) a reader accepts: [`CHUNK_TARGET`] and
/// room for one entry (paths and link targets up to 64 KiB, xattr names and
/// ACLs).
pub(super) const MAX_CHUNK: u64 = 4 << 20;
/// Most bytes of labels a section's table may hold.
const MAX_LABEL_BYTES: usize = 1 << 20;

/// The section a chunk belongs to (its first byte).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Part {
    Members = 0,
    Carried = 1,
    Deleted = 2,
}

impl Part {
    pub(super) fn of(b: u8) -> Option<Part> {
        [Part::Members, Part::Carried, Part::Deleted]
            .get(usize::from(b))
            .copied()
    }
}

/// The columns of a chunk, in the order they are stored.
const FLAGS: usize = 0;
const SHARED: usize = 1;
const SUFFIX_LEN: usize = 2;
const SUFFIX: usize = 3;
const MODE: usize = 4;
const UID: usize = 5;
const GID: usize = 6;
const SIZE: usize = 7;
const MTIME: usize = 8;
const NSEC: usize = 9;
const NAMES: usize = 10;
const LINK: usize = 11;
const DEVICE: usize = 12;
const LABEL: usize = 13;
const LABELS: usize = 14;
const XATTRS: usize = 15;
const BLOCKS: usize = 16;
const CHANGE: usize = 17;
pub(super) const COLUMNS: usize = 18;

/// Flag bits: the kind in bits 0–2, then what the entry has or changes.
const KIND: u64 = 7;
const F_NSEC: u64 = 1 << 3;
const F_LINK: u64 = 1 << 4;
const F_XATTRS: u64 = 1 << 5;
const F_UNAME: u64 = 1 << 6;
const F_GNAME: u64 = 1 << 7;
const F_LABEL: u64 = 1 << 8;
/// Flags a carried entry may have (it has no time or names).
const CARRIED_FLAGS: u64 = KIND | F_LINK | F_XATTRS | F_LABEL;
const MEMBER_FLAGS: u64 = (1 << 9) - 1;

/// Header and data blocks a member takes when it has no extended header:
/// what the blocks column's values are the difference from.
pub(super) fn predicted_blocks(e: &Entry) -> u64 {
    match e.kind {
        crate::entry::Kind::File => 1 + e.size.div_ceil(512),
        _ => 1,
    }
}

/// One section's chunk being filled, and what its next entries are coded
/// against.
pub(super) struct Section {
    part: Part,
    cols: [Vec<u8>; COLUMNS],
    /// Entries in the chunk.
    n: u64,
    prev_path: Vec<u8>,
    prev_sec: i64,
    uname: Option<Vec<u8>>,
    gname: Option<Vec<u8>>,
    label: u64,
    /// The section's label table (labels defined in earlier chunks stay).
    labels: Vec<String>,
}

impl Section {
    pub(super) fn new(part: Part) -> Section {
        Section {
            part,
            cols: Default::default(),
            n: 0,
            prev_path: Vec::new(),
            prev_sec: 0,
            uname: None,
            gname: None,
            label: 0,
            labels: Vec::new(),
        }
    }

    /// Bytes of the chunk's columns.
    pub(super) fn raw_len(&self) -> usize {
        self.cols.iter().map(Vec::len).sum()
    }

    /// The chunk is full: the next entry goes in a new one.
    pub(super) fn full(&self) -> bool {
        self.raw_len() >= CHUNK_TARGET
    }

    /// Append `path`, front-coded against the chunk's previous path.
    pub(super) fn path(&mut self, path: &[u8]) {
        let shared = path
            .iter()
            .zip(&self.prev_path)
            .take_while(|(a, b)| a == b)
            .count();
        put_var(&mut self.cols[SHARED], shared as u64);
        put_var(&mut self.cols[SUFFIX_LEN], (path.len() - shared) as u64);
        self.cols[SUFFIX].extend_from_slice(&path[shared..]);
        self.prev_path.truncate(shared);
        self.prev_path.extend_from_slice(&path[shared..]);
        self.n += 1;
    }

    /// A member (`change` given in a chain's index) or, without `member`, a
    /// carried entry: everything but its place.
    pub(super) fn entry(&mut self, e: &Entry, member: bool, change: Option<Change>) {
        self.path(&e.path);
        let mut flags = u64::from(kind_code(e.kind));
        let c = &mut self.cols;
        put_var(&mut c[MODE], u64::from(e.mode));
        put_var(&mut c[UID], e.uid);
        put_var(&mut c[GID], e.gid);
        if member {
            put_var(&mut c[SIZE], e.size);
            put_var(
                &mut c[MTIME],
                zigzag(e.mtime.sec.wrapping_sub(self.prev_sec)),
            );
            self.prev_sec = e.mtime.sec;
            if e.mtime.nsec != 0 {
                flags |= F_NSEC;
                put_var(&mut c[NSEC], u64::from(e.mtime.nsec));
            }
            for (v, prev, bit) in [
                (&e.uname, &mut self.uname, F_UNAME),
                (&e.gname, &mut self.gname, F_GNAME),
            ] {
                if v != prev {
                    flags |= bit;
                    put_opt(&mut c[NAMES], v.as_deref());
                    prev.clone_from(v);
                }
            }
        }
        if let Some(l) = &e.link {
            flags |= F_LINK;
            put_bytes(&mut c[LINK], l);
        }
        if e.kind.is_device() {
            put_var(&mut c[DEVICE], u64::from(e.dev_major));
            put_var(&mut c[DEVICE], u64::from(e.dev_minor));
        }
        if !e.xattrs.is_empty() {
            flags |= F_XATTRS;
            put_xattrs(&mut c[XATTRS], &e.xattrs);
        }
        let label = self.label_ref(&e.label);
        if label != self.label {
            flags |= F_LABEL;
            put_var(&mut self.cols[LABEL], label);
            self.label = label;
        }
        if let Some(ch) = change {
            self.cols[CHANGE].push(ch.code());
        }
        put_var(&mut self.cols[FLAGS], flags);
    }

    /// The last member's blocks (see [`predicted_blocks`]).
    pub(super) fn blocks(&mut self, blocks: u64, predicted: u64) {
        let d = (blocks as i64).wrapping_sub(predicted as i64);
        put_var(&mut self.cols[BLOCKS], zigzag(d));
    }

    /// 0 for none, else 1 + the label's place in the table, adding it (to
    /// the table and to this chunk's new labels) when new.
    fn label_ref(&mut self, label: &Option<String>) -> u64 {
        let Some(l) = label else { return 0 };
        if let Some(i) = self.labels.iter().position(|x| x == l) {
            return i as u64 + 1;
        }
        self.labels.push(l.clone());
        put_bytes(&mut self.cols[LABELS], l.as_bytes());
        self.labels.len() as u64
    }

    /// Append the chunk, compressed, to `out` (nothing when it is empty) and
    /// start the next. Returns the chunk's entries.
    pub(super) fn flush(
        &mut self,
        z: &mut zstd::bulk::Compressor<'static>,
        out: &mut Vec<u8>,
    ) -> std::io::Result<u64> {
        let n = self.n;
        if n == 0 {
            return Ok(0);
        }
        let mut body = Vec::with_capacity(self.raw_len() + 64);
        put_var(&mut body, n);
        for c in &self.cols {
            put_var(&mut body, c.len() as u64);
        }
        for c in &mut self.cols {
            body.extend_from_slice(c);
            c.clear();
        }
        let frame = z.compress(&body)?;
        out.push(self.part as u8);
        put_var(out, frame.len() as u64);
        out.extend_from_slice(&frame);
        self.n = 0;
        self.prev_path.clear();
        self.prev_sec = 0;
        (self.uname, self.gname, self.label) = (None, None, 0);
        Ok(n)
    }
}

/// A column's unread bytes in a decompressed chunk.
#[derive(Copy, Clone, Default)]
struct Col {
    at: usize,
    end: usize,
}

impl Col {
    fn var(&mut self, b: &[u8]) -> Result<u64, String> {
        // Most values are one byte.
        if self.at < self.end && b[self.at] < 0x80 {
            self.at += 1;
            return Ok(u64::from(b[self.at - 1]));
        }
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            if self.at == self.end {
                return Err("index chunk ends inside a number".into());
            }
            let x = b[self.at];
            self.at += 1;
            v |= u64::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("index number is too long".into())
    }

    fn small(&mut self, b: &[u8], max: u64, what: &str) -> Result<u64, String> {
        let v = self.var(b)?;
        if v > max {
            return Err(format!("index {what} {v} is out of range"));
        }
        Ok(v)
    }

    fn take<'b>(&mut self, b: &'b [u8], n: u64) -> Result<&'b [u8], String> {
        if n > (self.end - self.at) as u64 {
            return Err("index chunk ends inside a field".into());
        }
        let s = &b[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(s)
    }
}

/// The decoding state of one section: its current chunk, decompressed,
/// with a cursor per column, and what entries are coded against.
pub(super) struct SectionReader {
    part: Part,
    /// Where the next chunk (of any section) starts in the payload.
    next: usize,
    buf: Vec<u8>,
    cols: [Col; COLUMNS],
    /// Entries left in the current chunk.
    left: u64,
    prev: Vec<u8>,
    sec: i64,
    uname: Option<Vec<u8>>,
    gname: Option<Vec<u8>>,
    label: usize,
    labels: Vec<String>,
    label_bytes: usize,
    /// Path and label bytes decoded (see [`MAX_EXPANDED`]).
    expanded: u64,
    d: Option<zstd::bulk::Decompressor<'static>>,
}

/// The chunk at `at` in `payload`: (its section, its zstd frame, where the
/// next chunk starts). Only the framing is checked.
pub(super) fn chunk_at(payload: &[u8], at: usize) -> Result<(Part, &[u8], usize), String> {
    let part = Part::of(payload[at]).ok_or("index chunk of an unknown section")?;
    let mut c = super::Cur {
        b: payload,
        i: at + 1,
    };
    let len = c.var()?;
    let start = c.i;
    c.take(len)?;
    Ok((part, &payload[start..c.i], c.i))
}

impl SectionReader {
    /// A reader of `part`'s chunks in the payload, from the first at `start`.
    pub(super) fn new(part: Part, start: usize) -> SectionReader {
        SectionReader {
            part,
            next: start,
            buf: Vec::new(),
            cols: [Col::default(); COLUMNS],
            left: 0,
            prev: Vec::new(),
            sec: 0,
            uname: None,
            gname: None,
            label: 0,
            labels: Vec::new(),
            label_bytes: 0,
            expanded: 0,
            d: None,
        }
    }

    /// Back to the section's first entry, whose chunk is after `start`.
    pub(super) fn rewind(&mut self, start: usize) {
        self.next = start;
        self.left = 0;
        self.labels.clear();
        self.label_bytes = 0;
        self.expanded = 0;
    }

    /// Make an entry of the section the next to decode: false when the
    /// section has no more (its last chunk was decoded whole).
    pub(super) fn ready(&mut self, payload: &[u8]) -> Result<bool, String> {
        if self.left > 0 {
            return Ok(true);
        }
        while self.next < payload.len() {
            let (part, frame, next) = chunk_at(payload, self.next)?;
            self.next = next;
            if part == self.part {
                self.load(frame)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Decompress a chunk (checked: one frame, of its announced size within
    /// [`MAX_CHUNK`]) and find its columns.
    fn load(&mut self, frame: &[u8]) -> Result<(), String> {
        let size = zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten()
            .ok_or("index chunk has no content size")?;
        if size > MAX_CHUNK {
            return Err(format!(
                "index chunk of {size} bytes is larger than allowed"
            ));
        }
        if zstd::zstd_safe::find_frame_compressed_size(frame) != Ok(frame.len()) {
            return Err("index chunk is not one zstd frame".into());
        }
        self.buf.clear();
        self.buf.reserve(size as usize);
        let d = match &mut self.d {
            Some(d) => d,
            None => self
                .d
                .insert(zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?),
        };
        let n = d
            .decompress_to_buffer(frame, &mut self.buf)
            .map_err(|e| format!("index chunk does not decompress: {e}"))?;
        if n as u64 != size {
            return Err("index chunk is shorter than it says".into());
        }
        self.columns()?;
        self.prev.clear();
        self.sec = 0;
        (self.uname, self.gname, self.label) = (None, None, 0);
        self.new_labels()
    }

    /// The entry count and the columns' extents, from the chunk's head.
    fn columns(&mut self) -> Result<(), String> {
        let mut head = Col {
            at: 0,
            end: self.buf.len(),
        };
        let b = &self.buf;
        self.left = head.var(b)?;
        if self.left == 0 {
            return Err("index chunk holds no entry".into());
        }
        let mut lens = [0u64; COLUMNS];
        for l in &mut lens {
            *l = head.var(b)?;
        }
        let mut at = head.at;
        for (c, &len) in self.cols.iter_mut().zip(&lens) {
            if len > (b.len() - at) as u64 {
                return Err("index chunk's columns overrun it".into());
            }
            *c = Col {
                at,
                end: at + len as usize,
            };
            at = c.end;
        }
        if at != b.len() {
            return Err("index chunk has bytes past its columns".into());
        }
        Ok(())
    }

    /// The labels the chunk adds to the section's table.
    fn new_labels(&mut self) -> Result<(), String> {
        let c = &mut self.cols[LABELS];
        while c.at < c.end {
            let n = c.var(&self.buf)?;
            let l = c.take(&self.buf, n)?;
            if l.is_empty() || l.len() > MAX_LABEL {
                return Err(format!("index label of {} bytes", l.len()));
            }
            self.label_bytes += l.len();
            if self.label_bytes > MAX_LABEL_BYTES {
                return Err("index labels exceed their limit".into());
            }
            self.labels.push(String::from_utf8_lossy(l).into_owned());
        }
        Ok(())
    }

    /// Decode the next entry's path into `path`.
    pub(super) fn path(&mut self, path: &mut Vec<u8>) -> Result<(), String> {
        let b = &self.buf;
        let shared = self.cols[SHARED].small(b, self.prev.len() as u64, "shared path length")?;
        let n = self.cols[SUFFIX_LEN].var(b)?;
        self.prev.truncate(shared as usize);
        self.prev.extend_from_slice(self.cols[SUFFIX].take(b, n)?);
        path.clone_from(&self.prev);
        self.expanded += path.len() as u64;
        self.limit()
    }

    fn limit(&self) -> Result<(), String> {
        if self.expanded > MAX_EXPANDED {
            return Err(format!(
                "index expands to more than {} MiB of paths and labels",
                MAX_EXPANDED >> 20
            ));
        }
        Ok(())
    }

    /// Decode the next member (or, without `member`, carried entry) into
    /// `e`, every field but its place and change set.
    pub(super) fn entry(&mut self, e: &mut Entry, member: bool) -> Result<(), String> {
        self.path(&mut e.path)?;
        let b = &self.buf;
        let c = &mut self.cols;
        let allowed = if member { MEMBER_FLAGS } else { CARRIED_FLAGS };
        let flags = c[FLAGS].small(b, allowed, "entry flags")?;
        if flags & !allowed != 0 {
            return Err(format!("index entry flags {flags:#x} are invalid"));
        }
        e.kind = kind_of((flags & KIND) as u8)?;
        e.mode = c[MODE].small(b, 0o7777, "mode")? as u32;
        e.uid = c[UID].var(b)?;
        e.gid = c[GID].var(b)?;
        if member {
            self.member_fields(e, flags)?;
        } else {
            (e.size, e.mtime, e.uname, e.gname) = (0, Time::default(), None, None);
        }
        self.rest(e, flags)
    }

    /// Size, time and owner names.
    fn member_fields(&mut self, e: &mut Entry, flags: u64) -> Result<(), String> {
        let b = &self.buf;
        let c = &mut self.cols;
        e.size = c[SIZE].var(b)?;
        self.sec = self.sec.wrapping_add(unzigzag(c[MTIME].var(b)?));
        let nsec = if flags & F_NSEC != 0 {
            c[NSEC].small(b, 999_999_999, "nanoseconds")? as u32
        } else {
            0
        };
        e.mtime = Time {
            sec: self.sec,
            nsec,
        };
        for (bit, name) in [(F_UNAME, &mut self.uname), (F_GNAME, &mut self.gname)] {
            if flags & bit != 0 {
                match c[NAMES].var(b)? {
                    0 => *name = None,
                    n => {
                        let s = c[NAMES].take(b, n - 1)?;
                        let v = name.get_or_insert_with(Vec::new);
                        v.clear();
                        v.extend_from_slice(s);
                    }
                }
            }
        }
        e.uname.clone_from(&self.uname);
        e.gname.clone_from(&self.gname);
        Ok(())
    }

    /// Link, device numbers, xattrs and label.
    fn rest(&mut self, e: &mut Entry, flags: u64) -> Result<(), String> {
        let b = &self.buf;
        let c = &mut self.cols;
        if flags & F_LINK != 0 {
            let n = c[LINK].var(b)?;
            let l = c[LINK].take(b, n)?;
            let v = e.link.get_or_insert_with(Vec::new);
            v.clear();
            v.extend_from_slice(l);
        } else {
            e.link = None;
        }
        (e.dev_major, e.dev_minor) = if e.kind.is_device() {
            let max = u64::from(u32::MAX);
            (
                c[DEVICE].small(b, max, "device major")? as u32,
                c[DEVICE].small(b, max, "device minor")? as u32,
            )
        } else {
            (0, 0)
        };
        e.xattrs.clear();
        if flags & F_XATTRS != 0 {
            let x = c[XATTRS];
            let mut cur = super::Cur {
                b: &b[..x.end],
                i: x.at,
            };
            decode_xattrs(&mut cur, e)?;
            c[XATTRS].at = cur.i;
        }
        if flags & F_LABEL != 0 {
            self.label = c[LABEL].small(b, self.labels.len() as u64, "label")? as usize;
        }
        self.set_label(e)
    }

    fn set_label(&mut self, e: &mut Entry) -> Result<(), String> {
        match self.label.checked_sub(1).map(|i| &self.labels[i]) {
            None => e.label = None,
            Some(l) => {
                match &mut e.label {
                    Some(s) => s.clone_from(l),
                    None => e.label = Some(l.clone()),
                }
                self.expanded += l.len() as u64;
            }
        }
        self.limit()
    }

    /// The last member's blocks, from the blocks column and its prediction.
    pub(super) fn blocks(&mut self, predicted: u64) -> Result<u64, String> {
        let d = unzigzag(self.cols[BLOCKS].var(&self.buf)?);
        (predicted as i64)
            .checked_add(d)
            .filter(|&b| b >= 1)
            .map(|b| b as u64)
            .ok_or_else(|| "index entry takes no block".to_string())
    }

    /// The last member's change code (an index of a chain).
    pub(super) fn change(&mut self) -> Result<Change, String> {
        let v = self.cols[CHANGE].small(&self.buf, 2, "member change")?;
        Ok(Change::of_code(v as u8))
    }

    /// An entry was decoded: when it was the chunk's last, every column
    /// must have been read to its end.
    pub(super) fn done_entry(&mut self) -> Result<(), String> {
        self.left -= 1;
        if self.left == 0 && self.cols.iter().any(|c| c.at != c.end) {
            return Err("index chunk has trailing bytes".into());
        }
        Ok(())
    }
}
