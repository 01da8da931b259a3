//! The tar encoder: [`Entry`] → pax + ustar header blocks.
//!
//! Output is deterministic: pax records are sorted by key, meta headers have
//! fixed names, modes and owners.

use super::header::{BLOCK, format_numeric};
use super::keys;
use super::pax::push_record;
use crate::entry::{Entry, Kind};
use tar::Header;

pub(super) const MAX_OCTAL_ID: u64 = 0o7777777;
pub(super) const MAX_OCTAL_SIZE: u64 = 0o77777777777;

/// Split a name into ustar (prefix, name) if it fits.
pub(super) fn split_ustar(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((&[], path));
    }
    if path.len() > 256 {
        return None;
    }
    // The prefix ends at a '/', is at most 155 bytes, and the rest at most 100.
    let min_split = path.len().saturating_sub(101);
    (min_split..path.len().min(156))
        .filter(|&i| path[i] == b'/')
        .find(|&i| i > 0 && path.len() - i - 1 <= 100 && path.len() - i - 1 > 0)
        .map(|i| (&path[..i], &path[i + 1..]))
}

pub(super) fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Append an entry's header blocks (a pax `x` header when needed, then the
/// ustar header) to `out`, its label as a record of its own (the form of an
/// archive that declares no label). The caller appends the data and
/// [`pad`]s it.
pub fn encode_entry(e: &Entry, out: &mut Vec<u8>) {
    encode_member(e, None, out);
}

/// [`encode_entry`] for an archive whose global header declares the label
/// `archive` ([`keys::ALIENTAR_CONTEXT`]): the entry's label is recorded
/// only where it differs (an empty record for an unlabelled entry).
pub fn encode_member(e: &Entry, archive: Option<&str>, out: &mut Vec<u8>) {
    let name = member_name(e);
    let layout = Layout::of(e, &name);
    let recs = pax_records(e, &layout, archive);
    if !recs.is_empty() {
        pax_header(recs, out);
    }
    push_ustar_header(e, &layout, out);
}

/// The name an entry is stored under: a directory's with a trailing `/`.
pub(super) fn member_name(e: &Entry) -> Vec<u8> {
    let mut name = e.path.clone();
    if e.kind == Kind::Dir && !name.ends_with(b"/") {
        name.push(b'/');
    }
    name
}

/// What an entry's pax records and ustar header are both made from.
pub(super) struct Layout<'a> {
    /// The member name, a directory's with a trailing `/`.
    pub(super) name: &'a [u8],
    /// The name as ustar's (prefix, name), when it fits them.
    pub(super) split: Option<(&'a [u8], &'a [u8])>,
    pub(super) link: &'a [u8],
    /// The data size: 0 for all but regular files.
    pub(super) size: u64,
}

impl<'a> Layout<'a> {
    /// The layout of `e` stored as `name` ([`member_name`]).
    pub(super) fn of(e: &'a Entry, name: &'a [u8]) -> Layout<'a> {
        Layout {
            name,
            split: split_ustar(name),
            link: e.link.as_deref().unwrap_or(b""),
            size: if e.kind == Kind::File { e.size } else { 0 },
        }
    }
}

/// The pax records for what the ustar header cannot hold, and the xattrs
/// (the label where it is not the archive's label `archive`).
fn pax_records(e: &Entry, l: &Layout, archive: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut recs: Vec<(String, Vec<u8>)> = Vec::new();
    if l.split.is_none() {
        recs.push((keys::PATH.into(), l.name.to_vec()));
    }
    if l.link.len() > 100 {
        recs.push((keys::LINKPATH.into(), l.link.to_vec()));
    }
    if e.uid > MAX_OCTAL_ID {
        recs.push((keys::UID.into(), e.uid.to_string().into_bytes()));
    }
    if e.gid > MAX_OCTAL_ID {
        recs.push((keys::GID.into(), e.gid.to_string().into_bytes()));
    }
    for (key, v) in [(keys::UNAME, &e.uname), (keys::GNAME, &e.gname)] {
        if let Some(v) = v
            && v.len() > 32
        {
            recs.push((key.into(), v.clone()));
        }
    }
    if l.size > MAX_OCTAL_SIZE {
        recs.push((keys::SIZE.into(), l.size.to_string().into_bytes()));
    }
    if e.mtime.nsec != 0 || e.mtime.sec < 0 || e.mtime.sec as u64 > MAX_OCTAL_SIZE {
        recs.push((keys::MTIME.into(), e.mtime.to_string().into_bytes()));
    }
    for (k, v) in e.archived_xattrs(archive) {
        if k.contains('=') {
            // A pax key cannot hold '=': libarchive's encoded form instead.
            recs.push((
                format!(
                    "{}{}",
                    keys::LIBARCHIVE_XATTR,
                    super::pax::percent_encode(k)
                ),
                super::pax::base64_encode(v),
            ));
        } else {
            recs.push(([keys::SCHILY_XATTR, k].concat(), v.to_vec()));
        }
    }
    recs
}

/// Append a pax extended header holding `recs`, sorted by key.
fn pax_header(mut recs: Vec<(String, Vec<u8>)>, out: &mut Vec<u8>) {
    recs.sort();
    let mut data = Vec::new();
    for (k, v) in &recs {
        push_record(&mut data, k, v);
    }
    // A constant name and time: the extended header then differs from
    // the previous one only in its size and checksum, which keeps the
    // per-entry cost of a compressed archive small.
    meta_header(out, b"././@PaxHeader", b'x', &data, 0);
}

/// Append the ustar header block; fields too large for it are 0 (their
/// pax records hold them).
pub(super) fn push_ustar_header(e: &Entry, l: &Layout, out: &mut Vec<u8>) {
    let mut h = ustar_block();
    let u = h.as_ustar_mut().expect("ustar header");
    match l.split {
        Some((prefix, n)) => {
            put(&mut u.name, n);
            put(&mut u.prefix, prefix);
        }
        None => put(&mut u.name, &l.name[..l.name.len().min(100)]),
    }
    format_numeric(&mut u.mode, u64::from(e.mode & 0o7777));
    format_numeric(&mut u.uid, if e.uid > MAX_OCTAL_ID { 0 } else { e.uid });
    format_numeric(&mut u.gid, if e.gid > MAX_OCTAL_ID { 0 } else { e.gid });
    let size = if l.size > MAX_OCTAL_SIZE { 0 } else { l.size };
    format_numeric(&mut u.size, size);
    let secs = e.mtime.sec.clamp(0, MAX_OCTAL_SIZE as i64) as u64;
    format_numeric(&mut u.mtime, secs);
    u.typeflag[0] = typeflag(e.kind);
    put(&mut u.linkname, &l.link[..l.link.len().min(100)]);
    if let Some(n) = &e.uname {
        put(&mut u.uname, &n[..n.len().min(32)]);
    }
    if let Some(n) = &e.gname {
        put(&mut u.gname, &n[..n.len().min(32)]);
    }
    let (major, minor) = if e.kind.is_device() {
        (e.dev_major, e.dev_minor)
    } else {
        (0, 0)
    };
    format_numeric(&mut u.dev_major, u64::from(major));
    format_numeric(&mut u.dev_minor, u64::from(minor));
    set_cksum(&mut h);
    out.extend_from_slice(h.as_bytes());
}

/// A blank ustar header block, as `Header::new_ustar` makes it (magic,
/// version, a zero time) without the two string allocations its octal
/// fields cost (one per member otherwise, another for the checksum).
fn ustar_block() -> Header {
    const BLANK: [u8; 512] = {
        let mut b = [0u8; 512];
        let (magic, version, mtime) = (b"ustar\0", b"00", b"00000000000");
        let mut i = 0;
        while i < magic.len() {
            b[257 + i] = magic[i];
            i += 1;
        }
        b[263] = version[0];
        b[264] = version[1];
        let mut i = 0;
        while i < mtime.len() {
            b[136 + i] = mtime[i];
            i += 1;
        }
        b
    };
    Header::from_byte_slice(&BLANK).clone()
}

/// Set `h`'s checksum: the sum of its bytes with the field as spaces, in
/// seven octal digits and a NUL (as `Header::set_cksum` writes it).
fn set_cksum(h: &mut Header) {
    let b = h.as_mut_bytes();
    b[148..156].fill(b' ');
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    format_numeric(&mut b[148..156], sum);
}

/// The ustar type flag of `kind`.
pub(super) fn typeflag(kind: Kind) -> u8 {
    match kind {
        Kind::File => b'0',
        Kind::HardLink => b'1',
        Kind::Symlink => b'2',
        Kind::Char => b'3',
        Kind::Block => b'4',
        Kind::Dir => b'5',
        Kind::Fifo => b'6',
    }
}

/// Append a meta header (`x` or `g`) with its data, padded.
pub(super) fn meta_header(out: &mut Vec<u8>, name: &[u8], flag: u8, data: &[u8], mtime: u64) {
    let mut h = ustar_block();
    {
        let u = h.as_ustar_mut().expect("ustar header");
        put(&mut u.name, &name[..name.len().min(100)]);
        format_numeric(&mut u.mode, 0o644);
        format_numeric(&mut u.uid, 0);
        format_numeric(&mut u.gid, 0);
        format_numeric(&mut u.size, data.len() as u64);
        format_numeric(&mut u.mtime, mtime.min(MAX_OCTAL_SIZE));
        format_numeric(&mut u.dev_major, 0);
        format_numeric(&mut u.dev_minor, 0);
        u.typeflag[0] = flag;
    }
    set_cksum(&mut h);
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    pad(out, data.len() as u64);
}

/// Append a pax global header holding `records` (sorted by key).
pub fn encode_global(records: &[(String, String)], out: &mut Vec<u8>) {
    let mut recs = records.to_vec();
    recs.sort();
    let mut data = Vec::new();
    for (k, v) in &recs {
        push_record(&mut data, k, v.as_bytes());
    }
    meta_header(out, b"alientar.global", b'g', &data, 0);
}

/// Append the listing headers of an increment naming `names` under `key`
/// ([`super::keys::ALIENTAR_DELETED`] or [`super::keys::ALIENTAR_CHANGED`]):
/// pax global headers `alientar.incremental`, each holding one record of
/// at most [`super::listed::LISTING_CHUNK`] bytes of names (a longer name
/// alone), each name followed by a NUL byte.
pub fn encode_listing(key: &str, names: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut value = Vec::new();
    let mut data = Vec::new();
    let mut flush = |value: &mut Vec<u8>, out: &mut Vec<u8>| {
        if !value.is_empty() {
            data.clear();
            push_record(&mut data, key, value);
            meta_header(out, b"alientar.incremental", b'g', &data, 0);
            value.clear();
        }
    };
    for n in names {
        if !value.is_empty() && value.len() + n.len() + 1 > super::listed::LISTING_CHUNK {
            flush(&mut value, out);
        }
        value.extend_from_slice(n);
        value.push(0);
    }
    flush(&mut value, out);
}

/// Append the zero padding that follows `size` bytes of member data.
pub fn pad(out: &mut Vec<u8>, size: u64) {
    let p = super::read::padding(size) as usize;
    out.resize(out.len() + p, 0);
}

/// Append the end-of-archive marker (two zero blocks).
pub fn end_of_archive(out: &mut Vec<u8>) {
    out.resize(out.len() + 2 * BLOCK, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blank block and the checksum are the tar crate's, byte for byte.
    #[test]
    fn ustar_block_and_checksum_as_the_tar_crate_makes_them() {
        assert_eq!(ustar_block().as_bytes(), Header::new_ustar().as_bytes());
        for (i, e) in [
            Entry::new("a", Kind::File),
            Entry::new("dir/with/a/longer/name", Kind::Dir),
        ]
        .iter()
        .enumerate()
        {
            let mut ours = Vec::new();
            push_ustar_header(e, &Layout::of(e, &member_name(e)), &mut ours);
            let mut theirs = Header::from_byte_slice(&ours[..512]).clone();
            theirs.as_mut_bytes()[148..156].fill(0);
            theirs.set_cksum();
            assert_eq!(&ours[..512], &theirs.as_bytes()[..], "entry {i}");
        }
    }
    use crate::entry::Time;
    use crate::tar::read::Reader;

    fn roundtrip(e: &Entry, data: &[u8]) -> Entry {
        let mut out = Vec::new();
        encode_entry(e, &mut out);
        out.extend_from_slice(data);
        pad(&mut out, data.len() as u64);
        end_of_archive(&mut out);
        let mut r = Reader::new(&out[..]);
        let got = r.next_entry().unwrap().unwrap();
        let mut buf = Vec::new();
        r.copy_data(&mut buf).unwrap();
        assert_eq!(buf, data);
        assert!(r.next_entry().unwrap().is_none());
        got
    }

    #[test]
    fn encode_decode_table() {
        let long = "d/".repeat(120) + "file";
        let mut cases = Vec::new();
        let mut e = Entry::new("etc/shadow", Kind::File);
        e.mode = 0o640;
        e.gid = 42;
        e.size = 5;
        e.uname = Some(b"root".to_vec());
        e.gname = Some(b"shadow".to_vec());
        e.mtime = Time {
            sec: 1700000000,
            nsec: 123456789,
        };
        e.label = Some("rootless".into());
        cases.push((e.clone(), b"hello".to_vec()));
        let mut e2 = e.clone();
        e2.path = long.clone().into_bytes();
        e2.uid = 4294967294;
        e2.gid = 2097152;
        e2.label = None;
        e2.mtime = Time { sec: -5, nsec: 0 };
        e2.xattrs = vec![
            ("user.a".into(), b"1".to_vec()),
            ("user.b".into(), vec![0, 1, 2]),
        ];
        cases.push((e2, b"hello".to_vec()));
        let mut l = Entry::new("lnk", Kind::Symlink);
        l.link = Some(long.into_bytes());
        l.mode = 0o777;
        cases.push((l, vec![]));
        let mut d = Entry::new(format!("{}/{}", "p".repeat(150), "n".repeat(90)), Kind::Dir);
        d.mode = 0o1777;
        cases.push((d, vec![]));
        // Regression (tests/props.rs): an xattr name with '=' came back
        // split at it ("user.=" read as "user." with value "=").
        let mut x = Entry::new("x", Kind::File);
        x.xattrs = vec![
            ("user.=".into(), vec![]),
            ("user.a=b".into(), b"v=1\0".to_vec()),
            ("user.plain".into(), b"p".to_vec()),
        ];
        cases.push((x, vec![]));
        let mut c = Entry::new("dev/null", Kind::Char);
        c.mode = 0o666;
        c.dev_major = 1;
        c.dev_minor = 3;
        cases.push((c, vec![]));
        for (e, data) in cases {
            assert_eq!(roundtrip(&e, &data), e);
        }
    }

    #[test]
    fn ustar_split() {
        assert!(split_ustar(&[b'a'; 100]).is_some());
        assert!(split_ustar(&[b'a'; 101]).is_none());
        let p = format!("{}/{}", "a".repeat(155), "b".repeat(100));
        assert_eq!(split_ustar(p.as_bytes()).unwrap().0.len(), 155);
        let p = format!("{}/{}", "a".repeat(156), "b".repeat(10));
        assert!(split_ustar(p.as_bytes()).is_none());
    }
}
