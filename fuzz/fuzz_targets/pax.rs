//! pax records and values: `parse_records` (and the borrowing `records`),
//! `parse_time`, `parse_u64`, and the libarchive xattr codecs. Whatever
//! parses must survive re-encoding unchanged, and whatever is encoded must
//! decode back.
#![no_main]

use alientar::internals::tar::pax;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let owned = pax::parse_records(data);
    let borrowed: Result<Vec<(&str, &[u8])>, String> = pax::records(data).collect();
    assert_eq!(owned.is_ok(), borrowed.is_ok());
    if let Ok(recs) = owned {
        let mut again = Vec::new();
        for (k, v) in &recs {
            pax::push_record(&mut again, k, v);
        }
        // Keys with '=' would split differently; everything else round-trips.
        if recs.iter().all(|(k, _)| !k.contains('=')) {
            assert_eq!(pax::parse_records(&again).as_ref(), Ok(&recs));
        }
    }
    if let Some(t) = pax::parse_time(data) {
        assert!(t.nsec < 1_000_000_000);
        assert_eq!(pax::parse_time(t.to_string().as_bytes()), Some(t), "{t}");
    }
    if let Some(n) = pax::parse_u64(data) {
        assert_eq!(n.to_string().parse::<u64>(), Ok(n));
    }
    let _ = pax::base64_decode(data);
    assert_eq!(
        pax::base64_decode(&pax::base64_encode(data)).as_deref(),
        Some(data)
    );
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = pax::percent_decode(s);
        let e = pax::percent_encode(s);
        assert!(!e.contains('='));
        assert_eq!(pax::percent_decode(&e).as_deref(), Some(s));
    }
});
