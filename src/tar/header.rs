//! One 512-byte header block: numeric field codecs, checksum, and decoding
//! into a [`RawHeader`] (field layout from the `tar` crate's [`tar::Header`]).

use tar::Header;

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// The tar dialect a header was written in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Pre-POSIX (v7): no magic.
    V7,
    /// POSIX ustar (`ustar\0` `00`), also used by pax.
    Ustar,
    /// GNU (`ustar ` ` \0`).
    Gnu,
}

/// The fields of one header block, decoded but not yet combined with pax
/// records or GNU long names.
#[derive(Clone, Debug)]
pub struct RawHeader {
    /// Dialect from the magic field.
    pub dialect: Dialect,
    /// Type flag byte.
    pub typeflag: u8,
    /// Name, with the ustar prefix joined.
    pub name: Vec<u8>,
    /// Link name.
    pub linkname: Vec<u8>,
    /// Permission and type bits as stored.
    pub mode: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Size field (may be negative in hostile input: rejected).
    pub size: i64,
    /// Modification time in seconds.
    pub mtime: i64,
    /// User name.
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Device major.
    pub dev_major: u64,
    /// Device minor.
    pub dev_minor: u64,
    /// GNU sparse: the real (expanded) size.
    pub gnu_realsize: i64,
    /// GNU sparse: the map entries in this header (offset, length).
    pub gnu_sparse: Vec<(i64, i64)>,
    /// GNU sparse: extension blocks follow.
    pub gnu_extended: bool,
}

/// Parse a numeric field: octal (leading spaces, trailing NULs/spaces
/// tolerated; an empty field is 0) or GNU base-256 (high bit set, signed).
///
/// # Errors
/// A field that is neither, or a base-256 value that does not fit in `i64`.
pub fn parse_numeric(field: &[u8]) -> Result<i64, String> {
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        // Base-256, two's complement; 0xff lead byte means negative.
        let negative = first & 0x40 != 0;
        let mut v: i128 = if negative { -1 } else { 0 };
        for (i, &b) in field.iter().enumerate() {
            let b = if i == 0 {
                b & 0x7f | if negative { 0x80 } else { 0 }
            } else {
                b
            };
            v = (v << 8) | i128::from(b);
            if v > i128::from(i64::MAX) || v < i128::from(i64::MIN) {
                return Err("base-256 number does not fit in 64 bits".into());
            }
        }
        // Sign-extend the first byte properly: for negative numbers the top bit
        // pattern 0xff... is already folded in by starting from -1.
        return Ok(v as i64);
    }
    let s: &[u8] = {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        let t = &field[..end];
        let start = t.iter().position(|&b| b != b' ').unwrap_or(t.len());
        let t = &t[start..];
        let stop = t.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
        &t[..stop]
    };
    if s.is_empty() {
        return Ok(0);
    }
    let mut v: i64 = 0;
    for &b in s {
        if !(b'0'..=b'7').contains(&b) {
            return Err(format!(
                "'{}' is not an octal number",
                String::from_utf8_lossy(field).trim_end_matches('\0')
            ));
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or("octal number too large")?;
    }
    Ok(v)
}

/// Write `v` as zero-padded octal with a NUL terminator into `field` when it
/// fits, else as base-256. Returns false only if it fits neither way.
pub fn format_numeric(field: &mut [u8], v: u64) -> bool {
    let digits = field.len() - 1;
    if digits < 22 && v < 1u64 << (3 * digits) {
        let mut x = v;
        for d in field[..digits].iter_mut().rev() {
            *d = b'0' + (x & 7) as u8;
            x >>= 3;
        }
        field[digits] = 0;
        return true;
    }
    if field.len() >= 9 || v < 1u64 << (8 * (field.len() - 1) - 1) {
        field.fill(0);
        let bytes = v.to_be_bytes();
        let len = field.len();
        let n = len.min(8);
        field[len - n..].copy_from_slice(&bytes[8 - n..]);
        field[0] |= 0x80;
        return true;
    }
    false
}

/// Bytes of a NUL-terminated field.
pub fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// True when the block's checksum matches (unsigned or, as some old tars
/// wrote, signed sum, with the checksum field counted as spaces).
pub fn checksum_ok(block: &[u8; BLOCK]) -> bool {
    let Ok(stored) = parse_numeric(&block[148..156]) else {
        return false;
    };
    // Whole-block sums (which the compiler vectorizes), then the checksum
    // field's own bytes taken out and eight spaces put in. The signed sum
    // only when the unsigned one does not match.
    let field = &block[148..156];
    let spaces = 8 * i64::from(b' ');
    let unsigned = i64::from(block.iter().map(|&b| u32::from(b)).sum::<u32>())
        - field.iter().map(|&b| i64::from(b)).sum::<i64>()
        + spaces;
    if stored == unsigned {
        return true;
    }
    let signed = i64::from(block.iter().map(|&b| i32::from(b as i8)).sum::<i32>())
        - field.iter().map(|&b| i64::from(b as i8)).sum::<i64>()
        + spaces;
    stored == signed
}

/// Decode a header block (whose checksum has been checked).
///
/// # Errors
/// A malformed numeric field, naming it.
pub fn decode(block: &[u8; BLOCK]) -> Result<RawHeader, String> {
    let h = Header::from_byte_slice(block);
    let dialect = if h.as_ustar().is_some() {
        Dialect::Ustar
    } else if h.as_gnu().is_some() {
        Dialect::Gnu
    } else {
        Dialect::V7
    };
    let old = h.as_old();
    let mut raw = RawHeader {
        dialect,
        typeflag: old.linkflag[0],
        name: full_name(h, block, dialect),
        linkname: cstr(&old.linkname).to_vec(),
        mode: unum("mode", &old.mode)?,
        uid: unum("uid", &old.uid)?,
        gid: unum("gid", &old.gid)?,
        size: num("size", &old.size)?,
        mtime: num("mtime", &old.mtime)?,
        uname: Vec::new(),
        gname: Vec::new(),
        dev_major: 0,
        dev_minor: 0,
        gnu_realsize: 0,
        gnu_sparse: Vec::new(),
        gnu_extended: false,
    };
    if dialect != Dialect::V7 {
        decode_ustar_fields(block, &mut raw)?;
    }
    if let Some(g) = h.as_gnu()
        && raw.typeflag == b'S'
    {
        decode_gnu_sparse(g, &mut raw)?;
    }
    Ok(raw)
}

/// A numeric field, its name in the error.
fn num(what: &str, f: &[u8]) -> Result<i64, String> {
    parse_numeric(f).map_err(|e| format!("bad {what} field: {e}"))
}

/// A numeric field that may not be negative.
fn unum(what: &str, f: &[u8]) -> Result<u64, String> {
    let v = num(what, f)?;
    u64::try_from(v).map_err(|_| format!("negative {what} field ({v})"))
}

/// The name, with the ustar prefix joined.
fn full_name(h: &Header, block: &[u8; BLOCK], dialect: Dialect) -> Vec<u8> {
    let name = cstr(&h.as_old().name);
    // Go before 1.8 wrote a ustar prefix into GNU headers, where GNU keeps
    // atime and ctime. Like Go's reader (golang.org/issue/12594): when those
    // two fields are not numbers and the area is ASCII, it is a prefix.
    let go17_prefix = (dialect == Dialect::Gnu
        && (parse_numeric(&block[345..357]).is_err() || parse_numeric(&block[357..369]).is_err()))
    .then(|| cstr(&block[345..500]))
    .filter(|p| p.is_ascii());
    match h.as_ustar().map(|u| cstr(&u.prefix)).or(go17_prefix) {
        Some(prefix) if !prefix.is_empty() => {
            let mut p = Vec::with_capacity(prefix.len() + 1 + name.len());
            p.extend_from_slice(prefix);
            p.push(b'/');
            p.extend_from_slice(name);
            p
        }
        _ => name.to_vec(),
    }
}

/// The owner names and device numbers of a ustar or GNU header.
fn decode_ustar_fields(block: &[u8; BLOCK], raw: &mut RawHeader) -> Result<(), String> {
    let u = &block[257..]; // uname, gname, devmajor, devminor share ustar/GNU offsets
    raw.uname = cstr(&u[8..40]).to_vec();
    raw.gname = cstr(&u[40..72]).to_vec();
    if matches!(raw.typeflag, b'3' | b'4') {
        raw.dev_major = unum("devmajor", &u[72..80])?;
        raw.dev_minor = unum("devminor", &u[80..88])?;
    }
    Ok(())
}

/// An old GNU sparse header's real size and map entries.
fn decode_gnu_sparse(g: &tar::GnuHeader, raw: &mut RawHeader) -> Result<(), String> {
    raw.gnu_realsize = num("realsize", &g.realsize)?;
    for s in &g.sparse {
        if s.offset.iter().all(|&b| b == 0) && s.numbytes.iter().all(|&b| b == 0) {
            break;
        }
        raw.gnu_sparse.push((
            num("sparse offset", &s.offset)?,
            num("sparse length", &s.numbytes)?,
        ));
    }
    raw.gnu_extended = g.isextended[0] != 0;
    Ok(())
}

/// Decode a GNU sparse extension block: up to 21 (offset, length) pairs and
/// whether another extension block follows.
///
/// # Errors
/// A malformed numeric field.
pub fn decode_sparse_ext(block: &[u8; BLOCK]) -> Result<(Vec<(i64, i64)>, bool), String> {
    let mut out = Vec::new();
    for i in 0..21 {
        let off = &block[i * 24..i * 24 + 12];
        let len = &block[i * 24 + 12..i * 24 + 24];
        if off.iter().all(|&b| b == 0) && len.iter().all(|&b| b == 0) {
            break;
        }
        out.push((
            parse_numeric(off).map_err(|e| format!("bad sparse offset: {e}"))?,
            parse_numeric(len).map_err(|e| format!("bad sparse length: {e}"))?,
        ));
    }
    Ok((out, block[504] != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unsigned and signed sums, by the definition: every byte once, the
    /// checksum field as spaces.
    #[test]
    fn checksum_unsigned_and_signed() {
        for round in 0..200u64 {
            let mut block = [0u8; BLOCK];
            block.copy_from_slice(&crate::testutil::noise(round, BLOCK));
            // Some blocks plain ASCII, most with bytes over 127.
            if round % 4 == 0 {
                block.iter_mut().for_each(|b| *b &= 0x7f);
            }
            let (mut unsigned, mut signed) = (0i64, 0i64);
            for (i, &b) in block.iter().enumerate() {
                let b = if (148..156).contains(&i) { b' ' } else { b };
                unsigned += i64::from(b);
                signed += i64::from(b as i8);
            }
            for (sum, ok) in [(unsigned, true), (signed, true), (unsigned + 1, false)] {
                // (A negative signed sum cannot be written in octal.)
                if sum < 0 || (!ok && sum == signed) {
                    continue;
                }
                let text = format!("{sum:06o}\0 ");
                block[148..156].copy_from_slice(text.as_bytes());
                assert_eq!(checksum_ok(&block), ok, "round {round}: sum {sum}");
            }
        }
    }

    #[test]
    fn numeric_table() {
        let cases: &[(&[u8], Result<i64, ()>)] = &[
            (b"0000644\0", Ok(0o644)),
            (b"   644 \0", Ok(0o644)),
            (b"\0\0\0\0\0\0\0\0", Ok(0)),
            (b"        ", Ok(0)),
            (b"0000000000000\0", Ok(0)),
            (b"12abc\0\0\0", Err(())),
            (b"00\x00 0765", Ok(0)), // NUL ends the field (commons-compress lenient)
            (&[0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe], Ok(4294967294)),
            (&[0x80, 0, 0, 0, 0, 0x20, 0, 0], Ok(2097152)),
            (&[0xff; 12], Ok(-1)),
            (
                &[
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
                ],
                Ok(-256),
            ),
            (
                &[
                    0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
                Err(()),
            ),
        ];
        for (input, want) in cases {
            let got = parse_numeric(input).map_err(|_| ());
            assert_eq!(&got, want, "{input:?}");
        }
    }

    /// A GNU header block with `name`, and `area` written at the atime offset.
    fn gnu_block(name: &[u8], area: &[u8]) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        b[..name.len()].copy_from_slice(name);
        for (off, v) in [
            (100, &b"0000644\0"[..]),
            (108, b"0000000\0"),
            (116, b"0000000\0"),
        ] {
            b[off..off + v.len()].copy_from_slice(v);
        }
        b[124..136].copy_from_slice(b"00000000000\0");
        b[136..148].copy_from_slice(b"00000000000\0");
        b[156] = b'0';
        b[257..265].copy_from_slice(b"ustar  \0");
        b[345..345 + area.len()].copy_from_slice(area);
        b
    }

    #[test]
    fn go17_gnu_prefix() {
        // Pre-Go1.8 writer: a prefix where GNU keeps atime/ctime (go/invalid-go17.tar).
        let h = decode(&gnu_block(b"foo", &[b'a'; 97])).unwrap();
        assert_eq!(h.dialect, Dialect::Gnu);
        assert_eq!(h.name, [&[b'a'; 97][..], b"/foo"].concat());
        // Real GNU atime/ctime (octal numbers) are not a prefix.
        let h = decode(&gnu_block(b"foo", b"14214512131\x0014214512131\x00")).unwrap();
        assert_eq!(h.name, b"foo");
        // Non-ASCII garbage is not taken as a prefix either.
        let h = decode(&gnu_block(b"foo", b"\xffbad")).unwrap();
        assert_eq!(h.name, b"foo");
    }

    #[test]
    fn numeric_roundtrip() {
        for v in [0u64, 1, 0o7777777, 0o7777777 + 1, 4294967294, 1 << 40] {
            let mut f = [0u8; 8];
            assert!(format_numeric(&mut f, v));
            assert_eq!(parse_numeric(&f).unwrap(), v as i64, "{v}");
        }
        let mut f = [0u8; 12];
        assert!(format_numeric(&mut f, 9 << 30));
        assert_eq!(parse_numeric(&f).unwrap(), 9 << 30);
        assert_eq!(f[0], 0x80, "over 8 GiB goes base-256");
    }
}
