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

/// One `-p` spec (`[ip:][hostPort:]containerPort[/proto]`, ranges allowed) as
/// `(container "port/proto", host ip, host port)` entries.
pub fn port_spec(v: &str) -> Result<Vec<(String, String, String)>> {
    let bad = || CliError::Usage(format!("invalid port format for --publish: {v}"));
    let (rest, proto) = match v.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (v, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(CliError::Usage(format!("invalid proto: {proto}")));
    }
    // An IPv6 host address is bracketed.
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, r) = r.split_once(']').ok_or_else(bad)?;
        (ip.to_string(), r.strip_prefix(':').ok_or_else(bad)?)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), rest),
            3 => (parts[0].to_string(), &rest[parts[0].len() + 1..]),
            _ => return Err(bad()),
        }
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    if container.is_empty() {
        return Err(CliError::Usage(format!("no port specified: {v}<empty>")));
    }
    let range = |s: &str| -> Result<(u32, u32)> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let a: u32 = a
            .parse()
            .map_err(|_| CliError::Usage(format!("invalid containerPort: {s}")))?;
        let b: u32 = b
            .parse()
            .map_err(|_| CliError::Usage(format!("invalid containerPort: {s}")))?;
        if a > 65535 || b > 65535 || b < a {
            return Err(CliError::Usage(format!("invalid containerPort: {s}")));
        }
        Ok((a, b))
    };
    let (c0, c1) = range(container)?;
    let hr = if host.is_empty() {
        None
    } else {
        Some(range(host).map_err(|_| CliError::Usage(format!("invalid hostPort: {host}")))?)
    };
    let mut out = Vec::new();
    for (i, p) in (c0..=c1).enumerate() {
        let hp = match hr {
            None => String::new(),
            Some((h0, h1)) if h1 - h0 == c1 - c0 => (h0 + i as u32).to_string(),
            Some((h0, h1)) if h0 == h1 => h0.to_string(),
            Some((h0, h1)) => format!("{h0}-{h1}"),
        };
        out.push((format!("{p}/{proto}"), ip.clone(), hp));
    }
    Ok(out)
}

/// `--expose port[/proto]` (ranges allowed) as "port/proto" keys.
pub fn expose(v: &str) -> Result<Vec<String>> {
    let (p, proto) = v.rsplit_once('/').unwrap_or((v, "tcp"));
    let (a, b) = p.split_once('-').unwrap_or((p, p));
    let bad = || {
        CliError::Usage(format!("invalid range format for --expose: {v}, error: strconv.ParseUint: parsing \"{p}\": invalid syntax"))
    };
    let a: u32 = a.parse().map_err(|_| bad())?;
    let b: u32 = b.parse().map_err(|_| bad())?;
    Ok((a..=b).map(|x| format!("{x}/{proto}")).collect())
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
