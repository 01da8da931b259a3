//! The tar reader over arbitrary bytes, reading every entry and all its
//! data: directly, and through `input::decompress` (compression detected
//! from the first bytes, as `alientar list` and `extract` do).
#![no_main]

use std::io::{Cursor, Read};

use alientar::internals::tar::Reader;
use libfuzzer_sys::fuzz_target;

/// Stop after this much entry data: a small input may claim (or, compressed,
/// really hold) far more, and the reader streams it in bounded memory.
const MAX_DATA: u64 = 64 << 20;

fn read_all<R: Read>(r: R) {
    let mut rd = Reader::new(r);
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    let mut entries = 0u32;
    loop {
        match rd.next_entry() {
            Ok(Some(e)) => {
                entries += 1;
                // What the reader promises about every entry it returns.
                assert!(e.mode <= 0o7777, "mode {:o}", e.mode);
                assert!(e.path.len() <= alientar::internals::tar::MAX_NAME);
                assert!(
                    e.link
                        .as_ref()
                        .is_none_or(|l| l.len() <= alientar::internals::tar::MAX_NAME)
                );
                assert!(e.mtime.nsec < 1_000_000_000);
                let mut got = 0u64;
                loop {
                    match rd.read_data(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            got += n as u64;
                            total += n as u64;
                            if total > MAX_DATA {
                                return;
                            }
                        }
                        Err(_) => return,
                    }
                }
                assert_eq!(
                    got,
                    if e.kind == alientar::Kind::File {
                        e.size
                    } else {
                        0
                    }
                );
            }
            Ok(None) => {
                // After the end, the end again.
                assert!(matches!(rd.next_entry(), Ok(None)));
                return;
            }
            Err(first) => {
                // Errors are sticky.
                let again = rd.next_entry().expect_err("sticky error");
                assert_eq!(first.to_string(), again.to_string());
                return;
            }
        }
        if entries > 100_000 {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read_all(data);
    if let Ok((_, r)) = alientar::internals::input::decompress(Box::new(Cursor::new(data.to_vec()))) {
        read_all(r);
    }
});
