//! `pier events` / `pier system events` (`--since`, `--until`, `-f/--filter`, `--format`): the
//! daemon's `GET /events` stream printed as docker's `prettyPrintEvent` does (local RFC 3339 time
//! with nanoseconds, type, action, actor id, sorted `(k=v, ...)` attributes), or through a Go
//! template per event (`json` for `{{json .}}`). It lives with the container commands because
//! container events are its main use.

use super::super::{filters_json, Ctx};
use crate::client::{empty, q};
use crate::error::{CliError, Result};
use crate::template::{Template, Value};
use http::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Filter output based on conditions provided
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
}

/// Go's `RFC3339NanoFixed` in the local zone ("Z" when the offset is zero).
pub fn rfc3339_nano_fixed(nanos: i64) -> String {
    use chrono::TimeZone;
    let secs = nanos.div_euclid(1_000_000_000);
    let ns = nanos.rem_euclid(1_000_000_000) as u32;
    let Some(t) = chrono::Local.timestamp_opt(secs, ns).single() else {
        return String::new();
    };
    let base = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    if t.offset().local_minus_utc() == 0 {
        format!("{base}Z")
    } else {
        format!("{base}{}", t.format("%:z"))
    }
}

/// docker's `prettyPrintEvent`.
pub fn pretty(ev: &serde_json::Value) -> String {
    let mut out = String::new();
    let time_nano = ev["timeNano"].as_i64().unwrap_or(0);
    let time = ev["time"].as_i64().unwrap_or(0);
    if time_nano != 0 {
        out.push_str(&rfc3339_nano_fixed(time_nano));
        out.push(' ');
    } else if time != 0 {
        out.push_str(&rfc3339_nano_fixed(time * 1_000_000_000));
        out.push(' ');
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    out.push_str(&format!(
        "{} {} {}",
        s(&ev["Type"]),
        s(&ev["Action"]),
        s(&ev["Actor"]["ID"])
    ));
    if let Some(attrs) = ev["Actor"]["Attributes"]
        .as_object()
        .filter(|a| !a.is_empty())
    {
        let mut kv: Vec<(&String, String)> = attrs.iter().map(|(k, v)| (k, s(v))).collect();
        kv.sort();
        let parts: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(" ({})", parts.join(", ")));
    }
    out.push('\n');
    out
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let tmpl = match a.format.as_deref() {
        None | Some("") => None,
        Some(f) => Some(
            Template::parse(&crate::format::final_format(f))
                .map_err(|e| CliError::Usage(format!("template parsing error: {e}")))?,
        ),
    };
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9;
    let mut query = Vec::new();
    if let Some(s) = &a.since {
        let t = super::logs::get_timestamp(s, now).map_err(CliError::Usage)?;
        query.push(format!("since={}", q(&t)));
    }
    if let Some(u) = &a.until {
        let t = super::logs::get_timestamp(u, now).map_err(CliError::Usage)?;
        query.push(format!("until={}", q(&t)));
    }
    if let Some(f) = filters_json(&a.filter)? {
        query.push(format!("filters={}", q(&f)));
    }
    let path = if query.is_empty() {
        "/events".to_string()
    } else {
        format!("/events?{}", query.join("&"))
    };
    let resp = ctx.client.request(Method::GET, &path, &[], empty()).await?;
    use http_body_util::BodyExt;
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| CliError::Protocol(format!("error reading response: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let line = &line[..line.len() - 1];
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let text = match &tmpl {
                None => {
                    let ev: serde_json::Value = serde_json::from_slice(line)
                        .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))?;
                    pretty(&ev)
                }
                Some(t) => {
                    let v = Value::from_json_bytes(line)
                        .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))?;
                    let mut s = t.execute(&v).map_err(|e| CliError::Usage(e.to_string()))?;
                    s.push('\n');
                    s
                }
            };
            let mut o = std::io::stdout().lock();
            if let Err(e) = o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
                // A closed reader (`| head`) ends the stream quietly, as Go's SIGPIPE exit would.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(e.into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_event_like_docker() {
        std::env::set_var("TZ", "UTC");
        let ev: serde_json::Value = serde_json::from_str(r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"t1","image":"busybox"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}"#).unwrap();
        assert_eq!(
            pretty(&ev),
            "2023-11-14T22:13:20.123456789Z container start abc (image=busybox, name=t1)\n"
        );
    }
}
