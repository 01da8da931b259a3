//! pax extended-header records: `LENGTH KEY=VALUE\n`, parser and formatter.

use crate::entry::Time;

/// Parse the records of a pax extended header, in order (keys may repeat:
/// GNU sparse 0.0 relies on the order of repeated keys).
///
/// Trailing NUL padding after the last record is accepted. Each record is
/// copied; [`records`] iterates without copying.
///
/// # Errors
/// A message describing the first malformed record.
pub fn parse_records(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    records(data)
        .map(|r| r.map(|(k, v)| (k.to_owned(), v.to_vec())))
        .collect()
}

/// The records of a pax extended header as borrowed `(key, value)` pairs,
/// in order. Nothing is allocated per record, so a header of millions of
/// tiny records costs no more memory than its own bytes.
pub fn records(data: &[u8]) -> Records<'_> {
    Records { data }
}

/// Iterator over pax records; see [`records`]. After an error it ends.
pub struct Records<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(&'a str, &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.data;
        if data.iter().all(|&b| b == 0) {
            self.data = &[];
            return None;
        }
        let r = next_record(data);
        match &r {
            Ok((_, _, len)) => self.data = &data[*len..],
            Err(_) => self.data = &[],
        }
        Some(r.map(|(k, v, _)| (k, v)))
    }
}

/// The first record of `data` and its length.
fn next_record(data: &[u8]) -> Result<(&str, &[u8], usize), String> {
    let sp = data
        .iter()
        .take(20)
        .position(|&b| b == b' ')
        .ok_or("pax record has no length")?;
    let len_str = std::str::from_utf8(&data[..sp]).map_err(|_| "pax record length is not ASCII")?;
    if len_str.is_empty() || !len_str.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("pax record length '{len_str}' is not a number"));
    }
    let len: usize = len_str
        .parse()
        .map_err(|_| format!("pax record length '{len_str}' is too large"))?;
    if len <= sp + 1 || len > data.len() {
        return Err(format!(
            "pax record length {len} does not fit the {} bytes left",
            data.len()
        ));
    }
    let rec = &data[sp + 1..len];
    if rec.last() != Some(&b'\n') {
        return Err("pax record does not end with a newline".into());
    }
    let rec = &rec[..rec.len() - 1];
    let eq = rec
        .iter()
        .position(|&b| b == b'=')
        .ok_or("pax record has no '='")?;
    let key = std::str::from_utf8(&rec[..eq]).map_err(|_| "pax record key is not UTF-8")?;
    if key.is_empty() {
        return Err("pax record has an empty key".into());
    }
    Ok((key, &rec[eq + 1..], len))
}

/// Append one record `LEN KEY=VALUE\n` to `out`, computing the self-inclusive length.
pub fn push_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    loop {
        let digits = len.to_string().len();
        if body + digits == len {
            break;
        }
        len = body + digits;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Parse a pax decimal time `[-]SECONDS[.FRACTION]`; digits past nanoseconds are dropped.
pub fn parse_time(v: &[u8]) -> Option<Time> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nsec: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nsec += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    if !neg {
        return Some(Time { sec, nsec });
    }
    if nsec == 0 {
        Some(Time { sec: -sec, nsec: 0 })
    } else {
        Some(Time {
            sec: -sec - 1,
            nsec: 1_000_000_000 - nsec,
        })
    }
}

/// Parse a pax decimal unsigned number.
pub fn parse_u64(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The message for record `k` whose value `v` is not a valid `what`.
pub(super) fn invalid(k: &str, v: &[u8], what: &str) -> String {
    format!(
        "pax record {k}='{}' is not a valid {what}",
        String::from_utf8_lossy(&v[..v.len().min(64)])
    )
}

/// Encode a name for a `LIBARCHIVE.xattr.` key: `%`, `=` and bytes outside
/// `!`..`~` as `%XX` (the inverse of [`percent_decode`]).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 without padding, as libarchive writes xattr values
/// (the inverse of [`base64_decode`]).
pub fn base64_encode(v: &[u8]) -> Vec<u8> {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(v.len().div_ceil(3) * 4);
    for c in v.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize]);
        }
    }
    out
}

/// Decode `%XX` escapes (libarchive's xattr names); `None` if malformed or not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Decode standard base64, padding optional (libarchive omits it); `None` if malformed.
pub fn base64_decode(v: &[u8]) -> Option<Vec<u8>> {
    let v = v
        .strip_suffix(b"==")
        .or_else(|| v.strip_suffix(b"="))
        .unwrap_or(v);
    if v.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(v.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in v {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(d);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrip_lengths() {
        // Lengths around digit-count boundaries.
        for n in 0..300 {
            let v = vec![b'a'; n];
            let mut out = Vec::new();
            push_record(&mut out, "path", &v);
            let recs = parse_records(&out).unwrap();
            assert_eq!(recs, vec![("path".to_string(), v)]);
        }
        let mut out = Vec::new();
        push_record(&mut out, "path", b"foo");
        assert_eq!(out, b"12 path=foo\n");
    }

    #[test]
    fn record_errors() {
        let cases: &[(&[u8], bool)] = &[
            (b"12 path=foo\n", true),
            (b"12 path=foo\n\0\0\0", true),
            (b"0 path=foo\n", false),
            (b"13 path=foo\n", false),
            (b"x path=foo\n", false),
            (b"11 pathfoo\n", false),
            (b"12 path=fooX", false),
            (b"99999999999999999999999 a=b\n", false),
            (b"6 =ab\n", false),
        ];
        for (input, ok) in cases {
            assert_eq!(
                parse_records(input).is_ok(),
                *ok,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn libarchive_xattr_codecs() {
        // Values from libarchive/test_pax_xattr_header_libarchive.tar.
        assert_eq!(
            base64_decode(b"QUJDREVGRw").as_deref(),
            Some(&b"ABCDEFG"[..])
        );
        assert_eq!(base64_decode(b"WFla").as_deref(), Some(&b"XYZ"[..]));
        assert_eq!(
            base64_decode(b"QUJDREVGRw==").as_deref(),
            Some(&b"ABCDEFG"[..])
        );
        assert_eq!(base64_decode(b"").as_deref(), Some(&b""[..]));
        assert_eq!(
            base64_decode(b"/+8A").as_deref(),
            Some(&[0xff, 0xef, 0][..])
        );
        assert_eq!(base64_decode(b"Q"), None);
        assert_eq!(base64_decode(b"QU*D"), None);
        assert_eq!(percent_decode("user.data1").as_deref(), Some("user.data1"));
        assert_eq!(
            percent_decode("user.a%3Db%25").as_deref(),
            Some("user.a=b%")
        );
        assert_eq!(percent_decode("user.%zz"), None);
        assert_eq!(percent_decode("user.%4"), None);
        assert_eq!(percent_decode("user.%ff"), None);
        for name in ["user.a=b", "user.=", "user.100%", "user.é x", "user.plain"] {
            assert_eq!(percent_decode(&percent_encode(name)).as_deref(), Some(name));
            assert!(!percent_encode(name).contains('='));
        }
        assert_eq!(percent_encode("user.a=b"), "user.a%3Db");
        for v in [
            &b""[..],
            b"A",
            b"AB",
            b"ABC",
            b"ABCDEFG",
            &[0, 0xff, 0xef, 0x80],
        ] {
            assert_eq!(base64_decode(&base64_encode(v)).as_deref(), Some(v));
        }
        assert_eq!(base64_encode(b"ABCDEFG"), b"QUJDREVGRw");
    }

    #[test]
    fn times() {
        let t = |s: &str| parse_time(s.as_bytes());
        assert_eq!(
            t("1350244992.023960108"),
            Some(Time {
                sec: 1350244992,
                nsec: 23960108
            })
        );
        assert_eq!(
            t("1350244992.3"),
            Some(Time {
                sec: 1350244992,
                nsec: 300_000_000
            })
        );
        assert_eq!(
            t("1350244992.0239601089999"),
            Some(Time {
                sec: 1350244992,
                nsec: 23960108
            })
        );
        assert_eq!(
            t("-1.25"),
            Some(Time {
                sec: -2,
                nsec: 750_000_000
            })
        );
        assert_eq!(t("-5"), Some(Time { sec: -5, nsec: 0 }));
        assert_eq!(t("12abc"), None);
        assert_eq!(t(""), None);
        for s in ["5.000000120", "-1.250000000", "77"] {
            assert_eq!(t(s).unwrap().to_string(), s);
        }
    }
}
