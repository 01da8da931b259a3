//! Index versions 1 and 2: one zstd frame holding the whole body, each
//! entry's fields one after the other (docs/format.md §3.3, §7.3). Read
//! only: `create` writes version 3 ([`super::columns`]).

use super::super::chain::{ChainInfo, ChainSection, Change};
use super::{CHAIN_VERSION, Cur, MAX_EXPANDED, MAX_LABEL, Place, Places, decode_xattrs, kind_of};
use crate::entry::{Entry, Kind, Time};

/// Largest version 1 or 2 body (decompressed) read into memory: about a
/// million members (some 28 bytes each in a tree of small files) or two
/// and a half million carried entries of an increment (some 12); archives
/// with a larger one are listed by streaming.
pub const MAX_ROWS_BODY: u64 = 32 << 20;

/// Decodes a version 1 or 2 index entry by entry (see
/// [`super::IndexReader`]).
pub(super) struct RowsReader {
    c: Cur<Vec<u8>>,
    /// The index's version: 2 has a change code per member and a chain
    /// section.
    version: u16,
    /// The last member's change code.
    change: Change,
    /// The chain section of a version 2 index.
    chain: Option<ChainSection>,
    labels: Vec<String>,
    places: Places,
    count: u64,
    /// Entries decoded so far.
    done: u64,
    /// The last entry's path (paths are front-coded).
    prev: Vec<u8>,
    /// Where the entries start in the body (after count, labels, first position).
    start: usize,
    first_pos: u64,
    prev_sec: i64,
    /// What decoding copies out of shared data (path prefixes, labels).
    expanded: u64,
}

impl RowsReader {
    /// Parse a version 1 or 2 payload's compressed body, checking all of
    /// it against the data frames' decompressed sizes.
    pub(super) fn new(version: u16, z: &[u8], frame_sizes: &[u32]) -> Result<RowsReader, String> {
        let body = decompress_body(z)?;
        let body_len = body.len() as u64;
        let mut c = Cur { b: body, i: 0 };
        let places = Places::new(frame_sizes);
        // Every entry takes at least 16 bytes of the body and starts with a
        // 512-byte header block in the data: counts above either are lies.
        let count = c.small((body_len / 16 + 1).min(places.total / 512), "entry count")?;
        let labels = read_labels(&mut c, count)?;
        let first_pos = if count > 0 { c.var()? } else { 0 };
        let start = c.i;
        let mut r = RowsReader {
            c,
            version,
            change: Change::Plain,
            chain: None,
            labels,
            places,
            count,
            done: 0,
            prev: Vec::new(),
            start,
            first_pos,
            prev_sec: 0,
            expanded: 0,
        };
        r.rewind();
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
            self.places.end(blocks)?;
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

    pub(super) fn len(&self) -> u64 {
        self.count
    }

    pub(super) fn change(&self) -> Change {
        self.change
    }

    pub(super) fn chain(&self) -> Option<ChainInfo> {
        self.chain.as_ref().map(|s| s.info)
    }

    pub(super) fn each_carried(&self, f: &mut dyn FnMut(&Entry)) {
        if let Some(s) = &self.chain {
            s.each_carried(&self.c.b, &self.labels, f);
        }
    }

    pub(super) fn deleted(&self) -> Vec<Vec<u8>> {
        self.chain
            .as_ref()
            .map(|s| s.deleted(&self.c.b))
            .unwrap_or_default()
    }

    pub(super) fn rewind(&mut self) {
        self.c.i = self.start;
        self.done = 0;
        self.prev.clear();
        self.places.rewind(self.first_pos);
        self.prev_sec = 0;
        self.expanded = 0;
    }

    pub(super) fn next_into(&mut self, e: &mut Entry) -> Result<Option<Place>, String> {
        if self.done == self.count {
            return Ok(None);
        }
        if self.done > 0 {
            let blocks = self.c.var()?;
            self.places.advance(blocks)?;
        }
        let place = self.places.place(self.done)?;
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
        Ok(Some(place))
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
        (e.dev_major, e.dev_minor) = c.devices(e.kind)?;
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

/// A version 1 or 2 body, decompressed within [`MAX_ROWS_BODY`].
fn decompress_body(z: &[u8]) -> Result<Vec<u8>, String> {
    let limit = zstd::zstd_safe::get_frame_content_size(z)
        .ok()
        .flatten()
        .ok_or("index frame has no content size")?;
    if limit > MAX_ROWS_BODY {
        return Err(format!("index of {limit} bytes is larger than allowed"));
    }
    zstd::bulk::decompress(z, limit as usize).map_err(|e| format!("index does not decompress: {e}"))
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

/// The version 1 and 2 writer `create` used before version 3, kept to test
/// that readers still read what it wrote.
#[cfg(test)]
pub(crate) mod writer {
    use super::super::super::chain::{ChainBuilder, ChainInfo, Change};
    use super::super::{
        CHAIN_VERSION, INDEX_MAGIC, TAG, kind_code, put_bytes, put_opt, put_var, put_xattrs,
    };
    use crate::entry::Entry;

    /// The version of an index without a chain section.
    pub(crate) const VERSION: u16 = 1;

    /// Builds a version 1 (or, with a chain, 2) index.
    #[derive(Default)]
    pub(crate) struct RowsBuilder {
        body: Vec<u8>,
        count: u64,
        labels: Vec<String>,
        prev_path: Vec<u8>,
        prev_sec: i64,
        prev_pos: Option<u64>,
        first_pos: u64,
        chain: Option<ChainBuilder>,
        changes: std::collections::VecDeque<Change>,
    }

    impl RowsBuilder {
        pub(crate) fn start_chain(&mut self, info: ChainInfo) {
            self.chain = Some(ChainBuilder::new(info));
        }

        pub(crate) fn changes(&mut self, changes: impl IntoIterator<Item = Change>) {
            self.changes.extend(changes);
        }

        pub(crate) fn carry(&mut self, e: &Entry) {
            let label = self.label_ref(&e.label);
            if let Some(c) = &mut self.chain {
                c.carry(e, label);
            }
        }

        pub(crate) fn delete(&mut self, path: &[u8]) {
            if let Some(c) = &mut self.chain {
                c.delete(path);
            }
        }

        fn label_ref(&mut self, label: &Option<String>) -> u64 {
            let Some(l) = label else { return 0 };
            match self.labels.iter().position(|x| x == l) {
                Some(i) => i as u64 + 1,
                None => {
                    self.labels.push(l.clone());
                    self.labels.len() as u64
                }
            }
        }

        pub(crate) fn push(&mut self, e: &Entry, pos: u64) {
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
            for v in [u64::from(e.mode), e.uid, e.gid, e.size] {
                put_var(b, v);
            }
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
            put_var(&mut self.body, label);
            put_xattrs(&mut self.body, &e.xattrs);
            if self.chain.is_some() {
                let c = self.changes.pop_front().unwrap_or(Change::Plain);
                self.body.push(ChainBuilder::change_code(c));
            }
            self.count += 1;
        }

        pub(crate) fn finish_at(mut self, end: u64) -> Vec<u8> {
            if let Some(p) = self.prev_pos {
                put_var(&mut self.body, (end - p) / 512);
            }
            let mut body = Vec::new();
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
            let z = zstd::bulk::compress(&body, 3).unwrap();
            let mut out = INDEX_MAGIC.to_le_bytes().to_vec();
            out.extend_from_slice(&((TAG.len() + 2 + z.len()) as u32).to_le_bytes());
            out.extend_from_slice(TAG);
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(&z);
            out
        }
    }
}
