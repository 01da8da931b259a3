//! Micro benchmarks: ID-map lookups, tar header encode/decode.
//! Run with `cargo bench --bench micro`.

use alientar::internals::tar::Reader;
use alientar::internals::tar::{encode_entry, end_of_archive};
use alientar::{Entry, Kind, Time};
use alientar::{Extent, UidMap};
use divan::black_box;

fn main() {
    divan::main();
}

/// A map with `n` extents of 1000 IDs each.
fn map(n: u32) -> UidMap {
    UidMap::new(
        (0..n)
            .map(|i| Extent {
                inside: i * 1000,
                outside: 1_000_000 + i * 2000,
                count: 1000,
            })
            .collect(),
    )
    .unwrap()
}

#[divan::bench(args = [1, 5, 340])]
fn idmap_to_host(bencher: divan::Bencher, n: u32) {
    let m = map(n);
    let ids: Vec<u32> = (0..1024).map(|i| (i * 7919) % (n * 1000)).collect();
    bencher.bench(|| {
        ids.iter()
            .map(|&i| m.to_host(black_box(i)).unwrap_or(0) as u64)
            .sum::<u64>()
    });
}

#[divan::bench(args = [1, 5, 340])]
fn idmap_to_context(bencher: divan::Bencher, n: u32) {
    let m = map(n);
    let ids: Vec<u32> = (0..1024)
        .map(|i| 1_000_000 + ((i * 7919) % (n * 1000)) / 1000 * 2000)
        .collect();
    bencher.bench(|| {
        ids.iter()
            .map(|&i| m.to_context(black_box(i)).unwrap_or(0) as u64)
            .sum::<u64>()
    });
}

fn entries() -> Vec<Entry> {
    (0..1000)
        .map(|i| {
            let mut e = Entry::new(
                format!("usr/share/doc/package-{i}/changelog.Debian.gz"),
                Kind::File,
            );
            e.mode = 0o644;
            e.uid = 100_000 + i;
            e.gid = 100_041;
            e.mtime = Time {
                sec: 1_700_000_000 + i as i64,
                nsec: 123_456_789,
            };
            e.label = Some("rootless".into());
            e
        })
        .collect()
}

#[divan::bench]
fn header_encode_1000(bencher: divan::Bencher) {
    let es = entries();
    let mut buf = Vec::with_capacity(2 << 20);
    bencher.bench_local(|| {
        buf.clear();
        for e in &es {
            encode_entry(black_box(e), &mut buf);
        }
        buf.len()
    });
}

#[divan::bench]
fn header_decode_1000(bencher: divan::Bencher) {
    let mut buf = Vec::new();
    for e in entries() {
        encode_entry(&e, &mut buf);
    }
    end_of_archive(&mut buf);
    bencher.bench(|| {
        let mut r = Reader::new(black_box(&buf[..]));
        let mut n = 0;
        while let Some(e) = r.next_entry().unwrap() {
            n += e.uid;
        }
        n
    });
}

#[divan::bench]
fn index_encode_1000(bencher: divan::Bencher) {
    let es = entries();
    bencher.bench_local(|| {
        let mut b = alientar::internals::frame::IndexBuilder::default();
        for (i, e) in es.iter().enumerate() {
            b.push(black_box(e), i as u64 * 1536);
        }
        b.finish_at(es.len() as u64 * 1536).unwrap().len()
    });
}

#[divan::bench]
fn index_decode_1000(bencher: divan::Bencher) {
    let es = entries();
    let mut b = alientar::internals::frame::IndexBuilder::default();
    for (i, e) in es.iter().enumerate() {
        b.push(e, i as u64 * 1536);
    }
    let frame = b.finish_at(es.len() as u64 * 1536).unwrap();
    let sizes = vec![1536 * 1000u32];
    bencher.bench(|| {
        alientar::internals::frame::decode(black_box(&frame[8..]), &sizes)
            .unwrap()
            .len()
    });
}
