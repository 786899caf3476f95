//! Timestamps as Go prints them: docker's JSON carries RFC 3339 with nanoseconds and trailing
//! zeros dropped (`time.RFC3339Nano`), e.g. "2024-09-26T21:31:42Z", "2026-11-22T19:03:03.5Z".

use chrono::{DateTime, FixedOffset, Utc};

/// Go's `time.Time.Format(time.RFC3339Nano)`.
pub fn rfc3339_nano(t: &DateTime<FixedOffset>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        let s = format!(".{nanos:09}");
        s.trim_end_matches('0').to_string()
    };
    let offset = t.offset().local_minus_utc();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let o = offset.abs();
        format!("{sign}{:02}:{:02}", o / 3600, (o % 3600) / 60)
    };
    format!("{base}{frac}{zone}")
}

pub fn now_rfc3339_nano() -> String {
    rfc3339_nano(&Utc::now().fixed_offset())
}

/// Parses an RFC 3339 timestamp from an image config (as Go's `time.Time` unmarshals it).
pub fn parse(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// The zero `time.Time`, as docker prints an unset `LastTagTime`.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let t = parse("2024-09-26T21:31:42Z").unwrap();
        assert_eq!(rfc3339_nano(&t), "2024-09-26T21:31:42Z");
        let t = parse("2024-09-26T21:31:42.500000000Z").unwrap();
        assert_eq!(rfc3339_nano(&t), "2024-09-26T21:31:42.5Z");
        let t = parse("2022-02-04T21:20:12.497794809+01:00").unwrap();
        assert_eq!(rfc3339_nano(&t), "2022-02-04T21:20:12.497794809+01:00");
        assert!(parse("yesterday").is_none());
    }
}
