//! `pier logs` (`-f`, `--tail`, `--since`, `--until`, `-t`, `--details`): `GET /containers/{id}/logs`
//! streamed to stdout/stderr, demultiplexed from docker's stdcopy frames unless the container has a
//! tty. `--since/--until` take RFC 3339 times, Unix timestamps or Go durations ("10m") as docker's
//! `timetypes.GetTimestamp`.

use super::super::Ctx;
use crate::client::{p, q};
use crate::error::{CliError, Result};
use crate::stream::{write_frames, Demux};
use http::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Go's `time.ParseDuration` for the units docker's users write (h, m, s, ms, us, ns), in seconds.
pub fn go_duration_secs(s: &str) -> Option<f64> {
    let mut rest = s;
    let neg = rest.starts_with('-');
    rest = rest.trim_start_matches(['-', '+']);
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mul = match &rest[..u_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * mul;
        rest = &rest[u_end..];
    }
    Some(if neg { -total } else { total })
}

/// docker's `timetypes.GetTimestamp`: the API's `seconds.nanoseconds` form for a user's time value.
pub fn get_timestamp(value: &str, now: f64) -> std::result::Result<String, String> {
    if let Some(d) = go_duration_secs(value) {
        return Ok(fix_nanos(&format!("{:.9}", now - d)));
    }
    if value.chars().all(|c| c.is_ascii_digit() || c == '.') && !value.is_empty() {
        return Ok(value.to_string());
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|n| n.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M").map(|n| n.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        })
        .map_err(|_| {
            format!(
                "parsing time \"{value}\" as \"2006-01-02\": cannot parse \"{value}\" as \"2006\""
            )
        })?;
    Ok(format!(
        "{}.{:09}",
        parsed.timestamp(),
        parsed.timestamp_subsec_nanos()
    ))
}

fn fix_nanos(s: &str) -> String {
    match s.split_once('.') {
        Some((a, b)) => format!("{a}.{:0<9}", &b[..b.len().min(9)]),
        None => format!("{s}.000000000"),
    }
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let info: serde_json::Value = ctx
        .client
        .get_json(&format!("/containers/{}/json", p(&a.container)))
        .await?;
    let tty = info
        .pointer("/Config/Tty")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9;
    let mut query = vec!["stdout=1".to_string(), "stderr=1".to_string()];
    if let Some(s) = &a.since {
        let t = get_timestamp(s, now).map_err(CliError::Usage)?;
        query.push(format!("since={}", q(&t)));
    }
    if let Some(u) = &a.until {
        let t = get_timestamp(u, now).map_err(CliError::Usage)?;
        query.push(format!("until={}", q(&t)));
    }
    if a.timestamps {
        query.push("timestamps=1".into());
    }
    if a.details {
        query.push("details=1".into());
    }
    if a.follow {
        query.push("follow=1".into());
    }
    query.push(format!("tail={}", q(&a.tail)));
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!("/containers/{}/logs?{}", p(&a.container), query.join("&")),
            &[],
            crate::client::empty(),
        )
        .await?;
    use http_body_util::BodyExt;
    let mut body = resp.into_body();
    let mut demux = Demux::default();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| CliError::Protocol(format!("error reading response: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if tty {
                let mut o = std::io::stdout().lock();
                o.write_all(&data)?;
                o.flush()?;
            } else {
                write_frames(demux.push(&data)?)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_timestamps() {
        assert_eq!(go_duration_secs("10m"), Some(600.0));
        assert_eq!(go_duration_secs("1h30m"), Some(5400.0));
        assert_eq!(go_duration_secs("x"), None);
        assert_eq!(get_timestamp("10s", 100.0).unwrap(), "90.000000000");
        assert_eq!(get_timestamp("1700000000", 0.0).unwrap(), "1700000000");
        assert_eq!(
            get_timestamp("2013-01-02T13:23:37Z", 0.0).unwrap(),
            "1357133017.000000000"
        );
        assert!(get_timestamp("garbage", 0.0).is_err());
    }
}
