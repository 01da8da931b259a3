//! The zstd settings of alientar's frames, set through the raw C API: the
//! pre-block splitter of zstd 1.5.7 (which the `zstd` crate cannot set), a
//! window as large as a frame and, at level 3, a smaller hash table.
//!
//! zstd 1.5.7 added a splitter that, before matching, looks for places to
//! cut each 128 KiB block in two. On a Debian root filesystem at level 3 it
//! costs 7 % of the compression time for 1.6 % smaller frames (measured on
//! 4 MiB frames: 0.558 s → 0.520 s, 52.08 → 52.92 MB); on text, source and
//! random data it changes neither time nor size. zstd 1.5.6 and older, as
//! shipped with the distributions' `zstd` that `tar --zstd` runs, have no
//! such splitter, so frames made with it off compress as `zstd -3` does.
//! The setting is experimental in zstd (`ZSTD_c_blockSplitterLevel`), which
//! is why `zstd-safe` has no safe wrapper for it.
//!
//! Level 3 sizes its tables for inputs of any length (hash log 17: a 512 KiB
//! table of long matches next to a 256 KiB one of short matches). A frame
//! is at most a few MiB, and with hash log 16 the two tables fit the core's
//! cache better: compressing 4 MiB frames took 9 % less CPU on a Debian root
//! filesystem (+0.8 % size), 9 % less on English-like text (−0.2 % size) and
//! 3 % less on 32 000 small text files (same size), in alternating runs of
//! each frame.
//!
//! The window: at levels below 9 zstd matches at most 2 MiB back (window log
//! 21 or less), so the second half of a 4 MiB frame cannot refer to its
//! first half. With the window set to the frame's size ([`WINDOW_LOG`]) a
//! Debian root filesystem's frames came out 0.8 % smaller at level 3 (52.24
//! → 51.82 MB) and at level 1, for the same compression and decompression
//! time; text did not change. A decoder needs no more
//! memory than the frame itself either way: a frame whose content fits its
//! window is written as one segment.

use std::io;
use std::ptr::NonNull;

use zstd::zstd_safe::zstd_sys as z;

/// Hash log at level 3 (zstd's own: 17), see the module documentation.
const FRAME_HASH_LOG: i32 = 16;

/// Window log of every frame: 4 MiB, the largest frame
/// ([`crate::frame::FRAME_TARGET`]). zstd shrinks it for smaller frames.
pub const WINDOW_LOG: i32 = 22;

/// A zstd compression context for independent frames with a content
/// checksum, at one level, with the pre-block splitter off, a 4 MiB window
/// (and at level 3 the hash log 16).
pub struct FrameCompressor {
    ctx: NonNull<z::ZSTD_CCtx>,
}

// SAFETY: a ZSTD_CCtx has no thread affinity; it is used by one thread at a
// time (`&mut self`), which is what zstd requires.
unsafe impl Send for FrameCompressor {}

fn check(code: usize) -> io::Result<usize> {
    // SAFETY: ZSTD_isError and ZSTD_getErrorName accept any code; the name is
    // a static NUL-terminated string.
    unsafe {
        if z::ZSTD_isError(code) == 0 {
            return Ok(code);
        }
        let name = std::ffi::CStr::from_ptr(z::ZSTD_getErrorName(code));
        Err(io::Error::other(format!(
            "zstd: {}",
            name.to_string_lossy()
        )))
    }
}

impl FrameCompressor {
    /// A context compressing at `level`.
    ///
    /// # Errors
    /// zstd cannot allocate the context or refuses a parameter.
    pub fn new(level: i32) -> io::Result<FrameCompressor> {
        // SAFETY: ZSTD_createCCtx returns a new context or NULL.
        let ctx = NonNull::new(unsafe { z::ZSTD_createCCtx() })
            .ok_or_else(|| io::Error::other("zstd: cannot allocate a compression context"))?;
        let c = FrameCompressor { ctx };
        c.set(z::ZSTD_cParameter::ZSTD_c_compressionLevel, level)?;
        c.set(z::ZSTD_cParameter::ZSTD_c_checksumFlag, 1)?;
        // ZSTD_c_blockSplitterLevel: 1 = no pre-splitting.
        c.set(z::ZSTD_cParameter::ZSTD_c_experimentalParam20, 1)?;
        c.set(z::ZSTD_cParameter::ZSTD_c_windowLog, WINDOW_LOG)?;
        if level == 3 {
            c.set(z::ZSTD_cParameter::ZSTD_c_hashLog, FRAME_HASH_LOG)?;
        }
        Ok(c)
    }

    fn set(&self, p: z::ZSTD_cParameter, v: i32) -> io::Result<()> {
        // SAFETY: the context is valid until drop.
        check(unsafe { z::ZSTD_CCtx_setParameter(self.ctx.as_ptr(), p, v) }).map(|_| ())
    }

    /// Compress `data` as one frame, appended to `out`.
    ///
    /// # Errors
    /// A zstd failure.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        // SAFETY: ZSTD_compressBound is a pure function.
        let bound = unsafe { z::ZSTD_compressBound(data.len()) };
        out.reserve(bound);
        let len = out.len();
        let room = out.spare_capacity_mut();
        // SAFETY: the context is valid and used by this thread alone (&mut);
        // `room` is `room.len()` writable bytes, `data` readable bytes.
        let n = check(unsafe {
            z::ZSTD_compress2(
                self.ctx.as_ptr(),
                room.as_mut_ptr().cast(),
                room.len(),
                data.as_ptr().cast(),
                data.len(),
            )
        })?;
        // SAFETY: ZSTD_compress2 wrote `n` bytes into the spare capacity.
        unsafe { out.set_len(len + n) };
        Ok(())
    }
}

impl Drop for FrameCompressor {
    fn drop(&mut self) {
        // SAFETY: the context was made by ZSTD_createCCtx and is freed once.
        unsafe { z::ZSTD_freeCCtx(self.ctx.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decompress_and_carry_a_checksum() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut c = FrameCompressor::new(3).unwrap();
        let mut out = b"prefix".to_vec();
        c.compress(&data, &mut out).unwrap();
        c.compress(&data, &mut out).unwrap();
        let one = &out[6..];
        let first = zstd::zstd_safe::find_frame_compressed_size(one).unwrap();
        assert_eq!(first * 2, one.len(), "two identical frames");
        // Frame header descriptor: bit 2 = content checksum.
        assert_ne!(one[4] & 0b100, 0);
        assert_eq!(
            zstd::stream::decode_all(one).unwrap(),
            [&data[..], &data[..]].concat()
        );
        let mut bad = one[..first].to_vec();
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        assert!(
            zstd::stream::decode_all(&bad[..]).is_err(),
            "checksum checked"
        );
    }

    /// The end of a 4 MiB frame can refer to its start, 2.5 MiB back
    /// (beyond level 3's own 2 MiB window), at every level.
    #[test]
    fn the_window_spans_the_frame() {
        // 2.5 MiB that do not compress, then its first 1.5 MiB again.
        let noise = crate::testutil::noise(0x9e37_79b9_7f4a_7c15, 5 << 19);
        let data = [&noise[..], &noise[..3 << 19]].concat();
        assert_eq!(data.len(), 4 << 20);
        for level in [1, 3, 9] {
            let mut c = FrameCompressor::new(level).unwrap();
            let mut out = Vec::new();
            c.compress(&data, &mut out).unwrap();
            assert!(
                out.len() < noise.len() + (64 << 10),
                "level {level}: {} bytes, the repeat was not found",
                out.len()
            );
            assert_eq!(zstd::stream::decode_all(&out[..]).unwrap(), data);
        }
    }
}
