//! Time stamps as Go's `time.RFC3339Nano` prints them in UTC (what docker writes in json-file
//! logs and in `FinishedAt`): `2024-05-01T12:00:00.1234Z` — trailing zeros of the fraction are
//! dropped, and the fraction entirely when it is zero.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, formatted.
pub fn now_rfc3339_nano() -> String {
    format_rfc3339_nano(SystemTime::now())
}

/// Format a time (times before 1970 print as the epoch).
pub fn format_rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_format() {
        let t = |s: u64, n: u32| format_rfc3339_nano(UNIX_EPOCH + Duration::new(s, n));
        assert_eq!(t(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(t(1_700_000_000, 120_000_000), "2023-11-14T22:13:20.12Z");
        assert_eq!(t(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(
            t(4_107_542_399, 999_999_999),
            "2100-02-28T23:59:59.999999999Z"
        );
    }
}
