//! The mtree spec parser (`create --from-manifest`), and the path escaping
//! the manifest sink writes: `unescape(escape(x)) == x` for any bytes.
#![no_main]

use alientar::internals::mtree;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let e = mtree::escape(data);
    assert!(!e.contains(char::is_whitespace));
    assert_eq!(mtree::unescape(&e), data);
    let text = String::from_utf8_lossy(data);
    if let Ok(specs) = mtree::parse(&text) {
        for s in &specs {
            assert!(s.mode.is_none_or(|m| m <= 0o7777));
            assert!(s.time.is_none_or(|t| t.nsec < 1_000_000_000));
        }
    }
});
