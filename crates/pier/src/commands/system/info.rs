//! `pier info` / `pier system info`: docker's `prettyPrintInfo` layout (Client: / Server: sections,
//! the same labels, order and Go `Println` spacing) from `GET /info`, or `--format` templates over the
//! info object (with `.ClientInfo`). Errors from the daemon are printed as `ERROR: ...` lines and the
//! command fails with "errors pretty printing info", as docker does.

use super::super::Ctx;
use crate::error::{CliError, Result};
use crate::format::units::bytes_size;
use crate::template::typed::{Field, Kind, StructType};
use crate::template::{Template, Value};
use std::fmt::Write as _;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        None | Some(Value::Nil) | Some(Value::Missing) => String::new(),
        Some(x) => x.to_string(),
    }
}

fn num(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::Int(i)) => i.to_string(),
        Some(x @ Value::Float(_)) => x.to_string(),
        _ => "0".into(),
    }
}

fn boolean(v: &Value, k: &str) -> String {
    matches!(v.get(k), Some(Value::Bool(true))).to_string()
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    match v.get(k) {
        Some(Value::List(l)) => l.iter().map(|x| x.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn nonempty(out: &mut String, label: &str, value: &str) {
    if !value.is_empty() {
        let _ = writeln!(out, "{label} {value}");
    }
}

/// The mask of a Go `net.IPNet` as JSON encodes it (base64 bytes) → prefix length.
fn mask_bits(m: &str) -> u32 {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(m)
        .map(|b| b.iter().map(|x| x.count_ones()).sum())
        .unwrap_or(0)
}

/// The server half of docker's `prettyPrintServerInfo`.
pub fn server_text(info: &Value, warnings_out: &mut Vec<String>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, " Containers: {}", num(info, "Containers"));
    let _ = writeln!(o, "  Running: {}", num(info, "ContainersRunning"));
    let _ = writeln!(o, "  Paused: {}", num(info, "ContainersPaused"));
    let _ = writeln!(o, "  Stopped: {}", num(info, "ContainersStopped"));
    let _ = writeln!(o, " Images: {}", num(info, "Images"));
    nonempty(&mut o, " Server Version:", &s(info, "ServerVersion"));
    nonempty(&mut o, " Storage Driver:", &s(info, "Driver"));
    for key in ["DriverStatus", "SystemStatus"] {
        if let Some(Value::List(pairs)) = info.get(key) {
            for p in pairs {
                if let Value::List(kv) = p {
                    let a = kv.first().map(|x| x.to_string()).unwrap_or_default();
                    let b = kv.get(1).map(|x| x.to_string()).unwrap_or_default();
                    let indent = if key == "DriverStatus" { "  " } else { " " };
                    let _ = writeln!(o, "{indent}{a}: {b}");
                }
            }
        }
    }
    nonempty(&mut o, " Logging Driver:", &s(info, "LoggingDriver"));
    nonempty(&mut o, " Cgroup Driver:", &s(info, "CgroupDriver"));
    nonempty(&mut o, " Cgroup Version:", &s(info, "CgroupVersion"));
    let plugins = info.get("Plugins").cloned().unwrap_or(Value::Map(vec![]));
    let _ = writeln!(o, " Plugins:");
    let _ = writeln!(o, "  Volume: {}", strings(&plugins, "Volume").join(" "));
    let _ = writeln!(o, "  Network: {}", strings(&plugins, "Network").join(" "));
    let authz = strings(&plugins, "Authorization");
    if !authz.is_empty() {
        let _ = writeln!(o, "  Authorization: {}", authz.join(" "));
    }
    let _ = writeln!(o, "  Log: {}", strings(&plugins, "Log").join(" "));
    let cdi = strings(info, "CDISpecDirs");
    if !cdi.is_empty() {
        let _ = writeln!(o, " CDI spec directories:");
        for d in cdi {
            let _ = writeln!(o, "  {d}");
        }
    }
    let swarm = info.get("Swarm").cloned().unwrap_or(Value::Map(vec![]));
    let state = s(&swarm, "LocalNodeState");
    let _ = writeln!(o, " Swarm: {state}");
    if state != "inactive" && state != "locked" {
        let _ = writeln!(o, "  NodeID: {}", s(&swarm, "NodeID"));
        let err = s(&swarm, "Error");
        if !err.is_empty() {
            let _ = writeln!(o, "  Error: {err}");
        }
        let _ = writeln!(o, "  Is Manager: {}", boolean(&swarm, "ControlAvailable"));
        let _ = writeln!(o, "  Node Address: {}", s(&swarm, "NodeAddr"));
    }
    if let Some(Value::Map(rt)) = info.get("Runtimes") {
        if !rt.is_empty() {
            let names: Vec<&str> = rt.iter().map(|(k, _)| k.as_str()).collect();
            let _ = writeln!(o, " Runtimes: {}", names.join(" "));
            let _ = writeln!(o, " Default Runtime: {}", s(info, "DefaultRuntime"));
        }
    }
    let os_type = s(info, "OSType");
    if os_type == "linux" {
        let _ = writeln!(o, " Init Binary: {}", s(info, "InitBinary"));
        let id = |k: &str| info.get(k).map(|c| s(c, "ID")).unwrap_or_default();
        let _ = writeln!(o, " containerd version: {}", id("ContainerdCommit"));
        let _ = writeln!(o, " runc version: {}", id("RuncCommit"));
        let _ = writeln!(o, " init version: {}", id("InitCommit"));
        let sec = strings(info, "SecurityOptions");
        if !sec.is_empty() {
            let _ = writeln!(o, " Security Options:");
            for opt in sec {
                // "name=seccomp,profile=builtin"
                let mut name = String::new();
                let mut profile = None;
                for kv in opt.split(',') {
                    match kv.split_once('=') {
                        Some(("name", n)) => name = n.to_string(),
                        Some(("profile", p)) => profile = Some(p.to_string()),
                        _ => {}
                    }
                }
                let _ = writeln!(o, "  {name}");
                if let Some(p) = profile {
                    let _ = writeln!(o, "   Profile: {p}");
                }
            }
        }
    }
    nonempty(&mut o, " Kernel Version:", &s(info, "KernelVersion"));
    nonempty(&mut o, " Operating System:", &s(info, "OperatingSystem"));
    nonempty(&mut o, " OSType:", &os_type);
    nonempty(&mut o, " Architecture:", &s(info, "Architecture"));
    let _ = writeln!(o, " CPUs: {}", num(info, "NCPU"));
    let mem = match info.get("MemTotal") {
        Some(Value::Int(i)) => *i as f64,
        _ => 0.0,
    };
    let _ = writeln!(o, " Total Memory: {}", bytes_size(mem));
    nonempty(&mut o, " Name:", &s(info, "Name"));
    nonempty(&mut o, " ID:", &s(info, "ID"));
    let _ = writeln!(o, " Docker Root Dir: {}", s(info, "DockerRootDir"));
    let debug = boolean(info, "Debug");
    let _ = writeln!(o, " Debug Mode: {debug}");
    if debug == "true" {
        let _ = writeln!(o, "  File Descriptors: {}", num(info, "NFd"));
        let _ = writeln!(o, "  Goroutines: {}", num(info, "NGoroutines"));
        let _ = writeln!(o, "  System Time: {}", s(info, "SystemTime"));
        let _ = writeln!(o, "  EventsListeners: {}", num(info, "NEventsListener"));
    }
    nonempty(&mut o, " HTTP Proxy:", &s(info, "HttpProxy"));
    nonempty(&mut o, " HTTPS Proxy:", &s(info, "HttpsProxy"));
    nonempty(&mut o, " No Proxy:", &s(info, "NoProxy"));
    let labels = strings(info, "Labels");
    if !labels.is_empty() {
        let _ = writeln!(o, " Labels:");
        for l in labels {
            let _ = writeln!(o, "  {l}");
        }
    }
    let _ = writeln!(o, " Experimental: {}", boolean(info, "ExperimentalBuild"));
    if let Some(reg) = info
        .get("RegistryConfig")
        .filter(|r| matches!(r, Value::Map(_)))
    {
        let cidrs = match reg.get("InsecureRegistryCIDRs") {
            Some(Value::List(l)) => l.clone(),
            _ => vec![],
        };
        let indexes = match reg.get("IndexConfigs") {
            Some(Value::Map(m)) => m.clone(),
            _ => vec![],
        };
        if !cidrs.is_empty() || !indexes.is_empty() {
            let _ = writeln!(o, " Insecure Registries:");
            for (_, ic) in &indexes {
                if !matches!(ic.get("Secure"), Some(Value::Bool(true))) {
                    let _ = writeln!(o, "  {}", s(ic, "Name"));
                }
            }
            for c in &cidrs {
                match c {
                    // registry.NetIPNet marshals as "127.0.0.0/8"
                    Value::Str(cidr) => {
                        let _ = writeln!(o, "  {cidr}");
                    }
                    _ => {
                        let _ = writeln!(o, "  {}/{}", s(c, "IP"), mask_bits(&s(c, "Mask")));
                    }
                }
            }
        }
        let mirrors = strings(reg, "Mirrors");
        if !mirrors.is_empty() {
            let _ = writeln!(o, " Registry Mirrors:");
            for m in mirrors {
                let _ = writeln!(o, "  {m}");
            }
        }
    }
    let _ = writeln!(
        o,
        " Live Restore Enabled: {}",
        boolean(info, "LiveRestoreEnabled")
    );
    let lic = s(info, "ProductLicense");
    if !lic.is_empty() {
        let _ = writeln!(o, " Product License: {lic}");
    }
    if let Some(Value::List(pools)) = info.get("DefaultAddressPools") {
        if !pools.is_empty() {
            let _ = writeln!(o, " Default Address Pools:");
            for p in pools {
                let _ = writeln!(o, "   Base: {}, Size: {}", s(p, "Base"), num(p, "Size"));
            }
        }
    }
    let _ = writeln!(o);
    warnings_out.extend(strings(info, "Warnings"));
    o
}

/// docker's `dockerInfo` (an embedded `system.Info` plus client parts): the daemon's keys, with the
/// Go names of the fields whose JSON key differs.
static DOCKER_INFO: StructType = StructType {
    name: "system.dockerInfo",
    fields: &[
        Field {
            name: "HTTPProxy",
            json: "HttpProxy",
            omitempty: false,
            kind: Kind::Str,
        },
        Field {
            name: "HTTPSProxy",
            json: "HttpsProxy",
            omitempty: false,
            kind: Kind::Str,
        },
    ],
    groups: &[],
    marshal_as_map: false,
};

static CLIENT_INFO: StructType = StructType {
    name: "*system.clientInfo",
    fields: &[Field {
        name: "APIVersion",
        json: "ApiVersion",
        omitempty: true,
        kind: Kind::Str,
    }],
    groups: &[],
    marshal_as_map: false,
};

/// A struct view of raw JSON keeping every key, renamed to its Go field name where they differ.
fn go_names(fields: Vec<(String, Value)>, ty: &'static StructType) -> Value {
    let renamed = fields
        .into_iter()
        .map(|(k, v)| match ty.fields.iter().find(|f| f.json == k) {
            Some(f) => (f.name.to_string(), v),
            None => (k, v),
        })
        .collect();
    Value::Struct(ty, renamed)
}

fn client_text(debug: bool) -> String {
    format!(
        "Client: Pier\n Version:    {}\n Context:    default\n Debug Mode: {debug}\n",
        env!("CARGO_PKG_VERSION")
    )
}

pub async fn run(ctx: &mut Ctx, args: Args, debug: bool) -> Result<()> {
    let info = ctx.client.get_bytes("/info").await;
    let mut stdout = std::io::stdout().lock();
    match args.format.as_deref().filter(|f| !f.is_empty()) {
        None => {
            stdout.write_all(client_text(debug).as_bytes())?;
            stdout.write_all(b"\nServer:\n")?;
            match info {
                Ok(raw) => {
                    let v = Value::from_json_bytes(&raw)
                        .map_err(|e| CliError::Protocol(e.to_string()))?;
                    let mut warnings = Vec::new();
                    stdout.write_all(server_text(&v, &mut warnings).as_bytes())?;
                    drop(stdout);
                    for w in warnings {
                        eprintln!("{w}");
                    }
                    Ok(())
                }
                Err(e @ (CliError::Connect(_) | CliError::Permission(..))) => Err(e),
                Err(e) => {
                    drop(stdout);
                    eprintln!("ERROR: {e}");
                    Err(CliError::Usage("errors pretty printing info".into()))
                }
            }
        }
        Some(f) => {
            let src = if f == "json" { "{{json .}}" } else { f };
            let tmpl = Template::parse(src).map_err(|e| CliError::Flag {
                message: format!("template parsing error: {e}"),
                code: 64,
            })?;
            let mut fields = match info {
                Ok(raw) => match Value::from_json_bytes(&raw)
                    .map_err(|e| CliError::Protocol(e.to_string()))?
                {
                    Value::Map(m) => m,
                    _ => vec![],
                },
                Err(e @ (CliError::Connect(_) | CliError::Permission(..))) => return Err(e),
                Err(e) => {
                    eprintln!("{e}");
                    vec![(
                        "ServerErrors".into(),
                        Value::List(vec![Value::Str(e.to_string())]),
                    )]
                }
            };
            let mut client = vec![("Debug".to_string(), Value::Bool(debug))];
            client.extend(super::client_version(""));
            client.push(("Plugins".into(), Value::List(vec![])));
            client.push(("Warnings".into(), Value::Nil));
            fields.push(("ClientInfo".into(), Value::Struct(&CLIENT_INFO, client)));
            // docker runs the template over its typed dockerInfo only (no raw fallback).
            let data = go_names(fields, &DOCKER_INFO);
            let result = tmpl.execute(&data);
            stdout.write_all(result.as_deref().unwrap_or("").as_bytes())?;
            stdout.write_all(b"\n")?;
            result
                .map(|_| ())
                .map_err(|e| CliError::Usage(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_uses_go_names_and_fails_on_unknown_fields() {
        let raw =
            Value::from_json_bytes(br#"{"ID":"x","HttpProxy":"http://p","Images":2}"#).unwrap();
        let Value::Map(m) = raw else { panic!() };
        let v = go_names(m, &DOCKER_INFO);
        let t = Template::parse("{{.HTTPProxy}} {{.Images}} {{json .}}").unwrap();
        assert_eq!(
            t.execute(&v).unwrap(),
            r#"http://p 2 {"ID":"x","HttpProxy":"http://p","Images":2}"#
        );
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .execute(&v)
            .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("can't evaluate field Nope in type system.dockerInfo"),
            "{e}"
        );
    }

    #[test]
    fn server_section_layout() {
        let raw = br#"{"ID":"abc","Containers":2,"ContainersRunning":1,"ContainersPaused":0,"ContainersStopped":1,"Images":3,"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]],"Plugins":{"Volume":["local"],"Network":["bridge","host"],"Authorization":null,"Log":["json-file","local"]},"MemTotal":25165824000,"NCPU":2,"KernelVersion":"6.18.0","OperatingSystem":"Debian GNU/Linux 12 (bookworm)","OSType":"linux","Architecture":"x86_64","LoggingDriver":"json-file","CgroupDriver":"cgroupfs","CgroupVersion":"1","DockerRootDir":"/var/lib/pier","Name":"host","ServerVersion":"0.1.0","Swarm":{"LocalNodeState":"inactive"},"Runtimes":{"runc":{"path":"runc"}},"DefaultRuntime":"runc","InitBinary":"docker-init","ContainerdCommit":{"ID":""},"RuncCommit":{"ID":"v1"},"InitCommit":{"ID":""},"SecurityOptions":["name=seccomp,profile=builtin"],"ExperimentalBuild":false,"RegistryConfig":{"InsecureRegistryCIDRs":["127.0.0.0/8",{"IP":"10.0.0.0","Mask":"/wAAAA=="}],"IndexConfigs":{"docker.io":{"Name":"docker.io","Secure":true}},"Mirrors":[]},"LiveRestoreEnabled":false,"Warnings":["WARNING: x"]}"#;
        let v = Value::from_json_bytes(raw).unwrap();
        let mut w = Vec::new();
        let out = server_text(&v, &mut w);
        assert_eq!(w, vec!["WARNING: x".to_string()]);
        let want = " Containers: 2
  Running: 1
  Paused: 0
  Stopped: 1
 Images: 3
 Server Version: 0.1.0
 Storage Driver: overlay2
  Backing Filesystem: extfs
  Supports d_type: true
 Logging Driver: json-file
 Cgroup Driver: cgroupfs
 Cgroup Version: 1
 Plugins:
  Volume: local
  Network: bridge host
  Log: json-file local
 Swarm: inactive
 Runtimes: runc
 Default Runtime: runc
 Init Binary: docker-init
 containerd version: 
 runc version: v1
 init version: 
 Security Options:
  seccomp
   Profile: builtin
 Kernel Version: 6.18.0
 Operating System: Debian GNU/Linux 12 (bookworm)
 OSType: linux
 Architecture: x86_64
 CPUs: 2
 Total Memory: 23.44GiB
 Name: host
 ID: abc
 Docker Root Dir: /var/lib/pier
 Debug Mode: false
 Experimental: false
 Insecure Registries:
  127.0.0.0/8
  10.0.0.0/8
 Live Restore Enabled: false

";
        assert_eq!(out, want);
    }
}
