use super::rows_writer::{RowsBuilder, VERSION as ROWS_VERSION};
use super::*;
use crate::testutil::zstd_rle;

/// An entry of every kind and field: owners, names, nanoseconds, links,
/// devices, labels, xattrs (ACL values kept, others dropped).
fn sample(i: usize) -> Entry {
    const KINDS: [Kind; 7] = [
        Kind::File,
        Kind::Dir,
        Kind::Symlink,
        Kind::HardLink,
        Kind::Char,
        Kind::Block,
        Kind::Fifo,
    ];
    let kind = KINDS[i % 7];
    let mut e = Entry::new(format!("d{:03}/entry-{i:06}", i / 500), kind);
    e.mode = [0o644, 0o755, 0o4755, 0o1777][i % 4];
    e.uid = [0, 1000, 100_000 + i as u64, u64::from(u32::MAX) + 7][i % 4 / 2 + i % 2];
    e.gid = (i % 3) as u64;
    if kind == Kind::File {
        e.size = (i * 37 % 5000) as u64;
    }
    e.mtime = Time {
        sec: 1_700_000_000 - (i as i64 % 11) * 1000,
        nsec: if i.is_multiple_of(5) {
            (i * 7919) as u32
        } else {
            0
        },
    };
    if i % 3 != 2 {
        e.uname = Some(if i % 100 < 50 {
            b"root".to_vec()
        } else {
            b"u".to_vec()
        });
        e.gname = Some(b"staff".to_vec());
    }
    if matches!(kind, Kind::Symlink | Kind::HardLink) {
        e.link = Some(format!("target/{i}").into_bytes());
    }
    if kind.is_device() {
        (e.dev_major, e.dev_minor) = (i as u32 % 256, u32::MAX - i as u32);
    }
    e.label = match i % 1000 {
        0..=599 => None,
        600..=899 => Some("rootless".into()),
        _ => Some(format!("ctx-{}", i % 7)),
    };
    if i.is_multiple_of(13) {
        e.xattrs = vec![
            (ACL_ACCESS.into(), vec![2, 0, 0, 0, i as u8]),
            ("user.note".into(), Vec::new()),
        ];
    }
    e
}

/// Where `sample(i)` is laid out: its predicted blocks, plus one extended
/// header (two blocks) on every seventh entry.
fn layout(es: &[Entry]) -> (Vec<u64>, u64) {
    let mut pos = Vec::new();
    let mut at = 1024;
    for (i, e) in es.iter().enumerate() {
        pos.push(at);
        at += 512 * (predicted_blocks(e) + if i % 7 == 3 { 2 } else { 0 });
    }
    (pos, at)
}

/// Frame sizes covering `end` plus the end-of-archive marker, cut at
/// (about) 4 MiB.
fn frames(end: u64) -> Vec<u32> {
    let total = end + 1024;
    let mut sizes = vec![4 << 20; (total / (4 << 20)) as usize];
    sizes.push((total % (4 << 20)) as u32);
    sizes
}

fn build(es: &[Entry]) -> Vec<u8> {
    let (pos, end) = layout(es);
    let mut b = IndexBuilder::default();
    for (e, &p) in es.iter().zip(&pos) {
        b.push(e, p);
    }
    b.finish_at(end).unwrap()
}

fn build_rows(es: &[Entry]) -> Vec<u8> {
    let (pos, end) = layout(es);
    let mut b = RowsBuilder::default();
    for (e, &p) in es.iter().zip(&pos) {
        b.push(e, p);
    }
    b.finish_at(end)
}

/// What the index says of `es`: each entry as kept (xattr values other
/// than ACLs dropped) and its place.
fn expected(es: &[Entry], sizes: &[u32]) -> Vec<Indexed> {
    let (pos, _) = layout(es);
    es.iter()
        .zip(&pos)
        .map(|(e, &p)| {
            let mut e = e.clone();
            for (n, v) in &mut e.xattrs {
                if n != ACL_ACCESS && n != ACL_DEFAULT {
                    v.clear();
                }
            }
            let (mut frame, mut start) = (0, 0u64);
            while start + u64::from(sizes[frame]) <= p {
                start += u64::from(sizes[frame]);
                frame += 1;
            }
            Indexed {
                entry: e,
                frame: frame as u32,
                offset: (p - start) as u32,
            }
        })
        .collect()
}

fn version_of(frame: &[u8]) -> u16 {
    u16::from_le_bytes([frame[22], frame[23]])
}

/// Every kind of entry and field reads back as written, in chunks (enough
/// entries for several) and in one; and an index written before version 3
/// reads the same.
#[test]
fn round_trip_every_kind_and_version() {
    for n in [1, 7, 1000, 120_000] {
        let es: Vec<Entry> = (0..n).map(sample).collect();
        let (_, end) = layout(&es);
        let sizes = frames(end);
        let want = expected(&es, &sizes);
        let v3 = build(&es);
        assert_eq!(version_of(&v3), VERSION);
        assert_eq!(decode(&v3[8..], &sizes).unwrap(), want, "{n} entries");
        let v1 = build_rows(&es);
        assert_eq!(version_of(&v1), ROWS_VERSION);
        assert_eq!(decode(&v1[8..], &sizes).unwrap(), want, "{n} entries, v1");
    }
    // More than one chunk of members was written.
    let es: Vec<Entry> = (0..120_000).map(sample).collect();
    let frame = build(&es);
    let r = ChunksReader::new(&frame[24..], &frames(layout(&es).1)).unwrap();
    let mut at = r.start;
    let mut chunks = 0;
    while at < r.payload.len() {
        at = columns::chunk_at(&r.payload, at).unwrap().2;
        chunks += 1;
    }
    assert!(chunks > 1, "{chunks} chunks");
}

#[test]
fn an_empty_index() {
    let frame = IndexBuilder::default().finish_at(0).unwrap();
    let r = IndexReader::new(&frame[8..], &[1024]).unwrap();
    assert!(r.is_empty());
    assert!(r.chain().is_none());
}

/// The old test of the first format, on the new: places in two frames,
/// and an index that does not fit the frames is refused.
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
    // Found by fuzzing: frames of partial blocks put the second header
    // inside a block (offset 2944 of frame 1).
    let err = decode(&frame[8..], &[1152, 4096]).unwrap_err();
    assert!(err.contains("inside a block of data frame 1"), "{err}");
}

/// An entry decoded into the buffer of the one before keeps nothing of
/// it: every field is the entry's own (a reused buffer once kept the
/// last device numbers, label or xattrs), in every version.
#[test]
fn reused_entry_keeps_nothing_of_the_last() {
    let mut dev = Entry::new("dev/null", Kind::Char);
    (dev.dev_major, dev.dev_minor) = (1, 3);
    dev.uname = Some(b"root".to_vec());
    dev.label = Some("rootless".into());
    dev.xattrs = vec![(ACL_ACCESS.into(), vec![2, 0, 0, 0])];
    let mut link = Entry::new("dev/stdin", Kind::Symlink);
    link.link = Some(b"/proc/self/fd/0".to_vec());
    link.uname = Some(b"a-much-longer-user-name".to_vec());
    let plain = Entry::new("etc", Kind::Dir);
    let all = [dev, link, plain];
    let mut b = IndexBuilder::default();
    let mut old = RowsBuilder::default();
    for (i, e) in all.iter().enumerate() {
        b.push(e, 512 * i as u64);
        old.push(e, 512 * i as u64);
    }
    for frame in [b.finish_at(1536).unwrap(), old.finish_at(1536)] {
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
}

/// A tree of a million tiny files, as `create` lays it out: the index
/// takes little more than the files' sizes (which do not compress: 0 to
/// 96 bytes at random, 6.6 bits each, 823 KB), where version 1 took
/// 977 KB.
#[test]
fn tiny_files_cost_about_their_sizes() {
    let mut x: u64 = 26;
    let mut b = IndexBuilder::default();
    let mut old = RowsBuilder::default();
    let n = 200_000u64;
    let mut pos = 0;
    for i in 0..n {
        let mut e = Entry::new(format!("./d{:05}/f{:04}", i / 500, i % 500), Kind::File);
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        e.size = (x >> 33) % 97;
        e.mode = 0o644;
        e.mtime.sec = 1_765_108_320;
        e.uname = Some(b"root".to_vec());
        e.gname = Some(b"root".to_vec());
        b.push(&e, pos);
        old.push(&e, pos);
        pos += 512 * predicted_blocks(&e);
    }
    let new = b.finish_at(pos).unwrap().len() as f64 / n as f64;
    let old = old.finish_at(pos).len() as f64 / n as f64;
    assert!(
        new < 0.88 && new < old * 0.9,
        "{new:.3} bytes per entry, v1 {old:.3}"
    );
}

/// The payload of a version 3 index with `head` and `chunks`.
fn payload(head: &[u8], chunks: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut p = TAG.to_vec();
    p.extend_from_slice(&VERSION.to_le_bytes());
    p.extend_from_slice(head);
    for (part, frame) in chunks {
        p.push(*part);
        put_var(&mut p, frame.len() as u64);
        p.extend_from_slice(frame);
    }
    p
}

/// A chunk of `n` entries with these columns (the rest empty), compressed.
fn chunk(n: u64, cols: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut all: Vec<Vec<u8>> = vec![Vec::new(); columns::COLUMNS];
    for (i, c) in cols {
        all[*i] = c.clone();
    }
    let mut body = Vec::new();
    put_var(&mut body, n);
    for c in &all {
        put_var(&mut body, c.len() as u64);
    }
    for c in &all {
        body.extend_from_slice(c);
    }
    zstd::bulk::compress(&body, 1).unwrap()
}

fn vars(vs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for &v in vs {
        put_var(&mut out, v);
    }
    out
}

/// `n` plain files (one block each, empty paths after the first's
/// `first` bytes, which the rest share).
fn files(n: u64, first: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut shared = vec![0];
    shared.resize(n as usize, first.len() as u64);
    let mut suffix_len = vec![first.len() as u64];
    suffix_len.resize(n as usize, 0);
    let zeros = vec![0u8; n as usize];
    // flags 0 (file), mode, uid, gid, size, mtime: all 0; blocks exact.
    let mut cols: Vec<(usize, Vec<u8>)> = (4..=8).map(|c| (c, zeros.clone())).collect();
    cols.extend([
        (0, zeros.clone()),
        (1, vars(&shared)),
        (2, vars(&suffix_len)),
        (3, first.to_vec()),
        (16, zeros),
    ]);
    cols
}

/// Flags 0, the count and (with members) the first position 0.
fn head(count: u64) -> Vec<u8> {
    vars(&[0, count, 0][..if count > 0 { 3 } else { 2 }])
}

/// Forged version 3 payloads: what each is, and what its error says.
fn forged(ok: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "count over the data",
            payload(&head(1 << 40), &[]),
            "entry count",
        ),
        (
            "fewer members than the head says",
            payload(&head(3), &[(0, chunk(2, &files(2, b"a")))]),
            "fewer members",
        ),
        (
            "more members than the head says",
            payload(&head(1), &[(0, chunk(2, &files(2, b"a")))]),
            "more members",
        ),
        (
            "a chunk of 500 MiB",
            payload(&head(1), &[(0, zstd_rle(500 << 20, 0))]),
            "larger than allowed",
        ),
        (
            "an unknown section",
            payload(&head(2), &[(7, chunk(2, &files(2, b"a")))]),
            "unknown section",
        ),
        (
            "a chain's section without a chain",
            payload(&head(0), &[(2, chunk(1, &[(1, vec![0]), (2, vec![0])]))]),
            "no chain",
        ),
        (
            "a chunk of no entry",
            payload(&head(0), &[(0, chunk(0, &[]))]),
            "no entry",
        ),
        (
            "flags with an unknown bit",
            payload(
                &head(1),
                &[(
                    0,
                    chunk(1, &[(0, vars(&[1 << 9])), (1, vec![0]), (2, vec![0])]),
                )],
            ),
            "flags",
        ),
        (
            "a label longer than 255",
            payload(
                &head(2),
                &[(0, {
                    let mut cols = files(2, b"a");
                    let mut labels = vars(&[256]);
                    labels.extend([b'l'; 256]);
                    cols.push((14, labels));
                    chunk(2, &cols)
                })],
            ),
            "label of 256 bytes",
        ),
        (
            "a chunk cut short",
            ok[..ok.len() - 1].to_vec(),
            "ends inside a field",
        ),
        (
            "two frames in a chunk",
            {
                let mut two = chunk(2, &files(2, b"a"));
                two.extend(chunk(2, &files(2, b"a")));
                payload(&head(2), &[(0, two)])
            },
            "not one zstd frame",
        ),
    ]
}

/// Forged version 3 indexes: each is refused with an error naming the
/// cause, before any allocation or work beyond the limits.
#[test]
fn hostile_chunks_are_refused() {
    let big = 4 << 20;
    let ok = payload(&head(2), &[(0, chunk(2, &files(2, b"a")))]);
    assert_eq!(decode(&ok, &[big]).unwrap().len(), 2);
    for (what, p, says) in forged(&ok) {
        let err = decode(&p, &[big]).expect_err(what);
        assert!(err.contains(says), "{what}: {err}");
    }
    // Chunks that decompress, together, to more than allowed: refused from
    // their sizes alone.
    let four = zstd_rle(4 << 20, 0);
    let many: Vec<(u8, Vec<u8>)> = (0..=MAX_BODY / (4 << 20))
        .map(|_| (0, four.clone()))
        .collect();
    let err = decode(&payload(&head(1), &many), &[big]).unwrap_err();
    assert!(err.contains("chunks hold more than"), "{err}");
}

/// Front-coded paths let a small chunk describe a great many path bytes
/// (a 2 MiB path shared by every next entry): decoding stops at
/// [`MAX_EXPANDED`].
#[test]
fn shared_prefixes_are_bounded() {
    let n = (MAX_EXPANDED / (2 << 20)) + 2;
    let cols = files(n, &vec![b'p'; 2 << 20]);
    let p = payload(&vars(&[0, n, 0]), &[(0, chunk(n, &cols))]);
    let err = decode(&p, &[u32::MAX, u32::MAX]).unwrap_err();
    assert!(err.contains("expands"), "{err}");
}

/// Any one byte of a valid index changed, or the index cut anywhere: an
/// error or a valid index, never a panic.
#[test]
fn damaged_indexes_never_panic() {
    let es: Vec<Entry> = (0..40).map(sample).collect();
    let (_, end) = layout(&es);
    let sizes = frames(end);
    let mut b = IndexBuilder::default();
    b.start_chain(ChainInfo {
        increment: true,
        time: Time { sec: 5, nsec: 6 },
    });
    let (pos, _) = layout(&es);
    for (e, &p) in es.iter().zip(&pos).take(30) {
        b.push(e, p);
    }
    for e in &es[30..] {
        b.carry(e);
        b.delete(&e.path);
    }
    let frame = b.finish_at(end).unwrap();
    let p = &frame[8..];
    assert!(decode(p, &sizes).is_ok());
    for i in 0..p.len() {
        let _ = decode(&p[..i], &sizes);
        for x in [0x01, 0x80, 0xff] {
            let mut d = p.to_vec();
            d[i] ^= x;
            let _ = decode(&d, &sizes);
        }
    }
}

/// Regression (version 1): a 16 KB index frame claiming 500 MiB of
/// content was decompressed in full (`list` used 520 MB), and label counts
/// sized an allocation of up to 24 bytes per body byte.
#[test]
fn hostile_rows_sizes_are_refused_before_allocating() {
    let rows = |body: &[u8]| {
        let mut p = TAG.to_vec();
        p.extend_from_slice(&ROWS_VERSION.to_le_bytes());
        p.extend_from_slice(&zstd::bulk::compress(body, 1).unwrap());
        p
    };
    let body = vec![0u8; (rows::MAX_ROWS_BODY + 1) as usize];
    let err = decode(&rows(&body), &[4 << 20]).unwrap_err();
    assert!(err.contains("larger than allowed"), "{err}");
    // count 1, a label count far over it.
    let mut body = vars(&[1, 1 << 40]);
    body.resize(64, 0);
    let err = decode(&rows(&body), &[4 << 20]).unwrap_err();
    assert!(err.contains("label count"), "{err}");
    // A label longer than any valid label.
    let mut body = vars(&[1, 1]);
    put_bytes(&mut body, &[b'l'; 256]);
    let err = decode(&rows(&body), &[4 << 20]).unwrap_err();
    assert!(err.contains("longer than 255"), "{err}");
}

/// Regression (version 1): front-coded paths let each entry of a small
/// body share a long prefix (one 4 MiB path, then entries sharing it).
#[test]
fn shared_rows_prefixes_are_bounded() {
    // (shared, new path bytes) for one minimal file entry.
    let entry = |b: &mut Vec<u8>, shared: u64, new: &[u8]| {
        put_var(b, shared);
        put_bytes(b, new);
        b.push(0);
        b.extend([0; 6]); // mode uid gid size mtime nsec
        b.extend([0; 3]); // uname gname link
        b.extend([0; 2]); // label xattrs
    };
    let n = MAX_EXPANDED / (4 << 20) + 2;
    let mut b = vars(&[n, 0, 0]);
    entry(&mut b, 0, &vec![b'p'; 4 << 20]);
    for _ in 1..n {
        put_var(&mut b, 1);
        entry(&mut b, 4 << 20, b"");
    }
    put_var(&mut b, 1);
    let mut p = TAG.to_vec();
    p.extend_from_slice(&ROWS_VERSION.to_le_bytes());
    p.extend_from_slice(&zstd::bulk::compress(&b, 1).unwrap());
    let err = decode(&p, &[u32::MAX, u32::MAX]).unwrap_err();
    assert!(err.contains("expands"), "{err}");
}
