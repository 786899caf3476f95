//! `pier image inspect`, and the output half of every inspect command ([`print`]): the daemon's raw
//! JSON re-indented like docker's `json.Indent(..., "    ")` in one array, `-f json` compact, or a Go
//! template per object, run over docker's typed struct for that object first (Go field names, zero
//! values for absent fields) and, when that fails, over the raw JSON with `missingkey=error`, as
//! docker's inspector does. Errors: each failure on stderr after the output, exit 1; a bad template
//! exits 64.

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

/// The typed view docker's image inspect templates run over first (`image.InspectResponse`).
pub fn image_typed(raw: &Value) -> Value {
    crate::template::typed::typed(raw, &crate::template::typed::IMAGE_INSPECT)
}

/// How to build the typed view of an object; `None`: no typed model, the raw map (strict) only.
pub type TypedFn = Option<fn(&Value) -> Value>;

/// Print inspect results the way docker's `inspect.Inspect` does. `found` holds raw JSON objects in
/// order, each with its typed view; `errors` the failures, printed after.
pub fn print(
    format: Option<&str>,
    found: &[(Vec<u8>, TypedFn)],
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
                for (i, (r, _)) in found.iter().enumerate() {
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
            for (raw, typed) in found {
                let raw = Value::from_json_bytes(raw)
                    .map_err(|e| CliError::Protocol(format!("unable to read inspect data: {e}")))?;
                // docker: the typed struct first; on failure the raw map with missingkey=error.
                let result = match typed {
                    Some(t) => tmpl
                        .execute(&t(&raw))
                        .or_else(|_| tmpl.execute_strict(&raw)),
                    None => tmpl.execute_strict(&raw),
                };
                match result {
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
            Ok(raw) => found.push((raw, Some(image_typed as fn(&Value) -> Value))),
            Err(e @ (CliError::Connect(_) | CliError::Permission(..))) => return Err(e),
            Err(e) => errors.push(e),
        }
    }
    print(args.format.as_deref(), &found, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_first_then_raw_fallback() {
        let raw = Value::from_json_bytes(
            br#"{"Id":"x","RepoDigests":null,"Config":{"Cmd":["sh"],"Hostname":"h"},"Extra":1}"#,
        )
        .unwrap();
        let t = Template::parse("{{.Config.Entrypoint}} {{.RepoDigests}} {{.Config.Labels}} {{.Config.Cmd}} {{.Size}} {{.Descriptor}}").unwrap();
        assert_eq!(
            t.execute(&image_typed(&raw)).unwrap(),
            "[] [] map[] [sh] 0 <nil>"
        );
        let t = Template::parse("{{json .Config}}").unwrap();
        assert_eq!(t.execute(&image_typed(&raw)).unwrap(), r#"{"Cmd":["sh"]}"#);
        // Unknown to the struct: docker falls back to the raw map.
        let t = Template::parse("{{.Config.Hostname}} {{.Extra}}").unwrap();
        assert!(t.execute(&image_typed(&raw)).is_err());
        assert_eq!(t.execute_strict(&raw).unwrap(), "h 1");
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .execute_strict(&raw)
            .unwrap_err();
        assert!(
            e.to_string().ends_with("map has no entry for key \"Nope\""),
            "{e}"
        );
    }
}
