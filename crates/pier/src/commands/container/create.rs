//! `pier create` and the options `run` shares with it: docker's `containerOptions` flags turned into
//! the `POST /containers/create` body (Config + HostConfig + NetworkingConfig), docker's create flow
//! (a 404 "No such image" prints "Unable to find image 'x:latest' locally", pulls with progress on
//! stderr, then creates again), daemon warnings as "WARNING: ..." on stderr. `create` prints the id.

use super::super::Ctx;
use super::opts;
use crate::client::{empty, q};
use crate::error::{CliError, Result};
use http::Method;
use serde_json::{json, Map, Value};

#[derive(clap::Args, Debug, Default, Clone)]
pub struct ContainerOpts {
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file")]
    pub label_file: Vec<String>,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Mount a tmpfs directory
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Connect a container to a network
    #[arg(long = "network", visible_alias = "net")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long = "ip6")]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long = "link")]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", allow_hyphen_values = true)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Pull image before creating ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// Set the IPC mode to use
    #[arg(long)]
    pub ipc: Option<String>,
    /// PID namespace to use
    #[arg(long)]
    pub pid: Option<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Add a host device to the container
    #[arg(long)]
    pub device: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Sysctl options
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Print usage
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// docker's `parseNetworkOpts`: the `EndpointsConfig` for `--network` values (the first one also
/// takes `--network-alias`, `--link`, `--ip`, `--ip6`, `--mac-address`, `--link-local-ip`), with
/// its conflict errors. A single network without options gets no entry, as with docker; no
/// `--network` at all gives a `default` entry.
fn endpoints_config(o: &ContainerOpts) -> Result<Map<String, Value>> {
    let mut nets = o
        .network
        .iter()
        .map(|n| opts::network_attachment(n))
        .collect::<Result<Vec<_>>>()?;
    let implicit = nets.is_empty();
    if implicit {
        nets.push(opts::NetworkAttachment {
            target: "default".into(),
            ..Default::default()
        });
    }
    let conflict =
        |what: &str| CliError::Usage(format!("conflicting options: cannot specify both {what}"));
    let n = &mut nets[0];
    if !n.aliases.is_empty() && !o.network_alias.is_empty() {
        return Err(conflict("--network-alias and per-network alias"));
    }
    if !n.links.is_empty() && !o.link.is_empty() {
        return Err(conflict("--link and per-network links"));
    }
    if !n.ipv4.is_empty() && o.ip.is_some() {
        return Err(conflict("--ip and per-network IPv4 address"));
    }
    if !n.ipv6.is_empty() && o.ip6.is_some() {
        return Err(conflict("--ip6 and per-network IPv6 address"));
    }
    if !n.mac.is_empty() && o.mac_address.is_some() {
        return Err(conflict("--mac-address and per-network MAC address"));
    }
    if !n.link_local_ips.is_empty() && !o.link_local_ip.is_empty() {
        return Err(conflict(
            "--link-local-ip and per-network link-local IP addresses",
        ));
    }
    if !o.network_alias.is_empty() {
        n.aliases = o.network_alias.clone();
    }
    if opts::is_user_defined(&n.target) && !o.link.is_empty() {
        n.links = o.link.clone();
    }
    for (dst, src) in [
        (&mut n.ipv4, &o.ip),
        (&mut n.ipv6, &o.ip6),
        (&mut n.mac, &o.mac_address),
    ] {
        if let Some(v) = src.as_ref().filter(|v| !v.is_empty()) {
            *dst = v.clone();
        }
    }
    if !o.link_local_ip.is_empty() {
        n.link_local_ips = o.link_local_ip.clone();
    }
    let mut endpoints = Map::new();
    let (mut user, mut builtin) = (false, false);
    let single = nets.len() == 1;
    for (i, n) in nets.iter().enumerate() {
        if opts::is_user_defined(&n.target) {
            user = true;
        } else {
            builtin = true;
        }
        let ep = opts::endpoint_settings(n)?;
        if endpoints.contains_key(&n.target) {
            return Err(CliError::Usage(format!(
                "network {:?} is specified multiple times",
                n.target
            )));
        }
        let bare = n
            == &opts::NetworkAttachment {
                target: n.target.clone(),
                ..Default::default()
            };
        if !implicit && i == 0 && single && bare {
            continue;
        }
        endpoints.insert(n.target.clone(), ep);
    }
    if user && builtin && !implicit {
        return Err(CliError::Usage(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        ));
    }
    Ok(endpoints)
}

/// The create body for `o`; `attach_std` says which streams `run`/`create` attach (docker sets
/// AttachStdin/out/err in the config from `-a`, `-i`, or by default stdout+stderr).
pub fn build_body(o: &ContainerOpts, detach: bool) -> Result<Value> {
    let mut env = Vec::new();
    for f in &o.env_file {
        env.extend(opts::parse_kv_file(f, true)?);
    }
    for e in &o.env {
        if let Some(v) = opts::env_var(e)? {
            env.push(v);
        }
    }
    let mut labels = Map::new();
    let mut label_lines = Vec::new();
    for f in &o.label_file {
        label_lines.extend(opts::parse_kv_file(f, false)?);
    }
    label_lines.extend(o.label.iter().cloned());
    for l in label_lines {
        let (k, v) = l.split_once('=').unwrap_or((&l, ""));
        labels.insert(k.to_string(), Value::String(v.to_string()));
    }
    let mut attach: Vec<String> = o.attach.iter().map(|a| a.to_lowercase()).collect();
    for a in &attach {
        if !matches!(a.as_str(), "stdin" | "stdout" | "stderr") {
            return Err(CliError::Flag {
                message: format!("invalid argument \"{a}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"),
                code: 125,
            });
        }
    }
    if !detach && attach.is_empty() {
        attach = vec!["stdout".into(), "stderr".into()];
        if o.interactive {
            attach.push("stdin".into());
        }
    }
    let mut exposed = Map::new();
    let mut bindings: Map<String, Value> = Map::new();
    for e in &o.expose {
        for p in opts::expose(e)? {
            exposed.insert(p, json!({}));
        }
    }
    for p in &o.publish {
        for (port, ip, hp) in opts::port_spec(p)? {
            exposed.insert(port.clone(), json!({}));
            let entry = bindings.entry(port).or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(a) = entry {
                a.push(json!({"HostIp": ip, "HostPort": hp}));
            }
        }
    }
    let mut binds = Vec::new();
    let mut volumes = Map::new();
    for v in &o.volume {
        let (spec, is_bind) = opts::volume(v)?;
        if is_bind || spec.split(':').count() > 1 {
            binds.push(spec);
        } else {
            volumes.insert(spec, json!({}));
        }
    }
    let mut tmpfs = Map::new();
    for t in &o.tmpfs {
        let (p, opt) = opts::tmpfs(t);
        tmpfs.insert(p, Value::String(opt));
    }
    let ulimits = o
        .ulimit
        .iter()
        .map(|u| opts::ulimit(u))
        .collect::<Result<Vec<_>>>()?;
    let restart = opts::restart_policy(&o.restart)?;
    let mut cmd: Option<Vec<String>> = None;
    if !o.command.is_empty() {
        cmd = Some(o.command.clone());
    }
    let entrypoint: Option<Vec<String>> = o.entrypoint.as_ref().map(|e| {
        if e.is_empty() {
            vec![String::new()]
        } else {
            vec![e.clone()]
        }
    });
    let mut log_config = Map::new();
    for lo in &o.log_opt {
        let (k, v) = lo.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "invalid key/value pair format in logging opts: {lo}"
            ))
        })?;
        log_config.insert(k.into(), Value::String(v.into()));
    }
    let mut sysctls = Map::new();
    for s in &o.sysctl {
        let (k, v) = s.split_once('=').ok_or_else(|| CliError::Flag {
            message: format!(
                "invalid argument \"{s}\" for \"--sysctl\" flag: sysctl '{s}' is not allowed"
            ),
            code: 125,
        })?;
        sysctls.insert(k.into(), Value::String(v.into()));
    }
    let devices: Vec<Value> = o
        .device
        .iter()
        .map(|d| {
            let parts: Vec<&str> = d.split(':').collect();
            let host = parts[0];
            let cont = parts
                .get(1)
                .copied()
                .filter(|s| s.starts_with('/'))
                .unwrap_or(host);
            let perms = parts
                .last()
                .copied()
                .filter(|s| !s.starts_with('/'))
                .unwrap_or("rwm");
            json!({"PathOnHost": host, "PathInContainer": cont, "CgroupPermissions": perms})
        })
        .collect();
    let endpoints = endpoints_config(o)?;
    let network = o
        .network
        .first()
        .map(|n| opts::network_attachment(n).map(|a| a.target))
        .transpose()?
        .unwrap_or_else(|| "default".into());
    let mac = endpoints
        .get(&network)
        .and_then(|e| e["MacAddress"].as_str())
        .unwrap_or("")
        .to_string();
    let dns = o
        .dns
        .iter()
        .map(|d| opts::dns(d))
        .collect::<Result<Vec<_>>>()?;
    let dns_search = o
        .dns_search
        .iter()
        .map(|d| opts::dns_search(d))
        .collect::<Result<Vec<_>>>()?;
    let extra_hosts = o
        .add_host
        .iter()
        .map(|h| opts::extra_host(h))
        .collect::<Result<Vec<_>>>()?;
    let links = o
        .link
        .iter()
        .map(|l| opts::link(l))
        .collect::<Result<Vec<_>>>()?;
    let mut host_config = json!({
        "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
        "NetworkMode": network,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": false,
        "CapAdd": if o.cap_add.is_empty() { Value::Null } else { json!(o.cap_add) },
        "CapDrop": if o.cap_drop.is_empty() { Value::Null } else { json!(o.cap_drop) },
        "Dns": dns,
        "DnsOptions": o.dns_option,
        "DnsSearch": dns_search,
        "ExtraHosts": if extra_hosts.is_empty() { Value::Null } else { json!(extra_hosts) },
        "Links": if links.is_empty() { Value::Null } else { json!(links) },
        "GroupAdd": if o.group_add.is_empty() { Value::Null } else { json!(o.group_add) },
        "IpcMode": o.ipc.clone().unwrap_or_default(),
        "PidMode": o.pid.clone().unwrap_or_default(),
        "Privileged": o.privileged,
        "PublishAllPorts": o.publish_all,
        "ReadonlyRootfs": o.read_only,
        "SecurityOpt": if o.security_opt.is_empty() { Value::Null } else { json!(o.security_opt) },
        "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
        "Sysctls": if sysctls.is_empty() { Value::Null } else { Value::Object(sysctls) },
        "Devices": devices,
        "Ulimits": if ulimits.is_empty() { Value::Null } else { json!(ulimits) },
        "LogConfig": {"Type": o.log_driver.clone().unwrap_or_default(), "Config": log_config},
    });
    let hc = host_config.as_object_mut().expect("object");
    if let Some(m) = &o.memory {
        hc.insert("Memory".into(), json!(opts::mem_bytes(m, "-m, --memory")?));
    }
    if let Some(m) = &o.memory_reservation {
        hc.insert(
            "MemoryReservation".into(),
            json!(opts::mem_bytes(m, "--memory-reservation")?),
        );
    }
    if let Some(m) = &o.memory_swap {
        hc.insert("MemorySwap".into(), json!(opts::mem_swap_bytes(m)?));
    }
    if let Some(c) = &o.cpus {
        hc.insert("NanoCpus".into(), json!(opts::nano_cpus(c)?));
    }
    if let Some(s) = o.cpu_shares {
        hc.insert("CpuShares".into(), json!(s));
    }
    if let Some(s) = &o.cpuset_cpus {
        hc.insert("CpusetCpus".into(), json!(s));
    }
    if let Some(p) = o.pids_limit {
        hc.insert("PidsLimit".into(), json!(p));
    }
    if let Some(s) = &o.shm_size {
        hc.insert("ShmSize".into(), json!(opts::mem_bytes(s, "--shm-size")?));
    }
    if o.init {
        hc.insert("Init".into(), json!(true));
    }
    if let Some(r) = &o.runtime {
        hc.insert("Runtime".into(), json!(r));
    }
    let has = |s: &str| attach.iter().any(|a| a == s);
    let mut config = json!({
        "Hostname": o.hostname.clone().unwrap_or_default(),
        "User": o.user.clone().unwrap_or_default(),
        "AttachStdin": has("stdin"),
        "AttachStdout": has("stdout"),
        "AttachStderr": has("stderr"),
        "Tty": o.tty,
        "OpenStdin": o.interactive,
        "StdinOnce": false,
        "Env": env,
        "Cmd": cmd,
        "Image": o.image,
        "Volumes": volumes,
        "WorkingDir": o.workdir.clone().unwrap_or_default(),
        "Entrypoint": entrypoint,
        "OnBuild": Value::Null,
        "Labels": labels,
    });
    let c = config.as_object_mut().expect("object");
    if o.interactive && has("stdin") {
        c.insert("StdinOnce".into(), json!(true));
    }
    if !exposed.is_empty() {
        c.insert("ExposedPorts".into(), Value::Object(exposed));
    }
    if !mac.is_empty() {
        c.insert("MacAddress".into(), json!(mac));
    }
    if let Some(s) = &o.stop_signal {
        c.insert("StopSignal".into(), json!(s));
    }
    if let Some(t) = o.stop_timeout {
        c.insert("StopTimeout".into(), json!(t));
    }
    c.insert("HostConfig".into(), host_config);
    c.insert(
        "NetworkingConfig".into(),
        json!({ "EndpointsConfig": endpoints }),
    );
    Ok(config)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Created {
    id: String,
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

/// Pull `image` with progress on stderr, as `run`/`create` do for a missing image.
async fn pull_image(ctx: &mut Ctx, image: &str, platform: Option<&str>, quiet: bool) -> Result<()> {
    use http_body_util::BodyExt;
    use std::io::IsTerminal;
    let r = pier_image::parse_normalized(image)
        .map_err(|e| CliError::Usage(e.to_string()))?
        .with_default_tag();
    let tag = match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        _ => String::new(),
    };
    let mut query = vec![
        format!("fromImage={}", q(&r.name())),
        format!("tag={}", q(&tag)),
    ];
    if let Some(p) = platform.filter(|p| !p.is_empty()) {
        query.push(format!("platform={}", q(p)));
    }
    query.sort();
    let auth = ctx.registry_auth(r.domain());
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!("/images/create?{}", query.join("&")),
            &[("X-Registry-Auth", auth)],
            empty(),
        )
        .await?;
    let terminal = !quiet && std::io::stderr().is_terminal();
    let out: Box<dyn std::io::Write> = if quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    };
    let mut rend = crate::progress::Renderer::new(out, terminal, 200);
    let mut dec = crate::progress::Decoder::default();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| CliError::Protocol(format!("error reading response: {e}")))?;
        if let Ok(data) = frame.into_data() {
            for m in dec.push(&data)? {
                rend.message(&m, &mut |_| {})?;
            }
        }
    }
    dec.finish()
}

/// docker's `createContainer`: create, pull on "No such image" (per `--pull`), create again; warnings
/// to stderr; `--cidfile` written. Returns the new container's id.
pub async fn create_container(ctx: &mut Ctx, o: &ContainerOpts, body: &Value) -> Result<String> {
    if let Some(c) = &o.cidfile {
        if std::path::Path::new(c).exists() {
            return Err(CliError::Usage(format!(
                "container ID file found, make sure the other container isn't running or delete {c}"
            )));
        }
    }
    let mut path = String::from("/containers/create");
    let mut query = Vec::new();
    if let Some(n) = &o.name {
        query.push(format!("name={}", q(n)));
    }
    if let Some(p) = o.platform.as_deref().filter(|p| !p.is_empty()) {
        query.push(format!("platform={}", q(p)));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let display = pier_image::parse_normalized(&o.image)
        .map(|r| r.with_default_tag().familiar_string())
        .unwrap_or_else(|_| o.image.clone());
    match o.pull.as_str() {
        "always" => pull_image(ctx, &o.image, o.platform.as_deref(), o.quiet).await?,
        "missing" | "never" | "" => {}
        other => {
            return Err(CliError::Usage(format!(
            "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
        )))
        }
    }
    // docker's client: per-network MAC addresses need API 1.44; from 1.44 on the container-wide
    // (deprecated) MacAddress is dropped.
    let mut body = body.clone();
    let per_network_mac = body["NetworkingConfig"]["EndpointsConfig"]
        .as_object()
        .is_some_and(|m| {
            m.values()
                .any(|e| e["MacAddress"].as_str().is_some_and(|s| !s.is_empty()))
        });
    if per_network_mac {
        ctx.client
            .require_api("1.44", "specify mac-address per network")
            .await?;
    }
    if !ctx.client.api_below("1.44").await? {
        if let Some(c) = body.as_object_mut() {
            c.remove("MacAddress");
        }
    }
    let resp = match ctx.client.post_body(&path, body.to_string()).await {
        // docker's CLI pulls on any 404 from create (not only "No such image"), then creates again.
        Err(e) if e.is_not_found() && o.pull != "never" => {
            eprintln!("Unable to find image '{display}' locally");
            pull_image(ctx, &o.image, o.platform.as_deref(), o.quiet).await?;
            ctx.client.post_body(&path, body.to_string()).await?
        }
        r => r?,
    };
    let b = crate::client::read_body(resp).await?;
    let created: Created = serde_json::from_slice(&b)
        .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))?;
    for w in created.warnings.iter().flatten() {
        eprintln!("WARNING: {w}");
    }
    if let Some(c) = &o.cidfile {
        std::fs::write(c, &created.id)?;
    }
    Ok(created.id)
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    // docker's create: option errors are reported with the help hint (exit 125), daemon errors plain.
    let body = build_body(&args.opts, false)
        .map_err(|e| super::run::report("create", super::run::USAGE, e))?;
    let id = create_container(ctx, &args.opts, &body).await?;
    println!("{id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(image: &str) -> ContainerOpts {
        ContainerOpts {
            image: image.into(),
            restart: "no".into(),
            pull: "missing".into(),
            ..Default::default()
        }
    }

    #[test]
    fn body_carries_limits_and_attach_defaults() {
        let mut o = opts("busybox");
        o.memory = Some("16m".into());
        o.cpus = Some("1.5".into());
        o.env = vec!["A=1".into()];
        o.publish = vec!["8080:80".into()];
        o.command = vec!["echo".into(), "hi".into()];
        let b = build_body(&o, false).unwrap();
        assert_eq!(b["HostConfig"]["Memory"], 16 << 20);
        assert_eq!(b["HostConfig"]["NanoCpus"], 1_500_000_000i64);
        assert_eq!(
            b["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
            "8080"
        );
        assert_eq!(b["ExposedPorts"]["80/tcp"], json!({}));
        assert_eq!(b["AttachStdout"], true);
        assert_eq!(b["AttachStdin"], false);
        assert_eq!(b["Cmd"], json!(["echo", "hi"]));
        let d = build_body(&o, true).unwrap();
        assert_eq!(d["AttachStdout"], false);
        o.attach = vec!["bogus".into()];
        assert!(build_body(&o, false).is_err());
    }
}
