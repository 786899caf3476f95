//! docker's flag value parsers for container commands: `RAMInBytes` sizes (`16m`, `1g`; "invalid
//! size: 'x'"), `--cpus` to NanoCPUs, `--restart` policies with docker's messages, `-e`/`--env-file`
//! (a bare name takes the value from our environment, dropped when unset), `--ulimit`, `-p` port
//! specs, `--tmpfs`, `-l`/`--label-file`, `-v` binds and `--detach-keys`. Errors are
//! [`CliError::Flag`] with docker's "invalid argument ... for ... flag" wording and exit code 125.

use crate::error::{CliError, Result};

fn flag_err(value: &str, flag: &str, why: &str) -> CliError {
    CliError::Flag {
        message: format!("invalid argument \"{value}\" for \"{flag}\" flag: {why}"),
        code: 125,
    }
}

/// go-units `RAMInBytes`: a decimal number with an optional binary suffix (b, k, m, g, t, p, with an
/// optional trailing `b`/`ib`), case-insensitive.
pub fn ram_in_bytes(s: &str) -> std::result::Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(bad());
    }
    let mul: f64 = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024f64.powi(2),
        "g" | "gb" | "gib" => 1024f64.powi(3),
        "t" | "tb" | "tib" => 1024f64.powi(4),
        "p" | "pb" | "pib" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    Ok((n * mul) as i64)
}

/// `-m/--memory` and friends (`opts.MemBytes`).
pub fn mem_bytes(v: &str, flag: &str) -> Result<i64> {
    ram_in_bytes(v).map_err(|e| flag_err(v, flag, &e))
}

/// `--memory-swap` (`opts.MemSwapBytes`): `-1` is unlimited.
pub fn mem_swap_bytes(v: &str) -> Result<i64> {
    if v == "-1" {
        return Ok(-1);
    }
    mem_bytes(v, "--memory-swap")
}

/// `--cpus` (`opts.NanoCPUs`): a decimal number of CPUs to nano-CPUs.
pub fn nano_cpus(v: &str) -> Result<i64> {
    let n: f64 = v.parse().map_err(|_| {
        flag_err(
            v,
            "--cpus",
            &format!("failed to parse {v} as a rational number"),
        )
    })?;
    let nano = n * 1e9;
    if nano.fract() != 0.0 {
        return Err(flag_err(v, "--cpus", "value is too precise"));
    }
    Ok(nano as i64)
}

/// `--restart` (`opts.ParseRestartPolicy`) to the API's `RestartPolicy` object.
pub fn restart_policy(v: &str) -> Result<serde_json::Value> {
    if v.is_empty() {
        return Ok(serde_json::json!({"Name": "", "MaximumRetryCount": 0}));
    }
    let (name, count) = match v.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (v, None),
    };
    if name.is_empty() {
        return Err(CliError::Usage(
            "invalid restart policy format: no policy provided before colon".into(),
        ));
    }
    let mut max = 0i64;
    if let Some(c) = count {
        max = c.parse().map_err(|_| {
            let _ = c;
            CliError::Usage(
                "invalid restart policy format: maximum retry count must be an integer".into(),
            )
        })?;
    }
    // The policy name is the daemon's to check ("invalid restart policy 'x'"), as with docker.
    let _ = &name;
    Ok(serde_json::json!({"Name": name, "MaximumRetryCount": max}))
}

/// `-e NAME=value`, or `-e NAME` taking NAME's value from the environment (dropped when unset).
pub fn env_var(v: &str) -> Result<Option<String>> {
    let name = v.split('=').next().unwrap_or("");
    if name.is_empty() {
        return Err(flag_err(
            v,
            "-e, --env",
            &format!("invalid environment variable: {v}"),
        ));
    }
    if v.contains('=') {
        return Ok(Some(v.to_string()));
    }
    Ok(std::env::var(v).ok().map(|val| format!("{v}={val}")))
}

/// `--env-file`/`--label-file` contents (`kvfile.Parse`): `#` comments and blank lines skipped, a
/// line without `=` takes its value from our environment when `from_env`.
pub fn parse_kv_file(path: &str, from_env: bool) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("open {path}: {}", io_msg(&e))))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start_matches('\u{feff}');
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.split_once('=') {
            Some((k, v)) => {
                let k = k.trim_start();
                if k.contains(char::is_whitespace) {
                    return Err(CliError::Usage(format!(
                        "variable '{k}' contains whitespaces"
                    )));
                }
                if k.is_empty() {
                    return Err(CliError::Usage(format!(
                        "invalid variable: {path}:{}: no variable name",
                        i + 1
                    )));
                }
                out.push(format!("{k}={v}"));
            }
            None => {
                if from_env {
                    if let Ok(val) = std::env::var(trimmed) {
                        out.push(format!("{trimmed}={val}"));
                    }
                } else {
                    out.push(trimmed.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// Go's wording for common I/O errors ("no such file or directory").
pub fn io_msg(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// `--ulimit name=soft[:hard]` to `{"Name","Soft","Hard"}`.
pub fn ulimit(v: &str) -> Result<serde_json::Value> {
    let why = |w: &str| flag_err(v, "--ulimit", w);
    let (name, vals) = v
        .split_once('=')
        .ok_or_else(|| why(&format!("invalid ulimit argument: {v}")))?;
    const KNOWN: [&str; 16] = [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    if !KNOWN.contains(&name) {
        return Err(why(&format!("invalid ulimit type: {name}")));
    }
    let parse = |s: &str| {
        s.parse::<i64>().map_err(|_| {
            why(&format!(
                "invalid ulimit soft value: {s}: strconv.ParseInt: parsing \"{s}\": invalid syntax"
            ))
        })
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((s, h)) => (parse(s)?, parse(h)?),
        None => {
            let s = parse(vals)?;
            (s, s)
        }
    };
    if soft > hard {
        return Err(why(&format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(serde_json::json!({"Name": name, "Hard": hard, "Soft": soft}))
}

/// go-connections' `ParsePortRange` (v0.5.0, the version docker 28's CLI vends): `a` or `a-b`, each a
/// 16-bit unsigned number, `b >= a`.
fn port_range(s: &str) -> std::result::Result<(u32, u32), String> {
    let num = |x: &str| {
        x.parse::<u16>().map(u32::from).map_err(|_| {
            let why = if !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            format!("strconv.ParseUint: parsing {x:?}: {why}")
        })
    };
    if s.is_empty() {
        return Err("empty string specified for ports".into());
    }
    let Some((a, b)) = s.split_once('-') else {
        let p = num(s)?;
        return Ok((p, p));
    };
    let b = b.split('-').next().unwrap_or(b);
    let (a, b) = (num(a)?, num(b)?);
    if b < a {
        return Err(format!("invalid range specified for port: {s}"));
    }
    Ok((a, b))
}

/// go-connections' `SplitProtoPort`: `port[/proto]`, an empty proto meaning tcp.
fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 {
        return ("tcp".into(), raw.into());
    }
    if parts[1].is_empty() {
        return ("tcp".into(), parts[0].into());
    }
    (parts[1].into(), parts[0].into())
}

/// One `-p` spec as go-connections' `ParsePortSpec` reads it (`[ip:][hostPort:]containerPort[/proto]`,
/// ranges allowed, an IPv6 host address in brackets): `(container "port/proto", host ip, host port)`
/// entries, with its error wording. `-p published=8080,target=80[,protocol=udp]` is first turned into
/// the short form as docker's `convertToStandardNotation` does.
pub fn port_spec(v: &str) -> Result<Vec<(String, String, String)>> {
    let usage = |m: String| CliError::Usage(m);
    let raw = if v.contains('=') {
        let mut params: std::collections::HashMap<&str, &str> = [("protocol", "tcp")].into();
        for param in v.split(',') {
            match param.split_once('=') {
                Some((k, val)) if !k.is_empty() => {
                    params.insert(k, val);
                }
                _ => {
                    return Err(usage(format!(
                        "invalid publish opts format (should be name=value but got '{param}')"
                    )))
                }
            }
        }
        let g = |k: &str| params.get(k).copied().unwrap_or("");
        format!("{}:{}/{}", g("published"), g("target"), g("protocol"))
    } else {
        v.to_string()
    };
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (mut ip, host, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (proto, container) = split_proto_port(container);
    if let Some(inner) = ip.strip_prefix('[') {
        match inner.strip_suffix(']') {
            Some(i) if !i.contains(['[', ']']) => ip = i.to_string(),
            _ => {
                return Err(usage(format!(
                    "invalid IP address {ip}: address {ip}:: missing port in address"
                )))
            }
        }
    }
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(usage(format!("invalid IP address: {ip}")));
    }
    if container.is_empty() {
        return Err(usage(format!("no port specified: {raw}<empty>")));
    }
    let (c0, c1) =
        port_range(&container).map_err(|_| usage(format!("invalid containerPort: {container}")))?;
    let (h0, h1) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(host).map_err(|_| usage(format!("invalid hostPort: {host}")))?
    };
    if !host.is_empty() && c1 - c0 != h1.wrapping_sub(h0) && c1 != c0 {
        return Err(usage(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        )));
    }
    if !matches!(proto.to_lowercase().as_str(), "tcp" | "udp" | "sctp") {
        return Err(usage(format!("invalid proto: {proto}")));
    }
    let proto = proto.to_lowercase();
    let mut out = Vec::new();
    for i in 0..=(c1 - c0) {
        let mut hp = if host.is_empty() {
            String::new()
        } else {
            (h0 + i).to_string()
        };
        if c0 == c1 && h0 != h1 {
            hp = format!("{hp}-{h1}");
        }
        out.push((format!("{}/{proto}", c0 + i), ip.clone(), hp));
    }
    Ok(out)
}

/// `--expose port[/proto]` (ranges allowed) as "port/proto" keys, with docker's errors.
pub fn expose(v: &str) -> Result<Vec<String>> {
    if v.contains(':') {
        return Err(CliError::Usage(format!(
            "invalid port format for --expose: {v}"
        )));
    }
    let (proto, port) = split_proto_port(v);
    let (a, b) = port_range(&port).map_err(|e| {
        CliError::Usage(format!(
            "invalid range format for --expose: {v}, error: {e}"
        ))
    })?;
    Ok((a..=b).map(|x| format!("{x}/{proto}")).collect())
}

/// `--dns` (`opts.ValidateIPAddress`): the address in Go's canonical form.
pub fn dns(v: &str) -> Result<String> {
    canonical_ip(v.trim()).ok_or_else(|| {
        flag_err(
            v,
            "--dns",
            &format!("IP address is not correctly formatted: {v}"),
        )
    })
}

/// An address as Go's `net.IP.String()` prints it (IPv4-mapped IPv6 as IPv4), `None` when invalid.
fn canonical_ip(v: &str) -> Option<String> {
    match v.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V6(a) => Some(
            a.to_ipv4_mapped()
                .map(|m| m.to_string())
                .unwrap_or_else(|| a.to_string()),
        ),
        a => Some(a.to_string()),
    }
}

/// `--dns-search` (`opts.ValidateDNSSearch`): "." or a domain name (trailing dot dropped).
pub fn dns_search(v: &str) -> Result<String> {
    let val = v.trim_matches(' ');
    if val == "." {
        return Ok(val.into());
    }
    let bad = || flag_err(v, "--dns-search", &format!("{val} is not a valid domain"));
    if !val.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let body = val.trim_end_matches(char::is_whitespace);
    let body = body.strip_suffix('.').unwrap_or(body);
    let label_ok = |l: &str| {
        let b = l.strip_prefix(':').unwrap_or(l).as_bytes();
        !b.is_empty()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    if body.split('.').all(label_ok) && body.len() < 255 {
        Ok(body.to_string())
    } else {
        Err(bad())
    }
}

/// `--add-host host:ip`, `host=ip` or `host:host-gateway` (`opts.ValidateExtraHost`) as the API's
/// "host:ip".
pub fn extra_host(v: &str) -> Result<String> {
    let split = v.split_once('=').or_else(|| v.split_once(':'));
    let bad = || flag_err(v, "--add-host", &format!("bad format for add-host: {v:?}"));
    let (k, mut ip) = split.ok_or_else(bad)?;
    if k.is_empty() || k.contains(':') {
        return Err(bad());
    }
    if ip != "host-gateway" {
        if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') {
            ip = &ip[1..ip.len() - 1];
        }
        if canonical_ip(ip.trim()).is_none() {
            return Err(flag_err(
                v,
                "--add-host",
                &format!("invalid IP address in add-host: {ip:?}"),
            ));
        }
    }
    Ok(format!("{k}:{ip}"))
}

/// `--link name[:alias]` (`opts.ValidateLink`).
pub fn link(v: &str) -> Result<String> {
    if v.is_empty() {
        return Err(flag_err(v, "--link", "empty string specified for links"));
    }
    if v.splitn(3, ':').count() > 2 {
        return Err(flag_err(v, "--link", &format!("bad format for links: {v}")));
    }
    Ok(v.to_string())
}

/// Go's `net.ParseMAC` for the 6-byte forms docker accepts (`aa:bb:..`, `aa-bb-..`, `aabb.ccdd.eeff`).
pub fn valid_mac(v: &str) -> bool {
    let v = v.trim();
    let hex2 = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let hex4 = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = v.split(sep).collect();
        if parts.len() == 6 && parts.iter().all(|p| hex2(p)) {
            return true;
        }
    }
    let dots: Vec<&str> = v.split('.').collect();
    dots.len() == 3 && dots.iter().all(|p| hex4(p))
}

/// One `--network` value (`opts.NetworkOpt`): a plain name, or the long form
/// `name=n,alias=a,ip=..,ip6=..,mac-address=..,link-local-ip=..,driver-opt=k=v,gw-priority=n`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NetworkAttachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub links: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub mac: String,
    pub link_local_ips: Vec<String>,
    pub driver_opts: std::collections::BTreeMap<String, String>,
    pub gw_priority: i64,
}

fn is_long_network_syntax(v: &str) -> bool {
    // docker's regexp `\w+=\w+(,\w+=\w+)*`, unanchored: some `word=word` anywhere.
    let b = v.as_bytes();
    let w = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'=' && w(b[i - 1]) && w(b[i + 1]))
}

pub fn network_attachment(v: &str) -> Result<NetworkAttachment> {
    let mut n = NetworkAttachment::default();
    if !is_long_network_syntax(v) {
        n.target = v.to_string();
        return Ok(n);
    }
    let bad = |why: String| flag_err(v, "--network", &why);
    for field in v.split(',') {
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(bad(format!("invalid field {field}")));
        };
        let (key, val) = (key.trim(), val.trim().to_string());
        match key {
            "name" => n.target = val,
            "alias" => n.aliases.push(val),
            "ip" => n.ipv4 = val,
            "ip6" => n.ipv6 = val,
            "mac-address" => n.mac = val,
            "link-local-ip" => n.link_local_ips.push(val),
            "driver-opt" => {
                let Some((k, dv)) = val.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                    return Err(bad("invalid key value pair format in driver options".into()));
                };
                n.driver_opts.insert(k.trim().into(), dv.trim().into());
            }
            "gw-priority" => {
                n.gw_priority = val
                    .parse()
                    .map_err(|_| bad(format!("invalid gw-priority ({val}): invalid syntax")))?
            }
            other => return Err(bad(format!("invalid field key {other}"))),
        }
    }
    if n.target.is_empty() {
        return Err(bad("network name/id is not specified".into()));
    }
    Ok(n)
}

/// docker's `NetworkMode.IsUserDefined`: not default, bridge, host, none or `container:`.
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// docker's `parseNetworkAttachmentOpt`: the API `EndpointSettings` of one attachment, with every
/// field Go marshals.
pub fn endpoint_settings(n: &NetworkAttachment) -> Result<serde_json::Value> {
    use serde_json::{json, Value};
    if n.target.trim().is_empty() {
        return Err(CliError::Usage("no name set for network".into()));
    }
    if !is_user_defined(&n.target) {
        if !n.aliases.is_empty() {
            return Err(CliError::Usage(
                "network-scoped aliases are only supported for user-defined networks".into(),
            ));
        }
        if !n.links.is_empty() {
            return Err(CliError::Usage(
                "links are only supported for user-defined networks".into(),
            ));
        }
    }
    let list = |l: &[String]| {
        if l.is_empty() {
            Value::Null
        } else {
            json!(l)
        }
    };
    let ipam = if n.ipv4.is_empty() && n.ipv6.is_empty() && n.link_local_ips.is_empty() {
        Value::Null
    } else {
        let mut m = serde_json::Map::new();
        if !n.ipv4.is_empty() {
            m.insert("IPv4Address".into(), json!(n.ipv4));
        }
        if !n.ipv6.is_empty() {
            m.insert("IPv6Address".into(), json!(n.ipv6));
        }
        if !n.link_local_ips.is_empty() {
            m.insert("LinkLocalIPs".into(), json!(n.link_local_ips));
        }
        Value::Object(m)
    };
    if !n.mac.is_empty() && !valid_mac(&n.mac) {
        return Err(CliError::Usage(format!(
            "{} is not a valid mac address",
            n.mac
        )));
    }
    Ok(json!({
        "IPAMConfig": ipam,
        "Links": list(&n.links),
        "Aliases": list(&n.aliases),
        "MacAddress": n.mac,
        "DriverOpts": if n.driver_opts.is_empty() { Value::Null } else { json!(n.driver_opts) },
        "GwPriority": n.gw_priority,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": Value::Null,
    }))
}

/// `--tmpfs /path[:opts]` to the HostConfig `Tmpfs` entry.
pub fn tmpfs(v: &str) -> (String, String) {
    match v.split_once(':') {
        Some((p, o)) => (p.to_string(), o.to_string()),
        None => (v.to_string(), String::new()),
    }
}

/// `--detach-keys` (`term.ToBytes`): comma-separated `ctrl-<x>` or single characters.
pub fn detach_keys(v: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for key in v.split(',') {
        let k = key.trim();
        if k.len() > 1 {
            let Some(c) = k.strip_prefix("ctrl-") else {
                return Err(CliError::Usage(format!("Unknown character: '{k}'")));
            };
            let c = c.to_ascii_lowercase();
            let code = match c.as_str() {
                "@" => 0,
                "[" => 27,
                "\\" => 28,
                "]" => 29,
                "^" => 30,
                "_" => 31,
                s if s.len() == 1 && s.as_bytes()[0].is_ascii_lowercase() => {
                    s.as_bytes()[0] - b'a' + 1
                }
                _ => return Err(CliError::Usage(format!("Unknown character: '{k}'"))),
            };
            out.push(code);
        } else if let Some(b) = k.bytes().next() {
            out.push(b);
        }
    }
    Ok(out)
}

/// `-v src:dst[:opts]`: a bind (absolute source) or a named volume; returns (bind string, is_bind).
pub fn volume(v: &str) -> Result<(String, bool)> {
    let parts: Vec<&str> = v.split(':').collect();
    match parts.len() {
        1 => Ok((v.to_string(), false)),
        2 | 3 => {
            if parts[1].is_empty() || !parts[1].starts_with('/') {
                return Err(CliError::Usage(format!(
                    "invalid volume specification: '{v}': invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute",
                    parts[1]
                )));
            }
            Ok((v.to_string(), true))
        }
        _ => Err(CliError::Usage(format!(
            "invalid volume specification: '{v}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(ram_in_bytes("16m").unwrap(), 16 << 20);
        assert_eq!(ram_in_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("1GB").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("512").unwrap(), 512);
        assert_eq!(ram_in_bytes("1.5k").unwrap(), 1536);
        assert_eq!(ram_in_bytes("x").unwrap_err(), "invalid size: 'x'");
        assert_eq!(ram_in_bytes("10q").unwrap_err(), "invalid size: '10q'");
        assert_eq!(
            mem_bytes("x", "-m, --memory").unwrap_err().to_string(),
            "invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'"
        );
        assert_eq!(mem_swap_bytes("-1").unwrap(), -1);
    }

    #[test]
    fn cpus_to_nano() {
        assert_eq!(nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(nano_cpus("0.25").unwrap(), 250_000_000);
        assert!(nano_cpus("abc").is_err());
    }

    #[test]
    fn restart_policies() {
        assert_eq!(restart_policy("always").unwrap()["Name"], "always");
        assert_eq!(
            restart_policy("on-failure:3").unwrap()["MaximumRetryCount"],
            3
        );
        assert!(restart_policy("always:x").is_err());
        assert!(restart_policy(":3").is_err());
    }

    #[test]
    fn env_values() {
        assert_eq!(env_var("A=1").unwrap().unwrap(), "A=1");
        std::env::set_var("PIER_OPTS_TEST_VAR", "v");
        assert_eq!(
            env_var("PIER_OPTS_TEST_VAR").unwrap().unwrap(),
            "PIER_OPTS_TEST_VAR=v"
        );
        assert!(env_var("PIER_OPTS_TEST_UNSET_VAR").unwrap().is_none());
        assert!(env_var("=x").is_err());
        let dir = std::env::temp_dir().join(format!("pier-envfile-{}", std::process::id()));
        std::fs::write(&dir, "# c\n\nA=1\nPIER_OPTS_TEST_VAR\nB= x \n").unwrap();
        let got = parse_kv_file(dir.to_str().unwrap(), true).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(got, vec!["A=1", "PIER_OPTS_TEST_VAR=v", "B= x "]);
    }

    #[test]
    fn port_specs_like_go_connections() {
        let one = |v: &str| port_spec(v).map_err(|e| e.to_string());
        assert_eq!(
            one("[::1]:8080:80").unwrap(),
            vec![("80/tcp".into(), "::1".into(), "8080".into())]
        );
        assert_eq!(
            one("8000-8001:80").unwrap(),
            vec![("80/tcp".into(), "".into(), "8000-8001".into())]
        );
        assert_eq!(
            one("8000-8001:80-81/UDP").unwrap()[1],
            ("81/udp".into(), "".into(), "8001".into())
        );
        assert_eq!(
            one("published=8080,target=80,protocol=udp").unwrap(),
            vec![("80/udp".into(), "".into(), "8080".into())]
        );
        assert_eq!(one("x").unwrap_err(), "invalid containerPort: x");
        assert_eq!(one("70000:80").unwrap_err(), "invalid hostPort: 70000");
        assert_eq!(one("80/xyz").unwrap_err(), "invalid proto: xyz");
        assert_eq!(one("1.2.3:80:80").unwrap_err(), "invalid IP address: 1.2.3");
        assert_eq!(one("8080:").unwrap_err(), "no port specified: 8080:<empty>");
        assert_eq!(
            one("8000-8002:80-81").unwrap_err(),
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
        assert_eq!(
            expose("x").unwrap_err().to_string(),
            "invalid range format for --expose: x, error: strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert!(expose("1:2").is_err());
    }

    #[test]
    fn network_flag_values() {
        assert_eq!(extra_host("db:10.1.2.3").unwrap(), "db:10.1.2.3");
        assert_eq!(extra_host("gw=[::1]").unwrap(), "gw:::1");
        assert_eq!(extra_host("h:host-gateway").unwrap(), "h:host-gateway");
        assert!(extra_host("x").is_err());
        assert!(extra_host("h:x").is_err());
        assert_eq!(dns("::ffff:1.2.3.4").unwrap(), "1.2.3.4");
        assert!(dns("x").is_err());
        assert_eq!(dns_search("example.com.").unwrap(), "example.com");
        assert!(dns_search("-bad").is_err());
        assert!(link("a:b:c").is_err());
        assert!(valid_mac("02:42:ac:11:00:02") && !valid_mac("zz"));
        let n = network_attachment("name=n1,alias=a,ip=10.0.0.2,driver-opt=k=v").unwrap();
        assert_eq!(
            (n.target.as_str(), n.aliases.len(), n.ipv4.as_str()),
            ("n1", 1, "10.0.0.2")
        );
        assert_eq!(network_attachment("plain").unwrap().target, "plain");
        assert!(network_attachment("name=n,foo=1").is_err());
        let ep = endpoint_settings(&n).unwrap();
        assert_eq!(
            ep["IPAMConfig"],
            serde_json::json!({"IPv4Address": "10.0.0.2"})
        );
        assert_eq!(ep["DriverOpts"], serde_json::json!({"k": "v"}));
        let mut bad = n.clone();
        bad.target = "bridge".into();
        assert!(endpoint_settings(&bad).is_err());
    }

    #[test]
    fn ports_and_limits() {
        assert_eq!(
            port_spec("127.0.0.1:8080:80").unwrap(),
            vec![("80/tcp".into(), "127.0.0.1".into(), "8080".into())]
        );
        assert_eq!(
            port_spec("80/udp").unwrap(),
            vec![("80/udp".into(), "".into(), "".into())]
        );
        assert_eq!(port_spec("8000-8001:80-81").unwrap().len(), 2);
        assert_eq!(expose("80-82").unwrap().len(), 3);
        assert_eq!(
            ulimit("nofile=10:20").unwrap(),
            serde_json::json!({"Name":"nofile","Hard":20,"Soft":10})
        );
        assert!(ulimit("nofile=20:10").is_err());
        assert_eq!(detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(detach_keys("a,ctrl-[").unwrap(), vec![b'a', 27]);
        assert!(volume("/a:b").is_err());
        assert!(volume("/a:/b:ro").unwrap().1);
    }
}
