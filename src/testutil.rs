//! Helpers for the unit tests, and (included by path) for the tests in
//! `tests/`.

/// Deterministic bytes (xorshift64), `n` of them.
pub fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
