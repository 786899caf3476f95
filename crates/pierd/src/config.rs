//! The daemon's configuration: command-line flags (dockerd's names) merged with the JSON config
//! file (dockerd's `daemon.json` keys). As in dockerd, a setting given both as a flag and in the
//! file is an error, a key the file should not have is an error, the default config file may be
//! absent, and a config file named explicitly must exist and parse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;

use pier_network::firewall::Backend;

use crate::engine::{OciRuntime, BUILTIN_RUNTIMES};

pub const DEFAULT_HOST: &str = "unix:///run/pier/pier.sock";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/pier";
pub const DEFAULT_EXEC_ROOT: &str = "/run/pier";
pub const DEFAULT_CONFIG_FILE: &str = "/etc/pier/daemon.json";
pub const DEFAULT_BRIDGE: &str = "pier0";

/// pierd's flags.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "pierd",
    version,
    about = "Pier: a container engine that speaks the Docker Engine API"
)]
pub struct Flags {
    /// Daemon socket(s) to listen on: unix:///path or tcp://host:port (repeatable)
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Root directory of persistent state
    #[arg(long = "data-root", value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// Root directory of runtime state
    #[arg(long = "exec-root", value_name = "DIR")]
    pub exec_root: Option<PathBuf>,
    /// Path of the PID file (default <exec-root>/pierd.pid)
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// A registry to reach over plain HTTP / unverified TLS (host:port or CIDR; repeatable)
    #[arg(long = "insecure-registry", value_name = "REGISTRY")]
    pub insecure_registries: Vec<String>,
    /// Logging level: debug, info, warn, error, fatal
    #[arg(short = 'l', long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Daemon configuration file
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Register an additional OCI compatible runtime (NAME=PATH; repeatable)
    #[arg(long = "add-runtime", value_name = "NAME=PATH")]
    pub add_runtimes: Vec<String>,
    /// Parent cgroup of every container's cgroup
    #[arg(long = "cgroup-parent", value_name = "CGROUP", default_value = "/pier")]
    pub cgroup_parent: String,
    /// Host bridge of the default `bridge` network ("none": no default bridge network)
    #[arg(short = 'b', long = "bridge", value_name = "NAME")]
    pub bridge: Option<String>,
    /// Address and prefix of the default bridge (e.g. 172.17.0.1/16)
    #[arg(long = "bip", value_name = "CIDR")]
    pub bip: Option<String>,
    /// Pool of subnets for networks: base=10.10.0.0/16,size=24 (repeatable)
    #[arg(long = "default-address-pool", value_name = "POOL")]
    pub default_address_pools: Vec<String>,
    /// Program packet filter rules (NAT, published ports, isolation)
    #[arg(long = "iptables", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub iptables: Option<bool>,
    /// Packet filter to program: nftables or iptables (default: nftables when usable, else iptables)
    #[arg(long = "firewall-backend", value_name = "BACKEND")]
    pub firewall_backend: Option<String>,
    /// Enable net.ipv4.ip_forward
    #[arg(long = "ip-forward", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub ip_forward: Option<bool>,
    /// MTU of bridges and container interfaces
    #[arg(long = "mtu", value_name = "BYTES")]
    pub mtu: Option<u32>,
    /// Accepted for dockerd compatibility; pier publishes ports without a proxy process
    #[arg(long = "userland-proxy", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub userland_proxy: Option<bool>,
}

/// The network settings of the daemon (dockerd's bridge flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// "pier0" by default; "none" disables the default bridge network.
    pub bridge: String,
    pub bip: Option<String>,
    /// (base CIDR, size) pairs; empty means docker's defaults.
    pub pools: Vec<(String, u8)>,
    pub iptables: bool,
    /// `--firewall-backend`; `None`: nftables when usable, else iptables.
    pub firewall_backend: Option<Backend>,
    pub ip_forward: bool,
    pub mtu: u32,
    pub userland_proxy: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bridge: DEFAULT_BRIDGE.into(),
            bip: None,
            pools: Vec::new(),
            iptables: true,
            firewall_backend: None,
            ip_forward: true,
            mtu: 1500,
            userland_proxy: true,
        }
    }
}

/// Parses `base=10.10.0.0/16,size=24`.
pub fn parse_pool(s: &str) -> Result<(String, u8), ConfigError> {
    let bad = || ConfigError::Pool(s.to_string());
    let (mut base, mut size) = (None, None);
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("base", v)) => base = Some(v.to_string()),
            Some(("size", v)) => size = Some(v.parse::<u8>().map_err(|_| bad())?),
            _ => return Err(bad()),
        }
    }
    match (base, size) {
        (Some(b), Some(z)) if b.contains('/') && (1..=30).contains(&z) => Ok((b, z)),
        _ => Err(bad()),
    }
}

/// The settled configuration the daemon runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    pub hosts: Vec<String>,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub pidfile: PathBuf,
    pub insecure_registries: Vec<String>,
    pub log_level: String,
    pub debug: bool,
    /// Runtimes besides the built-in one, by name.
    pub runtimes: BTreeMap<String, OciRuntime>,
    pub net: NetConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unable to configure the pier daemon with file {path}: {message}")]
    File { path: String, message: String },
    #[error("invalid log level: {0} (use debug, info, warn, error or fatal)")]
    LogLevel(String),
    #[error("invalid host {0:?}: use unix:///path or tcp://host:port")]
    Host(String),
    #[error("{0}")]
    Runtime(String),
    #[error("invalid default address pool {0:?}: use base=<cidr>,size=<prefix length>")]
    Pool(String),
    #[error("invalid firewall-backend {0:?}: use iptables or nftables")]
    FirewallBackend(String),
}

/// Keys of the config file pier understands.
const KNOWN_KEYS: &[&str] = &[
    "hosts",
    "data-root",
    "exec-root",
    "pidfile",
    "insecure-registries",
    "log-level",
    "debug",
    "runtimes",
    "bridge",
    "bip",
    "default-address-pools",
    "iptables",
    "firewall-backend",
    "ip-forward",
    "mtu",
    "userland-proxy",
];

#[derive(Debug, serde::Deserialize)]
struct FilePool {
    base: String,
    size: u8,
}

/// One entry of daemon.json's `runtimes`.
#[derive(Debug, Default, serde::Deserialize)]
struct FileRuntime {
    #[serde(default)]
    path: String,
    #[serde(default, rename = "runtimeArgs")]
    runtime_args: Vec<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    hosts: Option<Vec<String>>,
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    pidfile: Option<PathBuf>,
    insecure_registries: Option<Vec<String>>,
    log_level: Option<String>,
    debug: Option<bool>,
    runtimes: Option<BTreeMap<String, FileRuntime>>,
    bridge: Option<String>,
    bip: Option<String>,
    default_address_pools: Option<Vec<FilePool>>,
    iptables: Option<bool>,
    firewall_backend: Option<String>,
    ip_forward: Option<bool>,
    mtu: Option<u32>,
    userland_proxy: Option<bool>,
}

impl DaemonConfig {
    /// Flags plus the config file they name (or the default one, when it exists).
    pub fn load(flags: &Flags) -> Result<DaemonConfig, ConfigError> {
        let (path, required) = match &flags.config_file {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
            Err(e) => {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        Self::merge(flags, text.as_deref(), &path)
    }

    /// Merges `flags` with the config file text (if any) read from `path`.
    pub fn merge(
        flags: &Flags,
        file_text: Option<&str>,
        path: &Path,
    ) -> Result<DaemonConfig, ConfigError> {
        let file_err = |message: String| ConfigError::File {
            path: path.display().to_string(),
            message,
        };
        let file = match file_text {
            None => FileConfig::default(),
            Some(text) => {
                let raw: BTreeMap<String, serde_json::Value> =
                    serde_json::from_str(text).map_err(|e| file_err(e.to_string()))?;
                let unknown: Vec<&str> = raw
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !KNOWN_KEYS.contains(k))
                    .collect();
                if !unknown.is_empty() {
                    return Err(file_err(format!(
                        "the following directives don't match any configuration option: {}",
                        unknown.join(", ")
                    )));
                }
                // Each daemon.json key a flag also sets: given both ways is an error.
                let both: [(&str, &dyn FlagValue); 16] = [
                    ("hosts", &flags.hosts),
                    ("data-root", &flags.data_root),
                    ("exec-root", &flags.exec_root),
                    ("pidfile", &flags.pidfile),
                    ("insecure-registries", &flags.insecure_registries),
                    ("log-level", &flags.log_level),
                    ("debug", &flags.debug),
                    ("runtimes", &flags.add_runtimes),
                    ("bridge", &flags.bridge),
                    ("bip", &flags.bip),
                    ("default-address-pools", &flags.default_address_pools),
                    ("iptables", &flags.iptables),
                    ("firewall-backend", &flags.firewall_backend),
                    ("ip-forward", &flags.ip_forward),
                    ("mtu", &flags.mtu),
                    ("userland-proxy", &flags.userland_proxy),
                ];
                let conflicts: Vec<String> = both
                    .iter()
                    .filter(|(key, flag)| flag.given() && raw.contains_key(*key))
                    .map(|(key, flag)| {
                        format!(
                            "{key}: (from flag: {}, from file: {})",
                            flag.shown(),
                            raw[*key]
                        )
                    })
                    .collect();
                if !conflicts.is_empty() {
                    return Err(file_err(format!(
                        "the following directives are specified both as a flag and in the configuration file: {}",
                        conflicts.join(", ")
                    )));
                }
                serde_json::from_str(text).map_err(|e| file_err(e.to_string()))?
            }
        };

        let hosts = if !flags.hosts.is_empty() {
            flags.hosts.clone()
        } else {
            file.hosts
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| vec![DEFAULT_HOST.to_string()])
        };
        for h in &hosts {
            Listen::parse(h)?;
        }
        let data_root = flags
            .data_root
            .clone()
            .or(file.data_root)
            .unwrap_or_else(|| DEFAULT_DATA_ROOT.into());
        let exec_root = flags
            .exec_root
            .clone()
            .or(file.exec_root)
            .unwrap_or_else(|| DEFAULT_EXEC_ROOT.into());
        let pidfile = flags
            .pidfile
            .clone()
            .or(file.pidfile)
            .unwrap_or_else(|| exec_root.join("pierd.pid"));
        let insecure_registries = if !flags.insecure_registries.is_empty() {
            flags.insecure_registries.clone()
        } else {
            file.insecure_registries.unwrap_or_default()
        };
        let debug = flags.debug || file.debug.unwrap_or(false);
        let log_level = flags
            .log_level
            .clone()
            .or(file.log_level)
            .unwrap_or_else(|| if debug { "debug" } else { "info" }.to_string());
        if !matches!(
            log_level.as_str(),
            "debug" | "info" | "warn" | "error" | "fatal" | "trace"
        ) {
            return Err(ConfigError::LogLevel(log_level));
        }
        let mut runtimes = BTreeMap::new();
        for r in &flags.add_runtimes {
            let (name, path) = parse_runtime_flag(r)?;
            add_runtime(&mut runtimes, name, path, Vec::new())?;
        }
        for (name, r) in file.runtimes.unwrap_or_default() {
            if r.path.is_empty() {
                return Err(file_err(format!("runtime {name}: path is required")));
            }
            add_runtime(&mut runtimes, name, r.path, r.runtime_args)?;
        }
        let pools = if !flags.default_address_pools.is_empty() {
            flags
                .default_address_pools
                .iter()
                .map(|p| parse_pool(p))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            file.default_address_pools
                .unwrap_or_default()
                .into_iter()
                .map(|p| parse_pool(&format!("base={},size={}", p.base, p.size)))
                .collect::<Result<Vec<_>, _>>()?
        };
        let d = NetConfig::default();
        let firewall_backend = match flags.firewall_backend.clone().or(file.firewall_backend) {
            None => None,
            Some(b) => Some(
                b.parse::<Backend>()
                    .map_err(|_| ConfigError::FirewallBackend(b))?,
            ),
        };
        let net = NetConfig {
            bridge: flags.bridge.clone().or(file.bridge).unwrap_or(d.bridge),
            bip: flags.bip.clone().or(file.bip),
            pools,
            iptables: flags.iptables.or(file.iptables).unwrap_or(d.iptables),
            firewall_backend,
            ip_forward: flags.ip_forward.or(file.ip_forward).unwrap_or(d.ip_forward),
            mtu: flags.mtu.or(file.mtu).unwrap_or(d.mtu),
            userland_proxy: flags
                .userland_proxy
                .or(file.userland_proxy)
                .unwrap_or(d.userland_proxy),
        };
        Ok(DaemonConfig {
            hosts,
            data_root,
            exec_root,
            pidfile,
            insecure_registries,
            log_level,
            debug,
            runtimes,
            net,
        })
    }
}

/// `--add-runtime NAME=PATH`, checked as dockerd checks it.
fn parse_runtime_flag(v: &str) -> Result<(String, String), ConfigError> {
    let bad = || ConfigError::Runtime(format!("invalid runtime argument: {v}"));
    let (name, path) = v.split_once('=').ok_or_else(bad)?;
    let (name, path) = (name.trim(), path.trim());
    if name.is_empty() || path.is_empty() {
        return Err(bad());
    }
    Ok((name.to_lowercase(), path.to_string()))
}

fn add_runtime(
    map: &mut BTreeMap<String, OciRuntime>,
    name: String,
    path: String,
    args: Vec<String>,
) -> Result<(), ConfigError> {
    if BUILTIN_RUNTIMES.contains(&name.as_str()) {
        return Err(ConfigError::Runtime(format!(
            "runtime name '{name}' is reserved"
        )));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(ConfigError::Runtime(format!(
            "invalid runtime name {name:?}: use letters, digits, '_', '.' and '-'"
        )));
    }
    if map.contains_key(&name) {
        return Err(ConfigError::Runtime(format!(
            "runtime '{name}' was already defined"
        )));
    }
    map.insert(
        name,
        OciRuntime {
            path: path.into(),
            args,
        },
    );
    Ok(())
}

/// One listen address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Tcp(String),
}

impl Listen {
    pub fn parse(host: &str) -> Result<Listen, ConfigError> {
        let bad = || ConfigError::Host(host.to_string());
        if let Some(path) = host.strip_prefix("unix://") {
            if path.is_empty() {
                return Ok(Listen::Unix(PathBuf::from("/run/pier/pier.sock")));
            }
            if !path.starts_with('/') {
                return Err(bad());
            }
            Ok(Listen::Unix(PathBuf::from(path)))
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            let (h, port) = addr.rsplit_once(':').ok_or_else(bad)?;
            if port.parse::<u16>().is_err() {
                return Err(bad());
            }
            let h = if h.is_empty() { "0.0.0.0" } else { h };
            Ok(Listen::Tcp(format!("{h}:{port}")))
        } else if host.starts_with('/') {
            Ok(Listen::Unix(PathBuf::from(host)))
        } else {
            Err(bad())
        }
    }
}

/// A command-line flag's value for the flag-vs-file check: whether it was given, and how dockerd
/// shows it in the error.
trait FlagValue {
    fn given(&self) -> bool;
    fn shown(&self) -> String;
}

impl<T: std::fmt::Debug> FlagValue for Option<T> {
    fn given(&self) -> bool {
        self.is_some()
    }
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}

impl<T: std::fmt::Debug> FlagValue for Vec<T> {
    fn given(&self) -> bool {
        !self.is_empty()
    }
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}

impl FlagValue for bool {
    fn given(&self) -> bool {
        *self
    }
    fn shown(&self) -> String {
        "true".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        let mut v = vec!["pierd"];
        v.extend_from_slice(args);
        Flags::try_parse_from(v).unwrap()
    }

    #[test]
    fn defaults() {
        let c = DaemonConfig::merge(&flags(&[]), None, Path::new("/x")).unwrap();
        assert_eq!(c.hosts, vec![DEFAULT_HOST]);
        assert_eq!(c.data_root, PathBuf::from("/var/lib/pier"));
        assert_eq!(c.pidfile, PathBuf::from("/run/pier/pierd.pid"));
        assert_eq!(c.log_level, "info");
    }

    #[test]
    fn network_flags_and_file_keys() {
        let c = DaemonConfig::merge(
            &flags(&[
                "--bridge",
                "pk1",
                "--bip",
                "10.216.0.1/24",
                "--default-address-pool",
                "base=10.220.0.0/24,size=28",
                "--iptables=false",
                "--mtu",
                "1400",
            ]),
            None,
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(c.net.bridge, "pk1");
        assert_eq!(c.net.bip.as_deref(), Some("10.216.0.1/24"));
        assert_eq!(c.net.pools, vec![("10.220.0.0/24".to_string(), 28)]);
        assert!(!c.net.iptables && c.net.ip_forward && c.net.userland_proxy);
        assert_eq!(c.net.mtu, 1400);
        let c = DaemonConfig::merge(
            &flags(&[]),
            Some(r#"{"bridge": "pk2", "default-address-pools": [{"base": "10.9.0.0/16", "size": 24}], "userland-proxy": false}"#),
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(c.net.bridge, "pk2");
        assert_eq!(c.net.pools, vec![("10.9.0.0/16".to_string(), 24)]);
        assert!(!c.net.userland_proxy);
        assert_eq!(
            DaemonConfig::merge(&flags(&[]), None, Path::new("/x"))
                .unwrap()
                .net
                .bridge,
            "pier0"
        );
        assert!(DaemonConfig::merge(
            &flags(&["--bridge", "a"]),
            Some(r#"{"bridge": "b"}"#),
            Path::new("/x")
        )
        .is_err());
        let backend = |f: &[&str], file: Option<&str>| {
            DaemonConfig::merge(&flags(f), file, Path::new("/x")).map(|c| c.net.firewall_backend)
        };
        assert_eq!(backend(&[], None).unwrap(), None);
        assert_eq!(
            backend(&["--firewall-backend", "iptables"], None).unwrap(),
            Some(Backend::Iptables)
        );
        assert_eq!(
            backend(&[], Some(r#"{"firewall-backend": "nftables"}"#)).unwrap(),
            Some(Backend::Nftables)
        );
        assert_eq!(
            backend(&["--firewall-backend", "ipfw"], None)
                .unwrap_err()
                .to_string(),
            "invalid firewall-backend \"ipfw\": use iptables or nftables"
        );
        assert!(backend(
            &["--firewall-backend", "iptables"],
            Some(r#"{"firewall-backend": "iptables"}"#)
        )
        .is_err());
        assert!(parse_pool("base=10.0.0.0/8").is_err());
        assert!(parse_pool("base=10.0.0.0/8,size=x").is_err());
    }

    #[test]
    fn flags_and_file_merge() {
        let f = flags(&[
            "-H",
            "unix:///tmp/a.sock",
            "--host",
            "tcp://127.0.0.1:2375",
            "--exec-root",
            "/tmp/e",
            "--insecure-registry",
            "reg:5000",
        ]);
        let c = DaemonConfig::merge(
            &f,
            Some(r#"{"data-root": "/tmp/d", "log-level": "debug"}"#),
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(c.hosts.len(), 2);
        assert_eq!(c.data_root, PathBuf::from("/tmp/d"));
        assert_eq!(c.pidfile, PathBuf::from("/tmp/e/pierd.pid"));
        assert_eq!(c.insecure_registries, vec!["reg:5000"]);
        assert_eq!(c.log_level, "debug");
    }

    #[test]
    fn runtimes_from_flags_and_file() {
        let c = DaemonConfig::merge(
            &flags(&["--add-runtime", "Alt=/usr/bin/alt"]),
            None,
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(c.runtimes["alt"].path, PathBuf::from("/usr/bin/alt"));
        let c = DaemonConfig::merge(
            &flags(&[]),
            Some(r#"{"runtimes": {"r2": {"path": "runc", "runtimeArgs": ["--debug"]}}}"#),
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(c.runtimes["r2"].path, PathBuf::from("runc"));
        assert_eq!(c.runtimes["r2"].args, ["--debug"]);
        let err = |f: &[&str], file: Option<&str>| {
            DaemonConfig::merge(&flags(f), file, Path::new("/x"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&["--add-runtime", "runc=/x"], None),
            "runtime name 'runc' is reserved"
        );
        assert_eq!(
            err(&["--add-runtime", "nopath"], None),
            "invalid runtime argument: nopath"
        );
        assert_eq!(
            err(&["--add-runtime", "a=/x", "--add-runtime", "a=/y"], None),
            "runtime 'a' was already defined"
        );
        assert!(err(&["--add-runtime", "a=/x"], Some(r#"{"runtimes": {}}"#))
            .contains("specified both as a flag and in the configuration file: runtimes"));
    }

    #[test]
    fn conflicts_unknown_keys_and_bad_json_are_errors() {
        let e = DaemonConfig::merge(
            &flags(&["--data-root", "/a"]),
            Some(r#"{"data-root": "/b"}"#),
            Path::new("/etc/pier/daemon.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("specified both as a flag and in the configuration file: data-root"),
            "{e}"
        );
        let e = DaemonConfig::merge(&flags(&[]), Some(r#"{"bogus": 1}"#), Path::new("/x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("don't match any configuration option: bogus"),
            "{e}"
        );
        assert!(DaemonConfig::merge(&flags(&[]), Some("{"), Path::new("/x")).is_err());
        assert!(DaemonConfig::merge(&flags(&["-l", "loud"]), None, Path::new("/x")).is_err());
    }

    #[test]
    fn missing_config_file_only_ok_when_default() {
        let f = flags(&["--config-file", "/nonexistent/pier.json"]);
        assert!(DaemonConfig::load(&f).is_err());
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            Listen::parse("unix:///run/x.sock").unwrap(),
            Listen::Unix("/run/x.sock".into())
        );
        assert_eq!(
            Listen::parse("tcp://127.0.0.1:2375").unwrap(),
            Listen::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            Listen::parse("tcp://:2375").unwrap(),
            Listen::Tcp("0.0.0.0:2375".into())
        );
        assert!(Listen::parse("http://x").is_err());
        assert!(Listen::parse("tcp://host").is_err());
    }
}
