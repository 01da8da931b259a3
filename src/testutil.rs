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

/// A zstd frame of `size` copies of `byte` in RLE blocks, made rather than
/// compressed: 4 bytes per 128 KiB, so 500 MiB fit in 16 KB and nothing of
/// its size is allocated.
pub fn zstd_rle(size: u64, byte: u8) -> Vec<u8> {
    let mut out = 0xFD2F_B528u32.to_le_bytes().to_vec();
    out.push(0xE0); // 8-byte content size, single segment, no checksum
    out.extend_from_slice(&size.to_le_bytes());
    let mut left = size;
    while left > 0 {
        let n = left.min(128 << 10);
        left -= n;
        let h = u32::from(left == 0) | (1 << 1) | ((n as u32) << 3);
        out.extend_from_slice(&h.to_le_bytes()[..3]);
        out.push(byte);
    }
    out
}
