//! Filter vocabulary shared by list and prune calls: docker's glob for `reference`
//! (Go's `path.Match`), `label` matching, and `until`/timestamp values (Go durations, unix
//! times, RFC 3339 and plain dates, as `timetypes.GetTimestamp`).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};

use super::{EngineError, Result};

/// Filter name → accepted values (`filters` of a request).
pub type Filters = BTreeMap<String, Vec<String>>;

/// Refuses filter names outside `allowed`, with dockerd's message.
pub fn check_keys(filters: &Filters, allowed: &[&str]) -> Result<()> {
    for k in filters.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(EngineError::InvalidParameter(format!(
                "invalid filter '{k}'"
            )));
        }
    }
    Ok(())
}

/// A boolean filter value ("true"/"1"/"false"/"0"), `default` when the filter is absent.
pub fn bool_value(filters: &Filters, key: &str, default: bool) -> Result<bool> {
    let Some(values) = filters.get(key) else {
        return Ok(default);
    };
    let Some(v) = values.first() else {
        return Ok(default);
    };
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(EngineError::InvalidParameter(format!(
            "invalid filter '{key}={v}'"
        ))),
    }
}

/// docker's `MatchKVList`: every `key` or `key=value` in `wanted` is in `labels`.
pub fn labels_match(wanted: &[String], labels: Option<&BTreeMap<String, String>>) -> bool {
    wanted.iter().all(|w| {
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (w.as_str(), None),
        };
        match labels.and_then(|l| l.get(k)) {
            None => false,
            Some(have) => v.is_none_or(|v| v == have),
        }
    })
}

/// Go's `path.Match`: `*` (any run of non-`/`), `?` (one non-`/`), `[...]` classes with
/// ranges and `^` negation, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob(&p, &n).map_err(|_| EngineError::InvalidParameter("syntax error in pattern".into()))
}

fn glob(p: &[char], n: &[char]) -> std::result::Result<bool, ()> {
    if p.is_empty() {
        return Ok(n.is_empty());
    }
    match p[0] {
        '*' => {
            // Try every split that does not cross a '/'.
            let mut i = 0;
            loop {
                if glob(&p[1..], &n[i..])? {
                    return Ok(true);
                }
                if i == n.len() || n[i] == '/' {
                    // Still validate the rest of the pattern for syntax errors.
                    return Ok(false);
                }
                i += 1;
            }
        }
        '?' => Ok(!n.is_empty() && n[0] != '/' && glob(&p[1..], &n[1..])?),
        '[' => {
            let (matched, rest) = class(&p[1..], n.first().copied())?;
            Ok(matched && !n.is_empty() && n[0] != '/' && glob(rest, &n[1..])?)
        }
        '\\' => {
            let c = *p.get(1).ok_or(())?;
            Ok(!n.is_empty() && n[0] == c && glob(&p[2..], &n[1..])?)
        }
        c => Ok(!n.is_empty() && n[0] == c && glob(&p[1..], &n[1..])?),
    }
}

/// A character class after '['; returns whether `c` matched and the pattern after ']'.
fn class(p: &[char], c: Option<char>) -> std::result::Result<(bool, &[char]), ()> {
    let mut i = 0;
    let negate = p.first() == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i).ok_or(())?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i).ok_or(())?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|x| *x != ']') {
            i += 1;
            hi = if p[i] == '\\' {
                i += 1;
                *p.get(i).ok_or(())?
            } else {
                p[i]
            };
            i += 1;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    Ok((matched != negate, &p[i..]))
}

/// docker's `timetypes.GetTimestamp` for `until`/`since` values, relative to `now`.
pub fn parse_timestamp(value: &str, now: DateTime<Utc>) -> Result<DateTime<FixedOffset>> {
    let bad = || EngineError::InvalidParameter(format!("invalid timestamp: {value:?}"));
    if let Some(d) = parse_go_duration(value) {
        return Ok((now - d).fixed_offset());
    }
    if let Ok(secs) = value.parse::<f64>() {
        let whole = secs.trunc() as i64;
        let nanos = ((secs - secs.trunc()) * 1e9).round() as u32;
        return DateTime::from_timestamp(whole, nanos)
            .map(|t| t.fixed_offset())
            .ok_or_else(bad);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, fmt) {
            return Ok(t.and_utc().fixed_offset());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .fixed_offset());
    }
    Err(bad())
}

/// Go's `time.ParseDuration` ("1h30m", "10m", "1.5s", "300ms").
fn parse_go_duration(s: &str) -> Option<chrono::Duration> {
    let s = s.trim();
    if s.is_empty() || s.parse::<f64>().is_ok() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * mult;
    }
    Some(chrono::Duration::nanoseconds((total * 1e9) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_is_go_path_match() {
        let m = |p: &str, n: &str| glob_match(p, n).unwrap();
        assert!(m("busybox", "busybox"));
        assert!(m("busy*", "busybox"));
        assert!(m("*:latest", "busybox:latest"));
        assert!(!m("*", "127.0.0.1:5000/x"));
        assert!(m("*/*", "127.0.0.1:5000/x"));
        assert!(m("b?sybox", "busybox"));
        assert!(m("[a-c]usybox", "busybox"));
        assert!(!m("[^a-c]usybox", "busybox"));
        assert!(m("\\*x", "*x"));
        assert!(glob_match("[", "x").is_err());
    }

    #[test]
    fn labels_and_bools() {
        let mut l = BTreeMap::new();
        l.insert("a".to_string(), "1".to_string());
        assert!(labels_match(&["a".into()], Some(&l)));
        assert!(labels_match(&["a=1".into()], Some(&l)));
        assert!(!labels_match(&["a=2".into()], Some(&l)));
        assert!(!labels_match(&["b".into()], None));
        assert!(labels_match(&[], None));
        let mut f = Filters::new();
        f.insert("dangling".into(), vec!["xyz".into()]);
        assert_eq!(
            bool_value(&f, "dangling", true).unwrap_err().to_string(),
            "invalid filter 'dangling=xyz'"
        );
        assert!(!bool_value(&Filters::new(), "dangling", false).unwrap());
        assert_eq!(
            check_keys(&f, &["label"]).unwrap_err().to_string(),
            "invalid filter 'dangling'"
        );
    }

    #[test]
    fn timestamps() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = |s: &str| parse_timestamp(s, now).unwrap().timestamp();
        assert_eq!(t("1h30m"), now.timestamp() - 5400);
        assert_eq!(t("10m"), now.timestamp() - 600);
        assert_eq!(t("1700000000"), 1_700_000_000);
        assert_eq!(t("2026-01-01"), now.timestamp() - 12 * 3600);
        assert_eq!(t("2026-01-01T11:00:00Z"), now.timestamp() - 3600);
        assert!(parse_timestamp("soon", now).is_err());
    }
}
