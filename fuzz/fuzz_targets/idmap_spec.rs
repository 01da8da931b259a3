//! ID-map SPEC parsers: `IdMap::parse_list` (`INSIDE:OUTSIDE:COUNT,...`),
//! `parse_proc` (`/proc/PID/uid_map` text) and `parse_subid`
//! (`/etc/subuid` text). A map that parses prints back to itself, and
//! translating an ID there and back is the identity.
#![no_main]

use alientar::internals::parse_subid;
use alientar::{IdMap, UidKind};
use libfuzzer_sys::fuzz_target;

fn check(m: &IdMap<UidKind>, probe: &[u8]) {
    let again = IdMap::<UidKind>::parse_list(&m.to_string()).expect("printed map parses");
    assert_eq!(&again, m);
    assert_eq!(&m.inverse().inverse(), m);
    for c in probe.chunks(4) {
        let mut b = [0u8; 4];
        b[..c.len()].copy_from_slice(c);
        let id = u32::from_le_bytes(b);
        if let Some(h) = m.to_host(id) {
            assert_eq!(m.to_context(h), Some(id));
            assert_eq!(m.inverse().to_context(id), Some(h));
        }
        if let Some(c) = m.to_context(id) {
            assert_eq!(m.to_host(c), Some(id));
        }
    }
    for e in m.extents() {
        let last = e.inside + (e.count - 1);
        assert_eq!(m.to_host(e.inside), Some(e.outside));
        assert_eq!(m.to_host(last), Some(e.outside + (e.count - 1)));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = IdMap::<UidKind>::parse_list(&text) {
        check(&m, data);
    }
    if let Ok(m) = IdMap::<UidKind>::parse_proc(&text, "fuzz") {
        check(&m, data);
    }
    if let Ok(ranges) = parse_subid(&text, "fuzz", Some("alice"), 1000) {
        for r in ranges {
            assert!(r.count > 0);
            assert!(u64::from(r.start) + u64::from(r.count) <= u64::from(u32::MAX));
        }
    }
});
