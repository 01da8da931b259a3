//! The zstd seekable-format seek table (zstd `contrib/seekable_format`).
//!
//! A skippable frame (magic `0x184D2A5E`) whose payload is one entry per
//! frame — compressed size and decompressed size, little-endian `u32` each —
//! followed by a 9-byte footer: number of frames (`u32`), a descriptor byte
//! (bit 7: entries carry a checksum; we write none), and the seekable magic
//! `0x8F92EAB1`. The footer is the last 9 bytes of the file.

/// Skippable-frame magic of the seek table.
pub const SEEK_TABLE_MAGIC: u32 = 0x184D_2A5E;
/// Magic in the last 4 bytes of a seekable file.
pub const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;
/// Most frames a seek table may describe when read (bounds the allocation:
/// a table is read whole, and kept as 16 bytes per frame). alientar's frames
/// hold 2 to 4 MiB, so this is over 2 TiB of data.
pub const MAX_FRAMES: u32 = 1 << 20;

/// Sizes of each frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeekTable {
    /// (compressed, decompressed) size of each frame, in file order.
    pub frames: Vec<(u32, u32)>,
}

impl SeekTable {
    /// Add a frame.
    pub fn push(&mut self, compressed: u32, decompressed: u32) {
        self.frames.push((compressed, decompressed));
    }

    /// The whole skippable frame, header to footer.
    pub fn encode(&self) -> Vec<u8> {
        let payload = self.frames.len() * 8 + 9;
        let mut out = Vec::with_capacity(8 + payload);
        out.extend_from_slice(&SEEK_TABLE_MAGIC.to_le_bytes());
        out.extend_from_slice(&(payload as u32).to_le_bytes());
        for &(c, d) in &self.frames {
            out.extend_from_slice(&c.to_le_bytes());
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&(self.frames.len() as u32).to_le_bytes());
        out.push(0);
        out.extend_from_slice(&SEEKABLE_MAGIC.to_le_bytes());
        out
    }

    /// Parse a seek table from the tail of a file (`tail` ends where the file
    /// ends). Returns `None` when there is no valid table.
    pub fn decode_tail(tail: &[u8]) -> Option<(SeekTable, usize)> {
        if tail.len() < 17 {
            return None;
        }
        let n = tail.len();
        let u32_at = |i: usize| u32::from_le_bytes(tail[i..i + 4].try_into().expect("4 bytes"));
        if u32_at(n - 4) != SEEKABLE_MAGIC {
            return None;
        }
        let frames = u32_at(n - 9);
        let desc = tail[n - 5];
        if frames > MAX_FRAMES || desc & 0x7c != 0 {
            return None;
        }
        let entry = if desc & 0x80 != 0 { 12 } else { 8 };
        let payload = frames as usize * entry + 9;
        let total = payload + 8;
        if total > n {
            return None;
        }
        let start = n - total;
        if u32_at(start) != SEEK_TABLE_MAGIC || u32_at(start + 4) as usize != payload {
            return None;
        }
        let mut t = SeekTable::default();
        for i in 0..frames as usize {
            let at = start + 8 + i * entry;
            t.push(u32_at(at), u32_at(at + 4));
        }
        Some((t, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejects() {
        let mut t = SeekTable::default();
        t.push(100, 4 << 20);
        t.push(7, 512);
        let enc = t.encode();
        assert_eq!(&enc[enc.len() - 4..], &SEEKABLE_MAGIC.to_le_bytes());
        let mut file = vec![1u8; 33];
        file.extend_from_slice(&enc);
        assert_eq!(SeekTable::decode_tail(&file), Some((t.clone(), enc.len())));
        // A count that claims more than the file holds.
        let mut bad = enc.clone();
        let n = bad.len();
        bad[n - 9..n - 5].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(SeekTable::decode_tail(&bad), None);
        assert_eq!(SeekTable::decode_tail(&enc[1..]), None);
        assert_eq!(SeekTable::decode_tail(b"short"), None);
        // A count over MAX_FRAMES is refused before anything is allocated.
        let mut huge = vec![0u8; 17];
        huge[9..13].copy_from_slice(&(MAX_FRAMES + 1).to_le_bytes());
        huge[13..].copy_from_slice(&SEEKABLE_MAGIC.to_le_bytes());
        assert_eq!(SeekTable::decode_tail(&huge), None);
    }
}
