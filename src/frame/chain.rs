//! What the entry index of an incremental chain's archive adds: after each
//! member, whether an increment adds it or changes it; and the chain
//! section: the archive's state time, the entries of the tree it leaves as
//! they were (*carried*: stored by an earlier archive of the chain), and
//! the names it deletes. Index version 3 keeps them in its head and in
//! sections of chunks of their own (see [`super::index`]); this module reads
//! version 2's.
//!
//! Version 2's chain section, after the blocks that end the member list
//! (all varints):
//!
//! | field | encoding |
//! |---|---|
//! | flags | bit 0: the archive is an increment (else a chain's full archive); no other bit |
//! | time | zigzag seconds, then nanoseconds: the state time |
//! | carried | count, then each: path (front-coded against the previous carried path), kind, mode, uid, gid, link (optional bytes), devmajor and devminor (devices), label, xattrs — as for a member |
//! | deleted | count, then each name front-coded against the previous one |
//!
//! A carried entry has no size, time, names or place: the change time
//! tells an increment whether its file changed (see `create`'s
//! incremental step), and its data is in an earlier archive.

use super::index::Cur;
#[cfg(test)]
use super::index::{kind_code, put_bytes, put_opt, put_var, put_xattrs};
use crate::entry::{Entry, Kind, Time};

/// Fewest body bytes a carried entry takes (path 2, kind, mode, uid, gid,
/// link, label, xattrs): counts above the body's length over it are lies.
const MIN_CARRIED: usize = 9;

/// How a member of an increment relates to the state it follows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Not an increment's member: a full archive's (or the archive is not
    /// of a chain).
    Plain,
    /// The name was not in the previous state.
    Added,
    /// It replaces the entry of the same name in the previous state.
    Changed,
}

impl Change {
    /// The change's code in an index.
    pub(super) fn code(self) -> u8 {
        match self {
            Change::Plain => 0,
            Change::Added => 1,
            Change::Changed => 2,
        }
    }

    /// The change a code says (one of [`Change::code`]'s).
    pub(super) fn of_code(c: u8) -> Change {
        match c {
            0 => Change::Plain,
            1 => Change::Added,
            _ => Change::Changed,
        }
    }

    /// The change a member's code says.
    pub(super) fn decode<B: AsRef<[u8]>>(c: &mut Cur<B>) -> Result<Change, String> {
        Ok(Change::of_code(c.small(2, "member change")? as u8))
    }
}

/// What an archive of a chain says of itself.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ChainInfo {
    /// An increment, not a chain's full archive.
    pub increment: bool,
    /// The state time: a file whose status changed at or after it may not
    /// be in this archive's state as it is now.
    pub time: Time,
}

/// The chain section while a version 2 index is built (only to test that
/// readers still read it: `create` writes version 3).
#[cfg(test)]
pub(super) struct ChainBuilder {
    info: ChainInfo,
    carried: Vec<u8>,
    carried_count: u64,
    prev_carried: Vec<u8>,
    deleted: Vec<u8>,
    deleted_count: u64,
    prev_deleted: Vec<u8>,
}

/// Append `path` front-coded against `prev`, which becomes it.
#[cfg(test)]
fn put_path(out: &mut Vec<u8>, prev: &mut Vec<u8>, path: &[u8]) {
    let shared = path
        .iter()
        .zip(prev.iter())
        .take_while(|(a, b)| a == b)
        .count();
    put_var(out, shared as u64);
    put_bytes(out, &path[shared..]);
    prev.clear();
    prev.extend_from_slice(path);
}

#[cfg(test)]
impl ChainBuilder {
    pub(super) fn new(info: ChainInfo) -> ChainBuilder {
        ChainBuilder {
            info,
            carried: Vec::new(),
            carried_count: 0,
            prev_carried: Vec::new(),
            deleted: Vec::new(),
            deleted_count: 0,
            prev_deleted: Vec::new(),
        }
    }

    /// A member's change code.
    pub(super) fn change_code(c: Change) -> u8 {
        c.code()
    }

    /// A carried entry, whose label is `label` (0, or 1 + its place in the
    /// label table).
    pub(super) fn carry(&mut self, e: &Entry, label: u64) {
        let b = &mut self.carried;
        put_path(b, &mut self.prev_carried, &e.path);
        b.push(kind_code(e.kind));
        put_var(b, u64::from(e.mode));
        put_var(b, e.uid);
        put_var(b, e.gid);
        put_opt(b, e.link.as_deref());
        if e.kind.is_device() {
            put_var(b, u64::from(e.dev_major));
            put_var(b, u64::from(e.dev_minor));
        }
        put_var(b, label);
        put_xattrs(b, &e.xattrs);
        self.carried_count += 1;
    }

    /// A name the archive deletes.
    pub(super) fn delete(&mut self, path: &[u8]) {
        put_path(&mut self.deleted, &mut self.prev_deleted, path);
        self.deleted_count += 1;
    }

    /// The section's bytes, after the members.
    pub(super) fn finish(self, out: &mut Vec<u8>) {
        put_var(out, u64::from(self.info.increment));
        let s = self.info.time.sec;
        put_var(out, ((s << 1) ^ (s >> 63)) as u64);
        put_var(out, u64::from(self.info.time.nsec));
        put_var(out, self.carried_count);
        out.extend_from_slice(&self.carried);
        put_var(out, self.deleted_count);
        out.extend_from_slice(&self.deleted);
    }
}

/// Where a decoded index's chain section lies in its body.
#[derive(Clone, Debug)]
pub(super) struct ChainSection {
    pub(super) info: ChainInfo,
    carried_at: usize,
    carried: u64,
    deleted_at: usize,
    deleted: u64,
}

/// The next front-coded path into `prev`; `expanded` counts what it
/// copies.
fn path_into<B: AsRef<[u8]>>(
    c: &mut Cur<B>,
    prev: &mut Vec<u8>,
    expanded: &mut u64,
) -> Result<(), String> {
    let shared = c.small(prev.len() as u64, "shared path length")? as usize;
    prev.truncate(shared);
    prev.extend_from_slice(c.bytes()?);
    *expanded += prev.len() as u64;
    Ok(())
}

/// Decode one carried entry into `e` (its path already set).
fn carried_fields<B: AsRef<[u8]>>(
    c: &mut Cur<B>,
    e: &mut Entry,
    labels: &[String],
) -> Result<(), String> {
    e.kind = super::index::kind_of(c.take(1)?[0])?;
    e.mode = c.small(0o7777, "mode")? as u32;
    e.uid = c.var()?;
    e.gid = c.var()?;
    (e.size, e.mtime, e.uname, e.gname) = (0, Time::default(), None, None);
    c.opt_into(&mut e.link)?;
    (e.dev_major, e.dev_minor) = c.devices(e.kind)?;
    let label = c.small(labels.len() as u64, "label")? as usize;
    e.label = label.checked_sub(1).map(|i| labels[i].clone());
    super::index::decode_xattrs(c, e)
}

impl ChainSection {
    /// Check the chain section at `c`'s position (all of it), counting the
    /// path bytes it expands to in `expanded`.
    pub(super) fn check<B: AsRef<[u8]>>(
        c: &mut Cur<B>,
        labels: &[String],
        expanded: &mut u64,
        max_expanded: u64,
    ) -> Result<ChainSection, String> {
        let flags = c.small(1, "chain flags")?;
        let z = c.var()?;
        let sec = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let nsec = c.small(999_999_999, "nanoseconds")? as u32;
        let carried = c.small((c.left() / MIN_CARRIED) as u64, "carried count")?;
        let carried_at = c.i;
        let mut e = Entry::new(Vec::new(), Kind::File);
        let mut prev = Vec::new();
        for _ in 0..carried {
            path_into(c, &mut prev, expanded)?;
            carried_fields(c, &mut e, labels)?;
            if *expanded > max_expanded {
                return Err(format!(
                    "index expands to more than {} MiB of paths",
                    max_expanded >> 20
                ));
            }
        }
        let deleted = c.small((c.left() / 2) as u64, "deleted count")?;
        let deleted_at = c.i;
        prev.clear();
        for _ in 0..deleted {
            path_into(c, &mut prev, expanded)?;
            if *expanded > max_expanded {
                return Err(format!(
                    "index expands to more than {} MiB of paths",
                    max_expanded >> 20
                ));
            }
        }
        Ok(ChainSection {
            info: ChainInfo {
                increment: flags == 1,
                time: Time { sec, nsec },
            },
            carried_at,
            carried,
            deleted_at,
            deleted,
        })
    }

    /// Every carried entry, in archive order, into `f` (checked when the
    /// index was opened: decoding cannot fail).
    pub(super) fn each_carried(&self, body: &[u8], labels: &[String], f: &mut dyn FnMut(&Entry)) {
        let mut c = Cur {
            b: body,
            i: self.carried_at,
        };
        let mut e = Entry::new(Vec::new(), Kind::File);
        let mut prev = Vec::new();
        let mut expanded = 0;
        for _ in 0..self.carried {
            let ok = path_into(&mut c, &mut prev, &mut expanded)
                .and_then(|()| {
                    e.path.clone_from(&prev);
                    carried_fields(&mut c, &mut e, labels)
                })
                .is_ok();
            if !ok {
                return;
            }
            f(&e);
        }
    }

    /// The names the archive deletes, in order.
    pub(super) fn deleted(&self, body: &[u8]) -> Vec<Vec<u8>> {
        let mut c = Cur {
            b: body,
            i: self.deleted_at,
        };
        let mut out = Vec::with_capacity(self.deleted as usize);
        let mut prev = Vec::new();
        let mut expanded = 0;
        for _ in 0..self.deleted {
            if path_into(&mut c, &mut prev, &mut expanded).is_err() {
                break;
            }
            out.push(prev.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::index::rows_writer::RowsBuilder;
    use crate::frame::index::{IndexBuilder, IndexReader};

    fn entry(path: &str, kind: Kind) -> Entry {
        let mut e = Entry::new(path, kind);
        e.mode = 0o755;
        e
    }

    /// What both writers do: version 3's and the version 2 one before it.
    trait Writer: Default {
        fn start_chain(&mut self, info: ChainInfo);
        fn changes(&mut self, c: Vec<Change>);
        fn push(&mut self, e: &Entry, pos: u64);
        fn carry(&mut self, e: &Entry);
        fn delete(&mut self, p: &[u8]);
        fn finish_at(self, end: u64) -> Vec<u8>;
    }

    macro_rules! writer {
        ($t:ty, |$b:ident, $end:ident| $finish:expr) => {
            impl Writer for $t {
                fn start_chain(&mut self, info: ChainInfo) {
                    <$t>::start_chain(self, info)
                }
                fn changes(&mut self, c: Vec<Change>) {
                    <$t>::changes(self, c)
                }
                fn push(&mut self, e: &Entry, pos: u64) {
                    <$t>::push(self, e, pos)
                }
                fn carry(&mut self, e: &Entry) {
                    <$t>::carry(self, e)
                }
                fn delete(&mut self, p: &[u8]) {
                    <$t>::delete(self, p)
                }
                fn finish_at(self, $end: u64) -> Vec<u8> {
                    let $b = self;
                    $finish
                }
            }
        };
    }
    writer!(IndexBuilder, |b, end| b.finish_at(end).unwrap());
    writer!(RowsBuilder, |b, end| b.finish_at(end));

    /// An increment's index: members with their change, carried entries
    /// and deleted names read back, in version 3 and version 2.
    fn chain_section_round_trip<W: Writer>() {
        let mut b = W::default();
        let time = Time {
            sec: 1_700_000_000,
            nsec: 0,
        };
        b.start_chain(ChainInfo {
            increment: true,
            time,
        });
        b.changes(vec![Change::Added, Change::Changed]);
        let mut f = entry("./a", Kind::File);
        f.size = 3;
        f.label = Some("rootless".into());
        b.push(&f, 512);
        b.push(&entry("./b", Kind::Dir), 1536);
        let mut s = entry("./c", Kind::Symlink);
        s.link = Some(b"a".to_vec());
        s.label = Some("other".into());
        let mut d = entry("./dev/null", Kind::Char);
        (d.dev_major, d.dev_minor) = (1, 3);
        for e in [&entry(".", Kind::Dir), &s, &d] {
            b.carry(e);
        }
        b.delete(b"./gone/x");
        b.delete(b"./gone");
        let frame = b.finish_at(2048);
        let mut r = IndexReader::new(&frame[8..], &[2048]).unwrap();
        let info = r.chain().unwrap();
        assert_eq!((info.increment, info.time), (true, time));
        let mut e = Entry::new("", Kind::File);
        let mut got = Vec::new();
        while r.next_into(&mut e).unwrap().is_some() {
            got.push((e.clone(), r.change()));
        }
        assert_eq!(got[0], (f, Change::Added));
        assert_eq!(got[1].1, Change::Changed);
        let mut carried = Vec::new();
        r.each_carried(&mut |e| carried.push(e.clone()));
        assert_eq!(carried, vec![entry(".", Kind::Dir), s, d]);
        assert_eq!(r.deleted(), vec![b"./gone/x".to_vec(), b"./gone".to_vec()]);
    }

    #[test]
    fn chain_section_round_trip_v3() {
        chain_section_round_trip::<IndexBuilder>();
    }

    #[test]
    fn chain_section_round_trip_v2() {
        chain_section_round_trip::<RowsBuilder>();
    }

    /// An increment with nothing to store: only carried entries.
    fn an_increment_of_nothing_changed<W: Writer>() {
        let mut b = W::default();
        b.start_chain(ChainInfo {
            increment: true,
            time: Time::default(),
        });
        let all: Vec<Entry> = ["./d", "./d/e", "./d/e/c", "./hl"]
            .iter()
            .map(|p| entry(p, Kind::File))
            .collect();
        for e in &all {
            b.carry(e);
        }
        let frame = b.finish_at(512);
        let r = IndexReader::new(&frame[8..], &[1024]).unwrap();
        assert_eq!(r.len(), 0);
        let mut carried = Vec::new();
        r.each_carried(&mut |e| carried.push(e.clone()));
        assert_eq!(carried, all);
    }

    #[test]
    fn an_increment_of_nothing_changed_v3_and_v2() {
        an_increment_of_nothing_changed::<IndexBuilder>();
        an_increment_of_nothing_changed::<RowsBuilder>();
    }

    /// A large increment: carried entries and deleted names over several
    /// chunks, each section with labels of its own, read back in order.
    #[test]
    fn carried_and_deleted_across_chunks() {
        let mut b = IndexBuilder::default();
        b.start_chain(ChainInfo {
            increment: false,
            time: Time { sec: -3, nsec: 9 },
        });
        let carried: Vec<Entry> = (0..150_000)
            .map(|i| {
                let mut e = entry(&format!("./c/{i:07}"), Kind::File);
                e.label = (i % 3 == 0).then(|| format!("l{}", i % 4));
                e
            })
            .collect();
        let deleted: Vec<Vec<u8>> = (0..150_000)
            .map(|i| format!("./gone/{i:07}/deeper/still").into_bytes())
            .collect();
        let mut m = entry("./m", Kind::File);
        m.label = Some("members' own".into());
        b.push(&m, 0);
        for (c, d) in carried.iter().zip(&deleted) {
            b.carry(c);
            b.delete(d);
        }
        let frame = b.finish_at(512).unwrap();
        let r = IndexReader::new(&frame[8..], &[1024]).unwrap();
        assert_eq!(r.chain().map(|c| c.increment), Some(false));
        let mut got = Vec::new();
        r.each_carried(&mut |e| got.push(e.clone()));
        assert!(got == carried);
        assert!(r.deleted() == deleted);
        assert_eq!(r.into_indexed()[0].entry, m);
    }
}
