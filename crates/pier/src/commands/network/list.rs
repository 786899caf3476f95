//! `pier network ls`: `GET /networks` (`--filter`), sorted by name in natural order
//! (`sortorder.NaturalLess`), printed with docker's network formats: the `NETWORK ID  NAME  DRIVER
//! SCOPE` table, `-q` ids, `--no-trunc` full ids, `json`, `raw`, or a template over docker's
//! `networkContext` fields (ID, Name, Driver, Scope, IPv4, IPv6, Internal, Labels, CreatedAt).

use super::super::{filters_json, Ctx};
use crate::client::q;
use crate::error::Result;
use crate::format::{self, truncate_id};
use crate::template::Value;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short, long)]
    pub filter: Vec<String>,
}

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// docker's network `NewFormat`.
fn network_format(source: &str, quiet: bool) -> String {
    match source {
        format::TABLE if quiet => "{{.ID}}".into(),
        format::TABLE => DEFAULT_TABLE.into(),
        "raw" if quiet => "network_id: {{.ID}}".into(),
        "raw" => {
            "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n".into()
        }
        other => other.into(),
    }
}

fn header() -> Value {
    let h = |k: &str, v: &str| (k.to_string(), Value::str(v));
    Value::Map(vec![
        h("CreatedAt", "CREATED AT"),
        h("Driver", "DRIVER"),
        h("ID", "NETWORK ID"),
        h("IPv4", "IPV4"),
        h("IPv6", "IPV6"),
        h("Internal", "INTERNAL"),
        h("Labels", "LABELS"),
        h("Name", "NAME"),
        h("Scope", "SCOPE"),
    ])
}

static NETWORK_CONTEXT: crate::template::typed::StructType =
    crate::template::typed::context("*network.networkContext");

/// Go's `time.Time.String()` of an RFC 3339 timestamp ("2006-01-02 15:04:05.999999999 -0700 MST");
/// the text as given when it does not parse.
fn go_time(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let off = t.format("%z").to_string();
    let zone = if t.offset().local_minus_utc() == 0 && rfc3339.ends_with(['Z', 'z']) {
        "UTC".to_string()
    } else {
        off.clone()
    };
    format!("{s} {off} {zone}")
}

fn row(n: &serde_json::Value, trunc: bool) -> Value {
    let s = |k: &str| n[k].as_str().unwrap_or("").to_string();
    let b = |k: &str| n[k].as_bool().unwrap_or(false).to_string();
    let id = if trunc {
        truncate_id(&s("Id"))
    } else {
        s("Id")
    };
    let mut labels: Vec<String> = n["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    let f = |k: &str, v: String| (k.to_string(), Value::Str(v));
    Value::Struct(
        &NETWORK_CONTEXT,
        vec![
            f("CreatedAt", go_time(&s("Created"))),
            f("Driver", s("Driver")),
            f("ID", id),
            f("IPv4", b("EnableIPv4")),
            f("IPv6", b("EnableIPv6")),
            f("Internal", b("Internal")),
            f("Labels", labels.join(",")),
            f("Name", s("Name")),
            f("Scope", s("Scope")),
        ],
    )
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let mut path = String::from("/networks");
    if let Some(f) = filters_json(&a.filter)? {
        path.push_str(&format!("?filters={}", q(&f)));
    }
    let mut nets: Vec<serde_json::Value> = ctx.client.get_json(&path).await?;
    nets.sort_by(|x, y| {
        format::natural_cmp(
            x["Name"].as_str().unwrap_or(""),
            y["Name"].as_str().unwrap_or(""),
        )
    });
    let source = match &a.format {
        Some(f) if !f.is_empty() => f.clone(),
        _ => match ctx
            .config_file()
            .get("networksFormat")
            .and_then(|v| v.as_str())
        {
            Some(f) if !f.is_empty() && !a.quiet => f.to_string(),
            _ => format::TABLE.to_string(),
        },
    };
    let rows: Vec<Value> = nets.iter().map(|n| row(n, !a.no_trunc)).collect();
    let out = format::render(&network_format(&source, a.quiet), &header(), &rows)?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_quiet_and_time() {
        let nets = [
            serde_json::json!({"Name":"bridge","Id":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","Driver":"bridge","Scope":"local","Created":"2026-11-22T21:00:00.120Z","Labels":{"b":"2","a":"1"}}),
        ];
        let rows: Vec<Value> = nets.iter().map(|n| row(n, true)).collect();
        let out = format::render(&network_format("table", false), &header(), &rows).unwrap();
        assert_eq!(
            out,
            "NETWORK ID     NAME      DRIVER    SCOPE\na1b2c3d4e5f6   bridge    bridge    local\n"
        );
        let q = format::render(&network_format("table", true), &header(), &rows).unwrap();
        assert_eq!(q, "a1b2c3d4e5f6\n");
        let t = format::render("{{.CreatedAt}}|{{.Labels}}|{{.IPv6}}", &header(), &rows).unwrap();
        assert_eq!(t, "2026-11-22 21:00:00.12 +0000 UTC|a=1,b=2|false\n");
        assert_eq!(
            go_time("2026-11-22T22:00:00+01:00"),
            "2026-11-22 22:00:00 +0100 +0100"
        );
    }
}
