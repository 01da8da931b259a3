//! The seekable-archive trailer: `SeekTable::decode_tail` on the input's
//! tail, the entry index on its payload (with frame sizes from the first
//! bytes; any version: 3's chunks, 1 and 2's rows) — every entry, the
//! carried entries and deleted names of a chain's index, read twice and
//! the same both times — and `Seekable::probe` on the input written to a
//! file, reading the frames and the index when the probe accepts them.
#![no_main]

use std::io::{Read, Write};

use alientar::Entry;
use alientar::internals::frame as index;
use alientar::internals::frame::IndexReader;
use alientar::internals::frame::Seekable;
use alientar::internals::frame::SeekTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((t, used)) = SeekTable::decode_tail(data) {
        assert!(used <= data.len());
        // What decodes re-encodes to the same bytes (no checksums written).
        if data[data.len() - 5] == 0 {
            assert_eq!(t.encode(), &data[data.len() - used..]);
        }
    }

    // Index payload: up to 4 frame sizes from the first byte's count.
    if let Some((&n, rest)) = data.split_first() {
        let n = usize::from(n % 5);
        if rest.len() >= 4 * n {
            let sizes: Vec<u32> = rest[..4 * n]
                .chunks(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            if let Ok(entries) = index::decode(&rest[4 * n..], &sizes) {
                for i in &entries {
                    assert!((i.frame as usize) < sizes.len());
                    assert!(i.offset < sizes[i.frame as usize] && i.offset % 512 == 0);
                }
                read_whole(&rest[4 * n..], &sizes, &entries);
            }
        }
    }

    let mut f = tempfile::tempfile().expect("temporary file");
    f.write_all(data).expect("write");
    if let Some(s) = Seekable::probe(f) {
        let _ = s.index();
        let mut r = s.reader(2);
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0usize;
        while let Ok(n) = r.read(&mut buf) {
            total += n;
            if n == 0 || total > 64 << 20 {
                break;
            }
        }
    }
});

/// An index `decode` accepted reads the same entry by entry, after a
/// rewind too, and its chain sections read without failing.
fn read_whole(payload: &[u8], sizes: &[u32], entries: &[index::Indexed]) {
    let mut r = IndexReader::new(payload, sizes).expect("accepted once");
    assert_eq!(r.len(), entries.len());
    let mut e = Entry::new(Vec::new(), alientar::Kind::File);
    for _ in 0..2 {
        for want in entries {
            let at = r.next_into(&mut e).expect("checked whole").expect("an entry");
            assert_eq!((&e, at.frame, at.offset), (&want.entry, want.frame, want.offset));
        }
        assert!(r.next_into(&mut e).unwrap().is_none());
        r.rewind();
    }
    let mut carried = 0usize;
    r.each_carried(&mut |_| carried += 1);
    let _ = (r.chain(), r.deleted());
}
