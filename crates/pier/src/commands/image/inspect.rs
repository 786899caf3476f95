//! `pier image inspect` and `pier inspect`: the daemon's raw JSON re-indented like docker's
//! `json.Indent(..., "    ")` in one array, `-f json` compact, or a Go template per object. Template
//! data is the raw JSON with docker's typed-struct zero values filled in for absent known fields (so
//! `{{.Config.Entrypoint}}` prints `[]` as docker does) and missing keys an error (docker's fallback
//! runs with `missingkey=error`). Errors: each failure on stderr after the output, exit 1; a bad
//! template exits 64.

use super::super::Ctx;
use crate::client::p;
use crate::error::{CliError, Result};
use crate::format::json_indent;
use crate::template::{Template, Value};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Inspect a specific platform of the multi-platform image
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

fn fill(v: &mut Value, key: &str, zero: Value) {
    if let Value::Map(m) = v {
        match m.iter_mut().find(|(k, _)| k == key) {
            Some((_, x))
                if matches!(x, Value::Nil) && matches!(zero, Value::List(_) | Value::Map(_)) =>
            {
                *x = zero
            }
            Some(_) => {}
            None => m.push((key.to_string(), zero)),
        }
    }
}

/// Zero values of `image.InspectResponse` fields that the JSON may omit or send as null.
pub fn image_defaults(v: &mut Value) {
    let s = || Value::str("");
    for (k, z) in [
        ("Id", s()),
        ("RepoTags", Value::List(vec![])),
        ("RepoDigests", Value::List(vec![])),
        ("Parent", s()),
        ("Comment", s()),
        ("Created", s()),
        ("DockerVersion", s()),
        ("Author", s()),
        ("Config", Value::Nil),
        ("Architecture", s()),
        ("Variant", s()),
        ("Os", s()),
        ("OsVersion", s()),
        ("Size", Value::Int(0)),
        ("Manifests", Value::List(vec![])),
    ] {
        fill(v, k, z);
    }
    if let Value::Map(m) = v {
        for (k, x) in m.iter_mut() {
            if k == "Config" && matches!(x, Value::Map(_)) {
                for (ck, cz) in [
                    ("User", s()),
                    ("ExposedPorts", Value::Map(vec![])),
                    ("Env", Value::List(vec![])),
                    ("Entrypoint", Value::List(vec![])),
                    ("Cmd", Value::List(vec![])),
                    ("Volumes", Value::Map(vec![])),
                    ("WorkingDir", s()),
                    ("Labels", Value::Map(vec![])),
                    ("OnBuild", Value::List(vec![])),
                    ("StopSignal", s()),
                    ("Shell", Value::List(vec![])),
                    ("ArgsEscaped", Value::Bool(false)),
                ] {
                    fill(x, ck, cz);
                }
            }
            if k == "RootFS" {
                fill(x, "Type", s());
                fill(x, "Layers", Value::List(vec![]));
            }
            if k == "GraphDriver" {
                fill(x, "Name", s());
                fill(x, "Data", Value::Map(vec![]));
            }
        }
    }
}

/// Print inspect results the way docker's `inspect.Inspect` does. `found` holds raw JSON objects in
/// order; `errors` the failures, printed after.
pub fn print(
    format: Option<&str>,
    found: &[Vec<u8>],
    defaults: fn(&mut Value),
    errors: Vec<CliError>,
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match format.filter(|f| !f.is_empty()) {
        None | Some("json") => {
            let compact = format.is_some();
            if found.is_empty() {
                stdout.write_all(b"[]\n")?;
            } else {
                let mut joined = Vec::from(&b"["[..]);
                for (i, r) in found.iter().enumerate() {
                    if i > 0 {
                        joined.push(b',');
                    }
                    joined.extend_from_slice(r);
                }
                joined.push(b']');
                let text = if compact {
                    json_indent::compact(&joined)
                } else {
                    json_indent::indent(&joined, "    ")
                };
                let text =
                    text.ok_or_else(|| CliError::Protocol("invalid JSON from daemon".into()))?;
                stdout.write_all(text.as_bytes())?;
                stdout.write_all(b"\n")?;
            }
        }
        Some(f) => {
            let tmpl = Template::parse(f).map_err(|e| CliError::Flag {
                message: format!("template parsing error: {e}"),
                code: 64,
            })?;
            let mut buf = String::new();
            let mut errors = errors;
            for raw in found {
                let mut v = Value::from_json_bytes(raw)
                    .map_err(|e| CliError::Protocol(format!("unable to read inspect data: {e}")))?;
                defaults(&mut v);
                match tmpl.execute_strict(&v) {
                    Ok(s) => {
                        buf.push_str(&s);
                        buf.push('\n');
                    }
                    Err(e) => errors.push(CliError::Usage(format!("template parsing error: {e}"))),
                }
            }
            if buf.is_empty() {
                buf.push('\n');
            }
            stdout.write_all(buf.as_bytes())?;
            return finish(errors);
        }
    }
    finish(errors)
}

fn finish(errors: Vec<CliError>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let msg: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    Err(CliError::Usage(msg.join("\n")))
}

pub async fn fetch_image(ctx: &mut Ctx, name: &str, platform: Option<&str>) -> Result<Vec<u8>> {
    let mut path = format!("/images/{}/json", p(name));
    if let Some(pl) = platform {
        let (os, rest) = pl.split_once('/').unwrap_or((pl, ""));
        let (arch, variant) = rest.split_once('/').unwrap_or((rest, ""));
        let mut obj = serde_json::json!({"os": os, "architecture": arch});
        if !variant.is_empty() {
            obj["variant"] = serde_json::Value::String(variant.to_string());
        }
        path = format!("{path}?platform={}", crate::client::q(&obj.to_string()));
    }
    Ok(ctx.client.get_bytes(&path).await?.to_vec())
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &args.images {
        match fetch_image(ctx, name, args.platform.as_deref()).await {
            Ok(raw) => found.push(raw),
            Err(e @ (CliError::Connect(_) | CliError::Permission(..))) => return Err(e),
            Err(e) => errors.push(e),
        }
    }
    print(args.format.as_deref(), &found, image_defaults, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_absent_and_null_fields() {
        let mut v =
            Value::from_json_bytes(br#"{"Id":"x","RepoDigests":null,"Config":{"Cmd":["sh"]}}"#)
                .unwrap();
        image_defaults(&mut v);
        let t = Template::parse(
            "{{.Config.Entrypoint}} {{.RepoDigests}} {{.Config.Labels}} {{.Config.Cmd}} {{.Size}}",
        )
        .unwrap();
        assert_eq!(t.execute_strict(&v).unwrap(), "[] [] map[] [sh] 0");
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .execute_strict(&v)
            .unwrap_err();
        assert!(
            e.to_string().ends_with("map has no entry for key \"Nope\""),
            "{e}"
        );
    }
}
