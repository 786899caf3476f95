//! `pier version`: docker's layout (Client / Server with Engine and other components, aligned by a
//! tabwriter with minwidth 20 and padding 1), `--format` templates over `.Client` / `.Server`. The
//! client section names pier (`Client: Pier`) and omits docker's Go-toolchain lines. A daemon error
//! is reported after the client section is printed, as docker does.

use super::super::Ctx;
use super::client_version;
use crate::error::{CliError, Result};
use crate::format::tabwriter::TabWriter;
use crate::template::typed::{typed, Field, Kind, StructType, CLIENT_VERSION, SERVER_VERSION};
use crate::template::{Template, Value};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
}

const TEMPLATE: &str = "{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name \"\"}} {{.Platform.Name}}{{end}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name \"\"}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name \"Engine\" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details \"ApiVersion\"}} (minimum version {{index .Details \"MinAPIVersion\"}})
  Go version:\t{{index .Details \"GoVersion\"}}
  Git commit:\t{{index .Details \"GitCommit\"}}
  Built:\t{{index .Details \"BuildTime\"}}
  OS/Arch:\t{{index .Details \"Os\"}}/{{index .Details \"Arch\"}}
  Experimental:\t{{index .Details \"Experimental\"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key, $value := $component.Details}}
  {{$key}}:\t{{$value}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}";

/// docker's `versionInfo`.
static VERSION_INFO: StructType = StructType {
    name: "system.versionInfo",
    fields: &[
        Field {
            name: "Client",
            json: "Client",
            omitempty: false,
            kind: Kind::Struct(&CLIENT_VERSION),
        },
        Field {
            name: "Server",
            json: "Server",
            omitempty: false,
            kind: Kind::Ptr(&SERVER_VERSION),
        },
    ],
    groups: &[],
    marshal_as_map: false,
};

/// Go's `time.Parse(RFC3339Nano)` then `Format(time.ANSIC)`; unchanged when it does not parse.
pub fn reformat_date(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.format("%a %b %e %H:%M:%S %Y").to_string(),
        Err(_) => s.to_string(),
    }
}

fn set(m: &mut Vec<(String, Value)>, k: &str, v: Value) {
    match m.iter_mut().find(|(x, _)| x == k) {
        Some(slot) => slot.1 = v,
        None => m.push((k.to_string(), v)),
    }
}

/// Normalise the daemon's `/version` answer as docker's `runVersion` does: reformat the Engine's
/// BuildTime, or add an Engine component built from the top-level fields.
pub fn server_value(mut v: Value) -> Value {
    let Value::Map(m) = &mut v else { return v };
    let top = |m: &Vec<(String, Value)>, k: &str| {
        m.iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    let mut found = false;
    if let Some((_, Value::List(comps))) = m.iter_mut().find(|(k, _)| k == "Components") {
        for c in comps.iter_mut() {
            if c.get("Name").map(|n| n.to_string()) == Some("Engine".into()) {
                found = true;
                if let Value::Map(cm) = c {
                    if let Some((_, Value::Map(d))) = cm.iter_mut().find(|(k, _)| k == "Details") {
                        if let Some((_, Value::Str(bt))) =
                            d.iter_mut().find(|(k, _)| k == "BuildTime")
                        {
                            *bt = reformat_date(bt);
                        }
                    }
                }
            }
        }
    }
    if !found {
        let details = Value::Map(
            [
                ("ApiVersion", "ApiVersion"),
                ("MinAPIVersion", "MinAPIVersion"),
                ("GitCommit", "GitCommit"),
                ("GoVersion", "GoVersion"),
                ("Os", "Os"),
                ("Arch", "Arch"),
            ]
            .iter()
            .map(|(k, src)| (k.to_string(), Value::Str(top(m, src))))
            .chain([
                (
                    "BuildTime".to_string(),
                    Value::Str(reformat_date(&top(m, "BuildTime"))),
                ),
                (
                    "Experimental".to_string(),
                    Value::Str(top(m, "Experimental").replace("<no value>", "false")),
                ),
            ])
            .collect(),
        );
        let engine = Value::Map(vec![
            ("Name".into(), Value::str("Engine")),
            ("Version".into(), Value::Str(top(m, "Version"))),
            ("Details".into(), details),
        ]);
        match m.iter_mut().find(|(k, _)| k == "Components") {
            Some((_, Value::List(l))) => l.push(engine),
            _ => set(m, "Components", Value::List(vec![engine])),
        }
    }
    if !m.iter().any(|(k, _)| k == "Platform") {
        m.insert(
            0,
            (
                "Platform".into(),
                Value::Map(vec![("Name".into(), Value::str(""))]),
            ),
        );
    }
    v
}

/// The text to print and, when the template failed while executing, the error to report after it
/// (docker still prints the newline).
pub fn render(
    format: Option<&str>,
    client: Vec<(String, Value)>,
    server: Option<Value>,
) -> std::result::Result<(String, Option<CliError>), CliError> {
    let src = match format {
        None | Some("") => TEMPLATE,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let tmpl = Template::parse_named("version", src).map_err(|e| CliError::Flag {
        message: format!("template parsing error: {e}"),
        code: 64,
    })?;
    let raw = Value::Map(vec![
        ("Client".into(), Value::Map(client)),
        ("Server".into(), server.unwrap_or(Value::Nil)),
    ]);
    let data = typed(&raw, &VERSION_INFO);
    let (text, err) = match tmpl.execute(&data) {
        Ok(t) => (t, None),
        Err(e) => (String::new(), Some(CliError::Usage(e.to_string()))),
    };
    let mut tw = TabWriter::new(20, 1);
    tw.write_str(&text);
    tw.write_str("\n");
    Ok((String::from_utf8_lossy(&tw.finish()).into_owned(), err))
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let server = ctx.client.get_bytes("/version").await;
    let (server, err) = match server {
        Ok(raw) => (
            Some(server_value(
                Value::from_json_bytes(&raw).map_err(|e| CliError::Protocol(e.to_string()))?,
            )),
            None,
        ),
        Err(e) => (None, Some(e)),
    };
    let (out, tmpl_err) = render(
        args.format.as_deref(),
        client_version(&ctx.client.version),
        server,
    )?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    match err.or(tmpl_err) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_docker() {
        let raw = br#"{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2026-05-07T21:09:36.000000000+00:00","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.0","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41"}"#;
        let server = server_value(Value::from_json_bytes(raw).unwrap());
        let (out, err) = render(None, client_version("1.41"), Some(server)).unwrap();
        assert!(err.is_none());
        let want = "Client: Pier
 Version:           0.1.0
 API version:       1.41 (downgraded from 1.50)
 OS/Arch:           linux/amd64
 Context:           default

Server:
 Engine:
  Version:          20.10.24+dfsg1
  API version:      1.41 (minimum version 1.12)
  Go version:       go1.19.8
  Git commit:       5d6db84
  Built:            Thu May  7 21:09:36 2026
  OS/Arch:          linux/amd64
  Experimental:     false
 containerd:
  Version:          1.6.20~ds1
  GitCommit:        1.6.20~ds1-1+deb12u3
 docker-init:
  Version:          0.19.0
  GitCommit:        
";
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(out, want);
        }
    }

    #[test]
    fn go_field_names_and_json() {
        let raw = br#"{"Platform":{"Name":""},"Version":"0.1.0","ApiVersion":"1.50","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}"#;
        let server = server_value(Value::from_json_bytes(raw).unwrap());
        let out = render(
            Some("{{.Server.APIVersion}} {{.Client.APIVersion}}"),
            client_version("1.50"),
            Some(server.clone()),
        )
        .unwrap()
        .0;
        assert_eq!(out, "1.50 1.50\n");
        let out = render(
            Some("{{json .Server.Platform}}"),
            client_version("1.50"),
            Some(server),
        )
        .unwrap()
        .0;
        assert_eq!(out, "{\"Name\":\"\"}\n");
        let (out, err) = render(Some("{{.Nope}}"), client_version("1.50"), None).unwrap();
        assert_eq!(out, "\n");
        assert_eq!(
            err.unwrap().to_string(),
            "template: version:1:2: executing \"version\" at <.Nope>: can't evaluate field Nope in type system.versionInfo"
        );
    }

    #[test]
    fn engine_component_is_synthesised() {
        let v = server_value(Value::from_json_bytes(br#"{"Version":"0.1.0","ApiVersion":"1.50","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64","BuildTime":"x"}"#).unwrap());
        let t = Template::parse(
            "{{range .Components}}{{.Name}} {{index .Details \"ApiVersion\"}}{{end}}",
        )
        .unwrap();
        assert_eq!(t.execute(&v).unwrap(), "Engine 1.50");
    }
}
