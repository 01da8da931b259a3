//! The tar reader: blocks → [`Entry`] values plus their data.
//!
//! Meta entries (pax `x`/`g`, GNU `L`/`K`, volume labels) are consumed here
//! and never returned. Errors are sticky: after one, every call returns it.
//! No number read from the archive sizes an allocation unchecked: meta
//! entries are capped at [`MAX_META`], names at [`MAX_NAME`], sparse maps at
//! [`MAX_SPARSE_ENTRIES`].

use std::io::{self, Read};

use super::Lend;
use super::globals::Globals;
use super::header::{self, BLOCK, Dialect, RawHeader};
use super::sparse::{self, Sparse, SparseRecords};
use super::{keys, pax};
use crate::entry::{Entry, Kind, Time};
use crate::error::{Error, Result};

/// Largest pax header or GNU long name/link we read into memory.
pub const MAX_META: u64 = 16 << 20;
/// Largest member name or link target.
pub const MAX_NAME: usize = 64 << 10;
/// Largest number of sparse-map entries for one file.
pub const MAX_SPARSE_ENTRIES: usize = 1 << 20;
/// Largest xattr value.
pub const MAX_XATTR: usize = 1 << 20;
/// Most extended attributes one member may carry.
pub const MAX_XATTRS: usize = 10_000;
/// Most distinct records the pax global headers of an archive may define.
pub const MAX_GLOBAL_RECORDS: usize = 4096;
/// Most bytes of global records that apply to every member (owners, time,
/// xattrs): each member gets a copy of them.
pub const MAX_GLOBAL_APPLIED: usize = 64 << 10;

/// Meta entries read before a member, applied to it.
#[derive(Default)]
struct Meta {
    /// The raw data of a pax extended header, its records checked.
    pax: Option<Vec<u8>>,
    /// A GNU long name (`L`).
    long_name: Option<Vec<u8>>,
    /// A GNU long link target (`K`).
    long_link: Option<Vec<u8>>,
}

impl Meta {
    /// Is a meta entry waiting for its member?
    fn pending(&self) -> bool {
        self.pax.is_some() || self.long_name.is_some() || self.long_link.is_some()
    }
}

/// A member as its header and pax records describe it, before its data
/// is set up. The path is in `e.path` from the start.
struct Draft {
    e: Entry,
    typeflag: u8,
    link: Vec<u8>,
    size: u64,
    sparse: SparseRecords,
}

/// Reads a tar stream entry by entry.
pub struct Reader<R> {
    r: R,
    offset: u64,
    remaining: u64,
    padding: u64,
    sparse: Option<Sparse>,
    err: Option<String>,
    done: bool,
    globals: Globals,
    header_offset: u64,
    current: Vec<u8>,
}

impl<R: Read> Reader<R> {
    /// A reader over an uncompressed tar stream.
    pub fn new(r: R) -> Self {
        Reader {
            r,
            offset: 0,
            remaining: 0,
            padding: 0,
            sparse: None,
            err: None,
            done: false,
            globals: Globals::default(),
            header_offset: 0,
            current: Vec::new(),
        }
    }

    /// The pax global records seen so far, in order (later ones override).
    pub fn globals(&self) -> &[(String, Vec<u8>)] {
        self.globals.records()
    }

    /// Read the archive as if its first global header declared `label` as
    /// the archive's label (`ALIENTAR.context`): an image's layers carry
    /// no global header, its config says the context.
    pub fn declare_label(&mut self, label: &str) {
        let mut rec = Vec::new();
        pax::push_record(&mut rec, keys::ALIENTAR_CONTEXT, label.as_bytes());
        // (One short record: within every limit.)
        let _ = self.globals.add(&rec);
    }

    /// The stream, positioned after what was read of it (after the first
    /// end-of-archive block when [`Reader::next_entry`] returned `None`).
    pub fn into_inner(self) -> R {
        self.r
    }

    /// Bytes of the uncompressed stream read so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Byte offset in the uncompressed stream where the current entry's
    /// first header (including its meta headers) starts.
    pub fn header_offset(&self) -> u64 {
        self.header_offset
    }

    fn fail(&mut self, msg: String) -> Error {
        let full = if self.current.is_empty() {
            format!("{msg} (at byte {})", self.header_offset)
        } else {
            format!(
                "{msg} (in member '{}', at byte {})",
                String::from_utf8_lossy(&self.current),
                self.header_offset
            )
        };
        self.err = Some(full.clone());
        Error::format(full)
    }

    fn sticky(&self) -> Result<()> {
        match &self.err {
            Some(m) => Err(Error::format(m.clone())),
            None => Ok(()),
        }
    }

    /// Read exactly `buf.len()` bytes; `Ok(false)` on a clean EOF before any byte.
    fn read_full(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => {
                    if n == 0 {
                        return Ok(false);
                    }
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "unexpected end of archive",
                    ));
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.offset += buf.len() as u64;
        Ok(true)
    }

    fn discard(&mut self, mut n: u64) -> io::Result<()> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            if !self.read_full(&mut buf[..k])? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "unexpected end of archive",
                ));
            }
            n -= k as u64;
        }
        Ok(())
    }

    fn io_fail(&mut self, what: &str, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.fail(format!(
                "archive is truncated: unexpected end of archive {what}"
            ))
        } else {
            self.fail(format!("read error {what}: {e}"))
        }
    }

    /// Read a meta entry's data (pax header, long name), capped.
    fn read_meta(&mut self, size: i64, what: &str) -> Result<Vec<u8>> {
        if size < 0 {
            return Err(self.fail(format!("{what} has a negative size ({size})")));
        }
        let size = size as u64;
        if size > MAX_META {
            return Err(self.fail(format!(
                "{what} of {size} bytes exceeds the {} MiB limit",
                MAX_META >> 20
            )));
        }
        let mut data = vec![0u8; size as usize];
        match self.read_full(&mut data) {
            Ok(true) => {}
            Ok(false) if size == 0 => {}
            Ok(false) => {
                return Err(self.fail(format!(
                    "archive is truncated: unexpected end of archive in {what}"
                )));
            }
            Err(e) => return Err(self.io_fail(&format!("in {what}"), e)),
        }
        let pad = padding(size);
        if let Err(e) = self.discard(pad) {
            return Err(self.io_fail(&format!("in {what}"), e));
        }
        Ok(data)
    }

    /// The next entry, or `None` at the end of the archive. Any unread data
    /// of the previous entry is skipped.
    ///
    /// # Errors
    /// A malformed or truncated archive; the error is sticky.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        self.sticky()?;
        if self.done {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut meta = Meta::default();
        let mut block = [0u8; BLOCK];
        loop {
            if !self.read_header_block(&mut block, meta.pending())? {
                self.done = true;
                return Ok(None);
            }
            let raw = self.decode_header(&block)?;
            if !self.read_meta_entry(&raw, &mut meta)? {
                return self.build(raw, meta).map(Some);
            }
        }
    }

    /// Skip what is left of the previous member's data.
    fn skip_rest(&mut self) -> Result<()> {
        let skip = self.remaining + self.padding;
        if skip > 0
            && let Err(e) = self.discard(skip)
        {
            return Err(self.io_fail("in member data", e));
        }
        self.remaining = 0;
        self.padding = 0;
        self.sparse = None;
        self.current.clear();
        self.header_offset = self.offset;
        Ok(())
    }

    /// Read the next header block; false at the end of the archive (the
    /// end of the stream or a zero block). `pending`: a meta entry waits
    /// for its member, so the end is an error.
    fn read_header_block(&mut self, block: &mut [u8; BLOCK], pending: bool) -> Result<bool> {
        match self.read_full(block) {
            Ok(true) => {}
            Ok(false) if pending => {
                return Err(
                    self.fail("archive ends after an extended header, before its member".into())
                );
            }
            Ok(false) => return Ok(false),
            Err(e) => return Err(self.io_fail("in a header", e)),
        }
        if block.iter().all(|&b| b == 0) {
            if pending {
                return Err(
                    self.fail("end-of-archive marker right after an extended header".into())
                );
            }
            return Ok(false);
        }
        Ok(true)
    }

    fn decode_header(&mut self, block: &[u8; BLOCK]) -> Result<RawHeader> {
        if !header::checksum_ok(block) {
            return Err(self.fail(
                "bad header checksum: this is not a tar archive, or it is corrupted".into(),
            ));
        }
        header::decode(block).map_err(|m| self.fail(format!("bad header: {m}")))
    }

    /// Consume a meta entry (pax header, GNU long name, ...) into `meta`;
    /// false when `raw` is a member's own header.
    fn read_meta_entry(&mut self, raw: &RawHeader, meta: &mut Meta) -> Result<bool> {
        match raw.typeflag {
            b'x' | b'X' => {
                let data = self.read_meta(raw.size, "pax extended header")?;
                if let Some(Err(m)) = pax::records(&data).find(|r| r.is_err()) {
                    return Err(self.fail(format!("bad pax extended header: {m}")));
                }
                meta.pax = Some(data);
            }
            b'g' => {
                let data = self.read_meta(raw.size, "pax global header")?;
                if let Err(m) = self.globals.add(&data) {
                    return Err(self.fail(m));
                }
            }
            b'L' => {
                let data = self.read_meta(raw.size, "GNU long name")?;
                meta.long_name = Some(header::cstr(&data).to_vec());
            }
            b'K' => {
                let data = self.read_meta(raw.size, "GNU long link name")?;
                meta.long_link = Some(header::cstr(&data).to_vec());
            }
            // A volume label: no member.
            b'V' => drop(self.read_meta(raw.size, "GNU volume label")?),
            // A Solaris ACL for the next member: not a member itself.
            b'A' => drop(self.read_meta(raw.size, "Solaris ACL header")?),
            b'M' => {
                return Err(
                    self.fail("GNU multi-volume continuation members are not supported".into())
                );
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The member `raw` starts, with its meta entries applied, and its data
    /// set up for reading.
    fn build(&mut self, mut raw: RawHeader, meta: Meta) -> Result<Entry> {
        let mut d = Draft::new(&mut raw, meta.long_name, meta.long_link);
        self.current = d.e.path.clone();
        if raw.size < 0 {
            return Err(self.fail(format!("negative size ({})", raw.size)));
        }
        if raw.typeflag == b'S' {
            let map = std::mem::take(&mut raw.gnu_sparse);
            d.sparse.map = Some(self.read_gnu_sparse_map(map, raw.gnu_extended)?);
            d.sparse.real = Some(raw.gnu_realsize);
        }
        self.apply_records(&mut d, meta.pax.as_deref())?;
        self.settle_sparse(&mut d)?;
        self.settle_names(&mut d)?;
        self.start_data(&mut d)?;
        Ok(d.e)
    }

    /// An old GNU sparse member's map: the header's entries, then those of
    /// the extension blocks after it.
    fn read_gnu_sparse_map(
        &mut self,
        mut map: Vec<(i64, i64)>,
        mut more: bool,
    ) -> Result<Vec<(i64, i64)>> {
        let mut block = [0u8; BLOCK];
        while more {
            self.read_block(
                &mut block,
                "archive is truncated in a GNU sparse header",
                "in a GNU sparse header",
            )?;
            let (m, next) = header::decode_sparse_ext(&block).map_err(|m| self.fail(m))?;
            map.extend(m);
            more = next;
            if map.len() > MAX_SPARSE_ENTRIES {
                return Err(self.fail(format!(
                    "sparse map has more than {MAX_SPARSE_ENTRIES} entries"
                )));
            }
        }
        Ok(map)
    }

    /// Read one block that must be there: the end of the stream is the
    /// error `truncated`; a read error is reported as `what`.
    fn read_block(&mut self, block: &mut [u8; BLOCK], truncated: &str, what: &str) -> Result<()> {
        match self.read_full(block) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.fail(truncated.into())),
            Err(e) => Err(self.io_fail(what, e)),
        }
    }

    /// Apply the global records that apply to members (at most
    /// [`MAX_GLOBAL_APPLIED`] bytes, usually none), then the member's own
    /// pax records (checked when read: `ok()` drops nothing).
    fn apply_records(&mut self, d: &mut Draft, pax: Option<&[u8]>) -> Result<()> {
        // Out of `self` while they are applied: errors need `&mut self`.
        let globals = std::mem::take(&mut self.globals.applied);
        let own = pax.map(pax::records).into_iter().flatten();
        let mut records = globals
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .chain(own.filter_map(|r| r.ok()));
        let done = records.try_for_each(|(k, v)| self.apply_record(d, k, v));
        self.globals.applied = globals;
        done
    }

    fn apply_record(&mut self, d: &mut Draft, k: &str, v: &[u8]) -> Result<()> {
        if k.contains('\0') {
            return Err(self.fail("pax record key contains a NUL byte".into()));
        }
        match k {
            keys::PATH => {
                d.e.path = self.name_record(v, "path")?;
                self.current = d.e.path.clone();
            }
            keys::LINKPATH => d.link = self.name_record(v, "linkpath")?,
            keys::SIZE => match pax::parse_u64(v) {
                Some(s) if s <= i64::MAX as u64 => d.size = s,
                _ => return Err(self.bad_record(k, v, "size")),
            },
            keys::UID => d.e.uid = pax::parse_u64(v).ok_or_else(|| self.bad_record(k, v, "uid"))?,
            keys::GID => d.e.gid = pax::parse_u64(v).ok_or_else(|| self.bad_record(k, v, "gid"))?,
            keys::UNAME => d.e.uname = Some(v.to_vec()),
            keys::GNAME => d.e.gname = Some(v.to_vec()),
            keys::MTIME => {
                d.e.mtime = pax::parse_time(v).ok_or_else(|| self.bad_record(k, v, "time"))?;
            }
            _ => {
                if !d.sparse.apply(k, v).map_err(|m| self.fail(m))? {
                    self.apply_xattr_record(&mut d.e, k, v)?;
                }
            }
        }
        Ok(())
    }

    /// A `path` or `linkpath` record's value.
    fn name_record(&mut self, v: &[u8], what: &str) -> Result<Vec<u8>> {
        if v.contains(&0) {
            return Err(self.fail(format!("pax {what} contains a NUL byte")));
        }
        Ok(v.to_vec())
    }

    fn bad_record(&mut self, k: &str, v: &[u8], what: &str) -> Error {
        self.fail(pax::invalid(k, v, what))
    }

    /// Apply an xattr record; other records are ignored. xattrs come as
    /// `SCHILY.xattr.NAME=raw` (GNU tar, star, bsdtar),
    /// `LIBARCHIVE.xattr.%-ENCODED-NAME=base64` (bsdtar) and
    /// `RHT.security.selinux=raw` (Red Hat's tar).
    fn apply_xattr_record(&mut self, e: &mut Entry, k: &str, v: &[u8]) -> Result<()> {
        let (name, value) = if let Some(name) = k.strip_prefix(keys::SCHILY_XATTR) {
            (name.to_owned(), v.to_vec())
        } else if let Some(enc) = k.strip_prefix(keys::LIBARCHIVE_XATTR) {
            match (pax::percent_decode(enc), pax::base64_decode(v)) {
                (Some(name), Some(value)) => (name, value),
                _ => return Err(self.bad_record(k, v, "LIBARCHIVE.xattr record")),
            }
        } else if k == keys::RHT_SELINUX {
            (keys::SELINUX_XATTR.to_owned(), v.to_vec())
        } else {
            return Ok(());
        };
        if value.len() > MAX_XATTR {
            return Err(self.fail(format!("xattr {name} is larger than {MAX_XATTR} bytes")));
        }
        if !e.add_archived_xattr(name, value, MAX_XATTRS) {
            return Err(self.fail(format!(
                "member has more than {MAX_XATTRS} extended attributes"
            )));
        }
        Ok(())
    }

    /// Pair GNU sparse 0.0 offsets with lengths, and give a sparse member
    /// its real name.
    fn settle_sparse(&mut self, d: &mut Draft) -> Result<()> {
        match d.sparse.settle() {
            Ok(Some(name)) => d.e.path = name,
            Ok(None) => {}
            Err(m) => return Err(self.fail(m)),
        }
        Ok(())
    }

    /// Check and normalise the name, link and size once every record is in.
    fn settle_names(&mut self, d: &mut Draft) -> Result<()> {
        let kind = d.e.kind;
        // Header-only types carry no data whatever the size field says.
        if matches!(
            kind,
            Kind::HardLink | Kind::Symlink | Kind::Char | Kind::Block | Kind::Fifo
        ) || (kind == Kind::Dir && d.typeflag != b'D')
        {
            d.size = 0;
        }
        let path = &mut d.e.path;
        if path.len() > MAX_NAME || d.link.len() > MAX_NAME {
            return Err(self.fail(format!(
                "member name or link target longer than {MAX_NAME} bytes"
            )));
        }
        while path.len() > 1 && path.ends_with(b"/") {
            path.pop();
        }
        if path == b"/" && kind != Kind::Dir {
            path.clear();
        }
        self.current = d.e.path.clone();
        if matches!(kind, Kind::Symlink | Kind::HardLink) {
            d.e.link = Some(std::mem::take(&mut d.link));
        }
        Ok(())
    }

    /// Set up the member's data for reading.
    fn start_data(&mut self, d: &mut Draft) -> Result<()> {
        self.remaining = d.size;
        self.padding = padding(d.size);
        if d.e.kind == Kind::Dir {
            // GNU dumpdir data is skipped, not returned: the directory has no size.
            self.padding += self.remaining;
            self.remaining = 0;
            d.e.size = 0;
            return Ok(());
        }
        d.e.size = d.size;
        let mut map = d.sparse.map.take();
        if d.sparse.map_in_data() {
            map = Some(self.read_sparse_v1_map()?);
        }
        if let Some(map) = map {
            let real = d.sparse.real.unwrap_or(d.size as i64);
            let sparse = sparse::segments(map, real, self.remaining).map_err(|m| self.fail(m))?;
            d.e.size = sparse.size;
            self.sparse = Some(sparse);
        }
        Ok(())
    }

    /// Parse a GNU sparse 1.0 map from the start of the member data; the
    /// blocks it takes are no longer part of the data.
    fn read_sparse_v1_map(&mut self) -> Result<Vec<(i64, i64)>> {
        let mut buf: Vec<u8> = Vec::new();
        let mut block = [0u8; BLOCK];
        let mut map = sparse::V1Map::default();
        while !map.complete() {
            match map.take_line(&buf) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(m) => return Err(self.fail(m)),
            }
            if buf.len() >= 1 << 20 || buf.len() as u64 + BLOCK as u64 > self.remaining {
                return Err(self.fail("GNU sparse 1.0 map is too long or not terminated".into()));
            }
            self.read_block(
                &mut block,
                "archive is truncated in a GNU sparse map",
                "in a GNU sparse map",
            )?;
            buf.extend_from_slice(&block);
        }
        let used = buf.len() as u64;
        if used > self.remaining {
            return Err(self.fail("GNU sparse 1.0 map is longer than the member".into()));
        }
        self.remaining -= used;
        Ok(map.pairs())
    }

    /// Read the current entry's data (sparse holes read as zeros).
    ///
    /// # Errors
    /// A truncated archive or a read error, naming the member.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.sticky()?;
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(mut sp) = self.sparse.take() {
            let r = self.read_sparse(&mut sp, buf);
            self.sparse = Some(sp);
            return r;
        }
        self.read_raw(buf)
    }

    /// As [`Reader::read_data`], but a hole of a sparse member is returned
    /// as its length instead of as zeros: a writer can seek over it (and
    /// set the file's length at the end), so a member of terabytes of holes
    /// costs no time and no disk.
    ///
    /// # Errors
    /// As [`Reader::read_data`].
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<Chunk> {
        self.sticky()?;
        if let Some(sp) = self.sparse.as_mut()
            && sp.pos < sp.size
        {
            let next_start = sp.next_start();
            if sp.pos < next_start {
                let hole = next_start - sp.pos;
                sp.pos = next_start;
                return Ok(Chunk::Hole(hole));
            }
        }
        self.read_data(buf).map(Chunk::Data)
    }

    /// Up to `n` bytes of the current member's data without copying them
    /// (fewer where the source's buffer ends), when the source lends them
    /// ([`Lend`]) and the member is not sparse; else `None`, and nothing
    /// is consumed.
    ///
    /// # Errors
    /// A truncated archive or a read error, as [`Reader::read_data`].
    pub fn borrow_data(&mut self, n: usize) -> Result<Option<R::Loan>>
    where
        R: Lend,
    {
        self.sticky()?;
        if self.sparse.is_some() || self.remaining == 0 {
            return Ok(None);
        }
        let want = (n as u64).min(self.remaining) as usize;
        match self.r.lend(want) {
            Ok(None) => Ok(None),
            Ok(Some(s)) if s.is_empty() => {
                Err(self
                    .fail("archive is truncated: unexpected end of archive in member data".into()))
            }
            Ok(Some(s)) => {
                self.remaining -= s.len() as u64;
                self.offset += s.len() as u64;
                Ok(Some(s))
            }
            Err(e) => Err(self.io_fail("in member data", e)),
        }
    }

    fn read_raw(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.remaining) as usize;
        loop {
            match self.r.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(self.fail(
                        "archive is truncated: unexpected end of archive in member data".into(),
                    ));
                }
                Ok(n) => {
                    self.remaining -= n as u64;
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_fail("in member data", e)),
            }
        }
    }

    fn read_sparse(&mut self, sp: &mut Sparse, buf: &mut [u8]) -> Result<usize> {
        if sp.pos >= sp.size {
            return Ok(0);
        }
        // In a hole before the next segment (or after the last)?
        let next_start = sp.next_start();
        if sp.pos < next_start {
            let n = (next_start - sp.pos).min(buf.len() as u64) as usize;
            buf[..n].fill(0);
            sp.pos += n as u64;
            return Ok(n);
        }
        let (off, len) = sp.segments[sp.idx];
        let left = off + len - sp.pos;
        let want = left.min(buf.len() as u64) as usize;
        let n = self.read_raw(&mut buf[..want])?;
        sp.pos += n as u64;
        if sp.pos == off + len {
            sp.idx += 1;
        }
        Ok(n)
    }

    /// Copy the current entry's data to `w`.
    ///
    /// # Errors
    /// As [`Reader::read_data`], or a write error (as an I/O error).
    pub fn copy_data(&mut self, w: &mut dyn io::Write) -> Result<u64> {
        let mut buf = vec![0u8; 128 << 10];
        let mut total = 0;
        loop {
            let n = self.read_data(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            w.write_all(&buf[..n])
                .map_err(|e| Error::io_nopath("cannot write a member's data", e))?;
            total += n as u64;
        }
    }
}

/// A piece of a member's data from [`Reader::read_chunk`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// This many bytes were read into the buffer (0: the end of the data).
    Data(usize),
    /// A hole of this many zero bytes (sparse members only).
    Hole(u64),
}

/// Bytes of padding after `size` bytes of data.
pub fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

impl Draft {
    /// The member as its header (and GNU long names) describe it.
    fn new(raw: &mut RawHeader, long_name: Option<Vec<u8>>, long_link: Option<Vec<u8>>) -> Draft {
        let path = long_name.unwrap_or_else(|| std::mem::take(&mut raw.name));
        let mut e = entry_from_header(raw, &path);
        e.path = path;
        Draft {
            e,
            typeflag: raw.typeflag,
            link: long_link.unwrap_or_else(|| std::mem::take(&mut raw.linkname)),
            size: raw.size as u64,
            sparse: SparseRecords::default(),
        }
    }
}

/// An entry with the header's fields; its path, link and size are set
/// once the pax records are applied. `path` decides the kind of a v7
/// member.
fn entry_from_header(raw: &mut RawHeader, path: &[u8]) -> Entry {
    let mut kind = match raw.typeflag {
        b'1' => Kind::HardLink,
        b'2' => Kind::Symlink,
        b'3' => Kind::Char,
        b'4' => Kind::Block,
        b'5' | b'D' => Kind::Dir,
        b'6' => Kind::Fifo,
        _ => Kind::File,
    };
    if raw.dialect == Dialect::V7 && matches!(raw.typeflag, b'0' | 0) && path.ends_with(b"/") {
        kind = Kind::Dir;
    }
    let mut e = Entry::new(Vec::new(), kind);
    e.mode = (raw.mode & 0o7777) as u32;
    e.uid = raw.uid;
    e.gid = raw.gid;
    e.uname = (!raw.uname.is_empty()).then(|| std::mem::take(&mut raw.uname));
    e.gname = (!raw.gname.is_empty()).then(|| std::mem::take(&mut raw.gname));
    e.mtime = Time {
        sec: raw.mtime,
        nsec: 0,
    };
    e.dev_major = u32::try_from(raw.dev_major).unwrap_or(u32::MAX);
    e.dev_minor = u32::try_from(raw.dev_minor).unwrap_or(u32::MAX);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header block with a valid checksum.
    fn header(name: &str, typeflag: u8, size: u64) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        b[..name.len()].copy_from_slice(name.as_bytes());
        b[100..108].copy_from_slice(b"0000644\0");
        b[108..116].copy_from_slice(b"0000000\0");
        b[116..124].copy_from_slice(b"0000000\0");
        b[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        b[136..148].copy_from_slice(b"00000000000\0");
        b[156] = typeflag;
        b[257..265].copy_from_slice(b"ustar\x0000");
        b[148..156].fill(b' ');
        let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        b
    }

    /// Append a member: header plus data padded to a block.
    fn member(out: &mut Vec<u8>, name: &str, typeflag: u8, data: &[u8]) {
        out.extend_from_slice(&header(name, typeflag, data.len() as u64));
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }

    /// Append the end-of-archive marker.
    fn end(out: &mut Vec<u8>) {
        out.resize(out.len() + 2 * BLOCK, 0);
    }

    /// (path, kind, size, data) of one entry.
    type Listed = (String, Kind, u64, Vec<u8>);

    /// Every entry of `archive`.
    fn list(archive: &[u8]) -> Result<Vec<Listed>> {
        let mut r = Reader::new(archive);
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            let mut data = Vec::new();
            r.copy_data(&mut data)?;
            out.push((
                String::from_utf8_lossy(&e.path).into_owned(),
                e.kind,
                e.size,
                data,
            ));
        }
        Ok(out)
    }

    /// A pax header of `typeflag` holding `recs`, then `members`, then the end.
    fn with_header(typeflag: u8, recs: &[u8], members: &[&str]) -> Vec<u8> {
        let mut a = Vec::new();
        member(&mut a, "meta", typeflag, recs);
        for m in members {
            member(&mut a, m, b'0', b"");
        }
        a.resize(a.len() + 2 * BLOCK, 0);
        a
    }

    /// Lends at most 5 bytes at a time, or, when `lends` is false, never.
    struct Lender<'a> {
        data: &'a [u8],
        lends: bool,
    }

    impl Read for Lender<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.data.read(buf)
        }
    }

    impl Lend for Lender<'_> {
        type Loan = Vec<u8>;

        fn lend(&mut self, n: usize) -> io::Result<Option<Vec<u8>>> {
            if !self.lends {
                return Ok(None);
            }
            let k = n.min(5).min(self.data.len());
            let (loan, rest) = self.data.split_at(k);
            self.data = rest;
            Ok(Some(loan.to_vec()))
        }
    }

    #[test]
    fn lent_data_is_consumed_as_read_data() {
        let mut a = Vec::new();
        for (name, data) in [("a", &b"hello world"[..]), ("b", b"xy")] {
            member(&mut a, name, b'0', data);
        }
        end(&mut a);
        let mut r = Reader::new(Lender {
            data: &a,
            lends: true,
        });
        assert_eq!(r.next_entry().unwrap().unwrap().path, b"a");
        // Up to where the source's buffer ends, then the rest by a read.
        assert_eq!(r.borrow_data(100).unwrap().unwrap(), b"hello");
        let mut rest = Vec::new();
        r.copy_data(&mut rest).unwrap();
        assert_eq!(rest, b" world");
        assert_eq!(r.next_entry().unwrap().unwrap().path, b"b");
        // Never past the member's data.
        assert_eq!(r.borrow_data(100).unwrap().unwrap(), b"xy");
        assert_eq!(r.borrow_data(100).unwrap(), None);
        assert!(r.next_entry().unwrap().is_none());

        // A source that cannot lend: nothing is consumed, a read copies.
        let mut r = Reader::new(Lender {
            data: &a,
            lends: false,
        });
        r.next_entry().unwrap();
        assert_eq!(r.borrow_data(100).unwrap(), None);
        let mut all = Vec::new();
        r.copy_data(&mut all).unwrap();
        assert_eq!(all, b"hello world");
    }

    #[test]
    fn the_label_xattr_becomes_the_label() {
        let mut recs = Vec::new();
        pax::push_record(&mut recs, "SCHILY.xattr.user.alientar.context", b"rootless");
        pax::push_record(&mut recs, "SCHILY.xattr.user.a", b"1");
        let a = with_header(b'x', &recs, &["f"]);
        let e = Reader::new(&a[..]).next_entry().unwrap().unwrap();
        assert_eq!(e.label.as_deref(), Some("rootless"));
        assert_eq!(e.xattrs, vec![("user.a".to_string(), b"1".to_vec())]);
    }

    #[test]
    fn the_archive_label_is_the_label_of_members_without_one() {
        let mut g = Vec::new();
        pax::push_record(&mut g, "ALIENTAR.context", b"rootless");
        pax::push_record(&mut g, "ALIENTAR.context.rootless.uidmap", b"0:1000:1");
        let mut a = Vec::new();
        member(&mut a, "alientar.global", b'g', &g);
        member(&mut a, "plain", b'0', b"");
        for (name, label) in [("other", &b"other"[..]), ("none", b"")] {
            let mut x = Vec::new();
            pax::push_record(&mut x, "SCHILY.xattr.user.alientar.context", label);
            member(&mut a, "x", b'x', &x);
            member(&mut a, name, b'0', b"");
        }
        member(&mut a, "plain2", b'0', b"");
        end(&mut a);
        let mut r = Reader::new(&a[..]);
        let mut got = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            assert!(e.xattrs.is_empty());
            got.push((String::from_utf8(e.path).unwrap(), e.label));
        }
        let l = |s: &str| Some(s.to_string());
        assert_eq!(
            got,
            vec![
                ("plain".into(), l("rootless")),
                ("other".into(), l("other")),
                ("none".into(), None),
                ("plain2".into(), l("rootless")),
            ]
        );
    }

    #[test]
    fn global_records_are_bounded_and_applied_once() {
        // Regression: every member used to get a copy of every global
        // record (a 15 MiB comment cost 15 MiB of copying per member), and
        // merging was quadratic in the number of keys (1.5 million keys: a hang).
        let mut recs = Vec::new();
        pax::push_record(&mut recs, "comment", &vec![b'c'; 15 << 20]);
        pax::push_record(&mut recs, "uid", b"7");
        pax::push_record(&mut recs, "SCHILY.xattr.user.g", b"v");
        let names: Vec<String> = (0..2000).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let a = with_header(b'g', &recs, &refs);
        let mut r = Reader::new(&a[..]);
        let mut n = 0;
        while let Some(e) = r.next_entry().unwrap() {
            assert_eq!((e.uid, e.xattr("user.g")), (7, Some(&b"v"[..])));
            n += 1;
        }
        assert_eq!(n, 2000);
        assert_eq!(
            r.globals.applied.len(),
            2,
            "only records that apply are kept per member"
        );

        let mut recs = Vec::new();
        for i in 0..=MAX_GLOBAL_RECORDS {
            pax::push_record(&mut recs, &format!("k{i}"), b"");
        }
        let err = list(&with_header(b'g', &recs, &["f"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 4096 records"), "{err}");

        let mut recs = Vec::new();
        pax::push_record(
            &mut recs,
            "SCHILY.xattr.user.big",
            &vec![b'x'; MAX_GLOBAL_APPLIED],
        );
        let err = list(&with_header(b'g', &recs, &["f"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("for every member"), "{err}");

        // The same key repeated replaces, it does not accumulate.
        let mut recs = Vec::new();
        for _ in 0..10_000 {
            pax::push_record(&mut recs, "comment", &[b'z'; 1000]);
        }
        let got = list(&with_header(b'g', &recs, &["f"])).unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn extended_header_records_are_checked_and_bounded() {
        // Millions of tiny records are iterated, not materialised.
        let recs = b"5 a=\n".repeat(1 << 20);
        assert_eq!(list(&with_header(b'x', &recs, &["f"])).unwrap().len(), 1);
        // A malformed record anywhere fails when the header is read.
        let mut recs = b"5 a=\n".repeat(100);
        recs.extend_from_slice(b"9 uid=1\n");
        let err = list(&with_header(b'x', &recs, &["f"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad pax extended header"), "{err}");
        // Too many xattrs on one member.
        let mut recs = Vec::new();
        for i in 0..=MAX_XATTRS {
            pax::push_record(&mut recs, &format!("SCHILY.xattr.user.{i}"), b"");
        }
        let err = list(&with_header(b'x', &recs, &["f"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("extended attributes"), "{err}");
    }

    #[test]
    fn holes_come_as_lengths_not_zeros() {
        // pax sparse 0.1: a 2^62-byte file with 3 bytes of data in the middle
        // (go/pax-sparse-big.tar is 60 GB of holes).
        let mut recs = Vec::new();
        for (k, v) in [
            ("GNU.sparse.size", "4611686018427387904"),
            ("GNU.sparse.numblocks", "1"),
            ("GNU.sparse.map", "1000000000000,3"),
            ("GNU.sparse.name", "huge"),
        ] {
            pax::push_record(&mut recs, k, v.as_bytes());
        }
        let mut a = Vec::new();
        member(&mut a, "PaxHeader/huge", b'x', &recs);
        member(&mut a, "GNUSparseFile.0/huge", b'0', b"abc");
        a.resize(a.len() + 2 * BLOCK, 0);
        let mut r = Reader::new(&a[..]);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((&e.path[..], e.size), (&b"huge"[..], 1 << 62));
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        loop {
            match r.read_chunk(&mut buf).unwrap() {
                Chunk::Data(0) => break,
                Chunk::Data(n) => got.push(Chunk::Data(n)),
                h => got.push(h),
            }
        }
        assert_eq!(
            got,
            vec![
                Chunk::Hole(1_000_000_000_000),
                Chunk::Data(3),
                Chunk::Hole((1 << 62) - 1_000_000_000_003)
            ]
        );
        // A plain member has no holes.
        let mut a = Vec::new();
        member(&mut a, "f", b'0', b"data");
        let mut r = Reader::new(&a[..]);
        r.next_entry().unwrap();
        assert_eq!(r.read_chunk(&mut buf).unwrap(), Chunk::Data(4));
        assert_eq!(r.read_chunk(&mut buf).unwrap(), Chunk::Data(0));
    }

    #[test]
    fn dumpdir_data_is_skipped_not_returned() {
        // GNU incremental 'D' (go/gnu-incremental.tar): size 0 and no data.
        let mut a = Vec::new();
        member(&mut a, "d/", b'D', b"Yfoo\0Nbar\0\0abc");
        member(&mut a, "d/f", b'0', b"hi");
        a.resize(a.len() + 2 * BLOCK, 0);
        let got = list(&a).unwrap();
        assert_eq!(got[0], ("d".into(), Kind::Dir, 0, Vec::new()));
        assert_eq!(got[1], ("d/f".into(), Kind::File, 2, b"hi".to_vec()));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn solaris_acl_header_is_hidden() {
        // libarchive/test_compat_solaris_tar_acl.tar: an 'A' record before each member.
        let mut a = Vec::new();
        member(&mut a, "f", b'A', b"user::rw-,group::r--,other:r--\0");
        member(&mut a, "f", b'0', b"data");
        a.resize(a.len() + 2 * BLOCK, 0);
        let got = list(&a).unwrap();
        assert_eq!(got, vec![("f".into(), Kind::File, 4, b"data".to_vec())]);
    }

    #[test]
    fn libarchive_and_redhat_xattr_records() {
        let mut recs = Vec::new();
        pax::push_record(&mut recs, "LIBARCHIVE.xattr.user.data1", b"QUJDREVGRw");
        pax::push_record(
            &mut recs,
            "RHT.security.selinux",
            b"system_u:object_r:admin_home_t:s0",
        );
        let mut a = Vec::new();
        member(&mut a, "PaxHeader/f", b'x', &recs);
        member(&mut a, "f", b'0', b"");
        a.resize(a.len() + 2 * BLOCK, 0);
        let e = Reader::new(&a[..]).next_entry().unwrap().unwrap();
        assert_eq!(
            e.xattrs,
            vec![
                (
                    "security.selinux".to_string(),
                    b"system_u:object_r:admin_home_t:s0".to_vec()
                ),
                ("user.data1".to_string(), b"ABCDEFG".to_vec()),
            ]
        );
        let mut recs = Vec::new();
        pax::push_record(&mut recs, "LIBARCHIVE.xattr.user.x", b"not base64!");
        let mut a = Vec::new();
        member(&mut a, "PaxHeader/f", b'x', &recs);
        member(&mut a, "f", b'0', b"");
        assert!(Reader::new(&a[..]).next_entry().is_err());
    }

    #[test]
    fn sparse_v1_comment_lines_and_unmapped_tail() {
        // Comment lines before the map (libarchive posix10_modified), and one
        // dense byte more than the map uses (libarchive sparse_skip_entry).
        let mut recs = Vec::new();
        for (k, v) in [
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "s"),
            ("GNU.sparse.realsize", "10"),
        ] {
            pax::push_record(&mut recs, k, v.as_bytes());
        }
        let mut data = b"#!gnu-sparse-format\n#format:1.0\n1\n2\n3\n".to_vec();
        data.resize(BLOCK, 0);
        data.extend_from_slice(b"abcz");
        let mut a = Vec::new();
        member(&mut a, "PaxHeader/s", b'x', &recs);
        member(&mut a, "GNUSparseFile.0/s", b'0', &data);
        member(&mut a, "end", b'0', b"e");
        a.resize(a.len() + 2 * BLOCK, 0);
        let got = list(&a).unwrap();
        assert_eq!(
            got[0],
            ("s".into(), Kind::File, 10, b"\0\0abc\0\0\0\0\0".to_vec())
        );
        assert_eq!(got[1], ("end".into(), Kind::File, 1, b"e".to_vec()));

        // A map that needs more data than the member holds is still an error.
        let mut short = data.clone();
        short.truncate(BLOCK + 2);
        let mut a = Vec::new();
        member(&mut a, "PaxHeader/s", b'x', &recs);
        member(&mut a, "GNUSparseFile.0/s", b'0', &short);
        a.resize(a.len() + 2 * BLOCK, 0);
        let err = list(&a).unwrap_err().to_string();
        assert!(err.contains("sparse map describes 3 bytes"), "{err}");
    }
}
