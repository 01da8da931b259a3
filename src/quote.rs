//! Names as a reader sees them: escaped as GNU tar escapes them, and in
//! base64 where JSON must keep bytes that are not UTF-8.
//!
//! GNU tar's default quoting style ("escape") in a UTF-8 locale, which
//! alientar uses whatever the locale: `\\` for a backslash, `\a \b \t \n \v
//! \f \r` for those controls, `\ooo` (octal) for every other byte that is
//! not part of a printable character (other controls, DEL, C1 controls,
//! bytes that are not UTF-8), and printable UTF-8 as it is. glibc also
//! escapes code points Unicode has not assigned; alientar, without Unicode's
//! tables, prints those as they are and escapes only the line and
//! paragraph separators (U+2028, U+2029) and the noncharacters. (In the C
//! locale GNU tar escapes every byte above 0x7f; alientar does not.)

/// `name` escaped, appended to `out`.
pub fn push_escaped(name: &[u8], out: &mut String) {
    // Plain ASCII (almost every name): as it is.
    if name
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
        && let Ok(plain) = std::str::from_utf8(name)
    {
        out.push_str(plain);
        return;
    }
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(c, out);
        }
        for &b in chunk.invalid() {
            push_octal(b, out);
        }
    }
}

/// `name` escaped.
pub fn escaped(name: &[u8]) -> String {
    let mut s = String::with_capacity(name.len());
    push_escaped(name, &mut s);
    s
}

fn push_char(c: char, out: &mut String) {
    let letter = match c {
        '\\' => '\\',
        '\x07' => 'a',
        '\x08' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\x0b' => 'v',
        '\x0c' => 'f',
        '\r' => 'r',
        c if printable(c) => {
            out.push(c);
            return;
        }
        c => {
            for &b in c.encode_utf8(&mut [0; 4]).as_bytes() {
                push_octal(b, out);
            }
            return;
        }
    };
    out.push('\\');
    out.push(letter);
}

fn push_octal(b: u8, out: &mut String) {
    out.push('\\');
    for shift in [6, 3, 0] {
        out.push(char::from(b'0' + ((b >> shift) & 7)));
    }
}

/// Printable as glibc's `iswprint` says in C.UTF-8, short of its table of
/// unassigned code points.
fn printable(c: char) -> bool {
    let n = c as u32;
    !c.is_control()
        && !matches!(c, '\u{2028}' | '\u{2029}')
        && !(0xfdd0..=0xfdef).contains(&n)
        && n & 0xfffe != 0xfffe
}

/// Standard base64 (RFC 4648, with padding): what `base64 -d` and jq's
/// `@base64d` read.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                s.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// `YYYY-MM-DD HH:MM` in UTC.
pub fn format_time(sec: i64) -> String {
    let days = sec.div_euclid(86400);
    let rem = sec.rem_euclid(86400);
    // Civil-from-days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_gnu_tar_in_a_utf8_locale() {
        // Outputs of GNU tar 1.34 -t with LC_ALL=C.UTF-8.
        let cases: &[(&[u8], &str)] = &[
            (b"plain/name.txt", "plain/name.txt"),
            (b"a\nb", "a\\nb"),
            (b"tab\there", "tab\\there"),
            (b"back\\slash", "back\\\\slash"),
            (b"\xff", "\\377"),
            (b"\xc3", "\\303"),
            (b"\xc0\x80", "\\300\\200"),
            (b"\xed\xa0\x80", "\\355\\240\\200"),
            (b"bell\x07", "bell\\a"),
            (b"vt\x0b ff\x0c bs\x08", "vt\\v ff\\f bs\\b"),
            (b"cr\r", "cr\\r"),
            (b"esc\x1b", "esc\\033"),
            (b"del\x7f", "del\\177"),
            (b"c1\xc2\x85", "c1\\302\\205"),
            (b"sp ace q\"uote q'uote ?q", "sp ace q\"uote q'uote ?q"),
            (
                "é-utf8 nbsp\u{a0} zw\u{200b} 😀".as_bytes(),
                "é-utf8 nbsp\u{a0} zw\u{200b} 😀",
            ),
            (
                "x\u{e000}\u{feff}\u{202e}\u{3000}".as_bytes(),
                "x\u{e000}\u{feff}\u{202e}\u{3000}",
            ),
            ("x\u{2028}".as_bytes(), "x\\342\\200\\250"),
            ("x\u{fffe}".as_bytes(), "x\\357\\277\\276"),
            ("x\u{10ffff}".as_bytes(), "x\\364\\217\\277\\277"),
            (b"nul\0", "nul\\000"),
        ];
        for (name, want) in cases {
            assert_eq!(escaped(name), *want, "{name:?}");
        }
    }

    #[test]
    fn base64_as_rfc_4648() {
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
            (b"t/\xff", "dC//"),
            (b"tgt\nx\xff", "dGd0Cnj/"),
        ];
        for (bytes, want) in cases {
            assert_eq!(base64(bytes), *want, "{bytes:?}");
        }
    }
}
