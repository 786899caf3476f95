//! docker's `go-units` helpers: `HumanSizeWithPrecision` (decimal units, Go's `%.*g`), `HumanSize`
//! (4 significant digits), `BytesSize` (binary units), `HumanDuration` ("About a minute", "2 hours"),
//! and `RAMInBytes`-style parsing is not needed yet.

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn size_and_unit(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// Go's `fmt.Sprintf("%.*g", prec, x)`.
pub fn go_g(x: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if x == 0.0 {
        return "0".to_string();
    }
    let s = format!("{:.*e}", prec - 1, x);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let (sign, e) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
        format!("{mant}e{sign}{e:02}")
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, x)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (s, unit) = size_and_unit(size, 1000.0, &DECIMAL);
    format!("{}{}", go_g(s, precision), unit)
}

pub fn human_size(size: f64) -> String {
    human_size_with_precision(size, 4)
}

pub fn bytes_size(size: f64) -> String {
    let (s, unit) = size_and_unit(size, 1024.0, &BINARY);
    format!("{}{}", go_g(s, 4), unit)
}

pub use pier_api::units::human_duration;

/// "N ago" for a Unix timestamp, as docker's CreatedSince.
pub fn since(unix: i64) -> String {
    let now = chrono::Utc::now();
    let then = chrono::DateTime::from_timestamp(unix, 0).unwrap_or(now);
    let d = (now - then).num_milliseconds() as f64 / 1000.0;
    format!("{} ago", human_duration(d))
}

/// Go's `time.Unix(t, 0).String()` in the local zone: "2024-01-02 15:04:05 +0000 UTC".
pub fn go_time_string(unix: i64) -> String {
    use chrono::TimeZone;
    let Some(t) = chrono::Local.timestamp_opt(unix, 0).single() else {
        return String::new();
    };
    let offset = t.format("%z").to_string();
    let zone = if offset == "+0000" {
        "UTC".to_string()
    } else {
        offset.clone()
    };
    format!("{} {} {}", t.format("%Y-%m-%d %H:%M:%S"), offset, zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size_with_precision(0.0, 3), "0B");
        assert_eq!(human_size_with_precision(999.0, 3), "999B");
        assert_eq!(human_size_with_precision(1000.0, 3), "1kB");
        assert_eq!(human_size_with_precision(1_981_440.0, 3), "1.98MB");
        assert_eq!(human_size_with_precision(4_261_550.0, 3), "4.26MB");
        assert_eq!(human_size_with_precision(10_400_000.0, 3), "10.4MB");
        assert_eq!(human_size_with_precision(123_456.0, 3), "123kB");
        assert_eq!(human_size_with_precision(999_999.0, 3), "1e+03kB");
        assert_eq!(human_size_with_precision(77_800_000.0, 3), "77.8MB");
        assert_eq!(human_size(1_981_440.0), "1.981MB");
        assert_eq!(human_size(32.0), "32B");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
    }
}
