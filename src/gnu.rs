//! GNU tar's `--totals` line, which create and extract print.

/// GNU tar's `--totals` line: `Total bytes written: 10240 (10KiB,
/// 39MiB/s)`, the tar stream's bytes (uncompressed) and their rate over
/// `seconds`.
pub fn totals_line(what: &str, bytes: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 && (bytes as f64 / seconds) < u64::MAX as f64 {
        format!("{}/s", human((bytes as f64 / seconds) as u64))
    } else {
        "?/s".to_string()
    };
    format!("Total bytes {what}: {bytes} ({}, {rate})", human(bytes))
}

/// A byte count as GNU tar's `--totals` shows it (gnulib's
/// `human_readable` with autoscale, powers of 1024, `KiB`-style suffixes,
/// rounded up): `512B`, `2.0KiB`, `9.5KiB`, `10KiB`, `1.5MiB`, `96MiB`.
fn human(n: u64) -> String {
    const BASE: u64 = 1024;
    let mut amount = n;
    // One decimal digit of what was divided away, and whether anything
    // below it was lost: 0 nothing, 1 less than half a digit, 2 half, 3 more.
    let (mut tenths, mut rounding) = (0u64, 0u64);
    let mut exponent = 0usize;
    while amount >= BASE && exponent < 8 {
        let r10 = (amount % BASE) * 10 + tenths;
        let r2 = (r10 % BASE) * 2 + (rounding >> 1);
        amount /= BASE;
        tenths = r10 / BASE;
        rounding = if r2 < BASE {
            u64::from(r2 + rounding != 0)
        } else {
            2 + u64::from(BASE < r2 + rounding)
        };
        exponent += 1;
    }
    let mut decimal = None;
    if exponent > 0 && amount < 10 {
        if rounding > 0 {
            tenths += 1;
            rounding = 0;
            if tenths == 10 {
                amount += 1;
                tenths = 0;
            }
        }
        if amount < 10 {
            decimal = Some(tenths);
            tenths = 0;
        }
    }
    if tenths + rounding > 0 {
        amount += 1;
        if exponent > 0 && amount == BASE && exponent < 8 {
            exponent += 1;
            amount = 1;
            decimal = Some(0);
        }
    }
    let digits = match decimal {
        Some(t) => format!("{amount}.{t}"),
        None => amount.to_string(),
    };
    match exponent {
        0 => format!("{digits}B"),
        e => format!("{digits}{}iB", char::from(b"KMGTPEZY"[e - 1])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures from GNU tar 1.34's `--totals` (sizes of archives it wrote).
    #[test]
    fn human_as_gnu_tar() {
        for (n, want) in [
            (512u64, "512B"),
            (1023, "1023B"),
            (1024, "1.0KiB"),
            (2048, "2.0KiB"),
            (3072, "3.0KiB"),
            (9728, "9.5KiB"),
            (10240, "10KiB"),
            (1505280, "1.5MiB"),
            (15001600, "15MiB"),
            (100003840, "96MiB"),
            (1025, "1.1KiB"),
            (10239, "10KiB"),
            (10241, "11KiB"),
            (1024 * 1024 - 1, "1.0MiB"),
            (10 * 1024 * 1024 + 1, "11MiB"),
        ] {
            assert_eq!(human(n), want, "{n}");
        }
    }

    #[test]
    fn totals() {
        assert_eq!(
            totals_line("written", 10240, 10240.0 / (39.0 * 1048576.0)),
            "Total bytes written: 10240 (10KiB, 39MiB/s)"
        );
        assert_eq!(totals_line("read", 0, 0.0), "Total bytes read: 0 (0B, ?/s)");
    }
}
