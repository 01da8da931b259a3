//! Dates given on the command line (`create --mtime`) and in
//! `SOURCE_DATE_EPOCH`, parsed with `jiff`.
//!
//! Forms: `@SECONDS[.FRACTION]` (seconds since the epoch, UTC);
//! `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.FRACTION]]` (or with `T` between
//! date and time), in local time as GNU tar reads them (the `TZ`
//! variable, else `/etc/localtime`); the same with an offset or `Z`
//! (RFC 3339), which is that instant wherever the archive is made.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::entry::Time;

/// Parse a date in one of the forms of the module's documentation.
///
/// # Errors
/// The text is none of them, or names a time that does not exist; the
/// message says which forms there are.
pub fn parse_date(s: &str) -> Result<Time, String> {
    let s = s.trim();
    if let Some(epoch) = s.strip_prefix('@') {
        return parse_epoch(epoch).ok_or_else(|| {
            format!("{s:?}: not a number of seconds after @ (e.g. @1700000000 or @1700000000.5)")
        });
    }
    // An offset first: read as a civil date-time, `03:04+01:00` would lose it.
    let ts = match s.parse::<Timestamp>() {
        Ok(ts) => ts,
        Err(_) => s
            .parse::<DateTime>()
            .and_then(|dt| TimeZone::system().to_timestamp(dt))
            .map_err(|e| {
                format!(
                    "{s:?}: not a date ({e}); give @SECONDS, YYYY-MM-DD, \
                     YYYY-MM-DD HH:MM[:SS] (local time) or RFC 3339 with an offset"
                )
            })?,
    };
    Ok(Time {
        sec: ts.as_second(),
        // A timestamp's fraction is never negative, and below 10^9.
        nsec: ts.subsec_nanosecond().unsigned_abs(),
    })
}

/// `SECONDS[.FRACTION]`, optionally negative: seconds since the epoch.
fn parse_epoch(s: &str) -> Option<Time> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 9 {
        return None;
    }
    let sec: i64 = whole.parse().ok()?;
    let nsec: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    if !neg {
        return Some(Time { sec, nsec });
    }
    // -1.25 is 1.25 s before the epoch: second -2, 0.75 s into it.
    Some(match nsec {
        0 => Time { sec: -sec, nsec: 0 },
        n => Time {
            sec: -sec - 1,
            nsec: 1_000_000_000 - n,
        },
    })
}

/// The time `SOURCE_DATE_EPOCH` holds: an integer number of seconds since
/// the epoch, as `date +%s` prints it (the reproducible-builds
/// specification).
///
/// # Errors
/// Anything else; the message names the variable.
pub fn source_date_epoch(value: &str) -> Result<Time, String> {
    let ok = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<i64>() {
        Ok(sec) if ok => Ok(Time { sec, nsec: 0 }),
        _ => Err(format!(
            "SOURCE_DATE_EPOCH={value:?} is not an integer number of seconds since 1970 \
             (as `date +%s` prints); fix or unset it, or give --mtime"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(sec: i64, nsec: u32) -> Time {
        Time { sec, nsec }
    }

    #[test]
    fn dates_in_every_form() {
        // Dates without an offset are in the system's time zone, whatever
        // the test machine's is.
        let local = |s: &str| {
            let dt: DateTime = s.parse().unwrap();
            let ts = TimeZone::system().to_timestamp(dt).unwrap();
            t(ts.as_second(), ts.subsec_nanosecond() as u32)
        };
        for (s, want) in [
            ("@0", t(0, 0)),
            ("@1700000000", t(1_700_000_000, 0)),
            ("@1700000000.5", t(1_700_000_000, 500_000_000)),
            ("@-1.25", t(-2, 750_000_000)),
            ("2023-11-14T22:13:20Z", t(1_700_000_000, 0)),
            ("2023-11-14 23:13:20+01:00", t(1_700_000_000, 0)),
            (
                "2023-11-14T22:13:20.123456789Z",
                t(1_700_000_000, 123_456_789),
            ),
            ("2024-01-02", local("2024-01-02T00:00:00")),
            ("2024-01-02 03:04", local("2024-01-02T03:04:00")),
            ("2024-01-02 03:04:05", local("2024-01-02T03:04:05")),
        ] {
            assert_eq!(parse_date(s), Ok(want), "{s}");
        }
        for bad in ["@", "@x", "@1.2345678901", "yesterday", "2024-13-01", "@ 5"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn source_date_epoch_is_an_integer() {
        assert_eq!(source_date_epoch("1700000000"), Ok(t(1_700_000_000, 0)));
        for bad in ["", "-5", "1.5", " 1", "1e9", "99999999999999999999"] {
            let e = source_date_epoch(bad).unwrap_err();
            assert!(e.contains("SOURCE_DATE_EPOCH"), "{bad}: {e}");
        }
    }
}
