//! pier's nftables table. One table per daemon (family `ip`, name chosen by pierd, e.g.
//! `pier-<suffix>`), generated in full from a declarative [`RuleSet`] and applied as ONE nft
//! transaction (in-process through libnftables when installed, else `nft -f -`) that creates, deletes and re-creates the table: the kernel swaps old for new
//! atomically, there is never a moment without rules, and a restarted pierd reconciles by simply
//! regenerating the set from the containers it finds (re-applying is idempotent, nothing duplicates).
//! Other tables are never read or written.
//!
//! What the table does:
//! - `prerouting`/`output` (nat): packets to a local address (`fib daddr type local`, including
//!   127.0.0.1) jump to `published`, which DNATs `[ip daddr H] tcp|udp dport P` to the container.
//!   Localhost access works without a userland proxy: pierd sets `route_localnet` on the bridge
//!   ([`crate::set_route_localnet`]) and `postrouting` masquerades 127/8 sources leaving through it.
//!   Chosen over a docker-proxy style process because it costs no process or copy per port and keeps
//!   answering while pierd itself is down (kill -9, restart).
//! - `postrouting` (nat): masquerade for a network's subnet leaving through any other interface
//!   (not for internal networks or with masquerade off), and for DNAT-ed traffic that re-enters the
//!   same bridge (container → host port → other container on that bridge).
//! - `guard` (filter, prerouting −300): drops packets from a pier bridge to 127.0.0.0/8, which
//!   `route_localnet` would otherwise route to the host's loopback services.
//! - `forward` (filter): drops traffic between different pier bridges (network isolation), and any
//!   traffic into or out of an internal network's bridge except within it; into other bridges only
//!   replies and DNAT-ed (published) connections — no direct routing to container addresses.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{io_err, NetError, Result};
use crate::subnet::Ipv4Net;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(&self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl std::str::FromStr for Proto {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Proto> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(NetError::Nft(format!(
                "unsupported protocol {s:?} (tcp or udp)"
            ))),
        }
    }
}

/// One bridge network as the packet filter sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `--internal`: no traffic in or out of the bridge except between its own endpoints.
    pub internal: bool,
    /// `com.docker.network.bridge.enable_ip_masquerade` (default true).
    pub masquerade: bool,
}

impl NetworkRules {
    pub fn new(bridge: &str, subnet: Ipv4Net) -> Self {
        NetworkRules {
            bridge: bridge.to_string(),
            subnet: subnet.trunc(),
            internal: false,
            masquerade: true,
        }
    }
}

/// One published port (`-p host_ip:host_port:container_port/proto`); ranges are expanded by the
/// caller into one mapping per port. `host_ip` 0.0.0.0 means every local address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    pub proto: Proto,
}

/// The whole table, declaratively.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    pub table: String,
    pub networks: Vec<NetworkRules>,
    pub ports: Vec<PortMapping>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl RuleSet {
    pub fn new(table: &str) -> Self {
        RuleSet {
            table: table.to_string(),
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if !valid_name(&self.table) {
            return Err(NetError::Nft(format!(
                "invalid table name {:?}",
                self.table
            )));
        }
        for n in &self.networks {
            if !valid_ifname(&n.bridge) {
                return Err(NetError::Nft(format!("invalid bridge name {:?}", n.bridge)));
            }
        }
        Ok(())
    }

    /// The nft script: one transaction that replaces the table wholesale.
    pub fn render(&self) -> Result<String> {
        self.validate()?;
        let t = &self.table;
        let mut s = String::new();
        // `add` then `delete` makes the delete succeed whether or not the table existed.
        let _ = writeln!(s, "add table ip {t}\ndelete table ip {t}\ntable ip {t} {{");
        // route_localnet on a bridge would also let a container send to the host's 127.0.0.0/8
        // services through its gateway (CVE-2020-8558 in kube-proxy); drop that before routing.
        s.push_str(
            "\tchain guard {\n\t\ttype filter hook prerouting priority -300; policy accept;\n",
        );
        for n in &self.networks {
            let _ = writeln!(s, "\t\tiifname \"{}\" ip daddr 127.0.0.0/8 drop", n.bridge);
        }
        s.push_str("\t}\n");
        s.push_str(
            "\tchain prerouting {\n\t\ttype nat hook prerouting priority -100; policy accept;\n",
        );
        s.push_str("\t\tfib daddr type local jump published\n\t}\n");
        s.push_str("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n");
        s.push_str("\t\tfib daddr type local jump published\n\t}\n");
        s.push_str("\tchain published {\n");
        let mut ports = self.ports.clone();
        ports.sort_by_key(|p| (p.proto, p.host_port, p.host_ip));
        for p in &ports {
            s.push_str("\t\t");
            if !p.host_ip.is_unspecified() {
                let _ = write!(s, "ip daddr {} ", p.host_ip);
            }
            let _ = writeln!(
                s,
                "{} dport {} dnat to {}:{}",
                p.proto.as_str(),
                p.host_port,
                p.container_ip,
                p.container_port
            );
        }
        s.push_str("\t}\n");
        s.push_str(
            "\tchain postrouting {\n\t\ttype nat hook postrouting priority 100; policy accept;\n",
        );
        for n in &self.networks {
            let (b, sub) = (&n.bridge, n.subnet.trunc());
            let _ = writeln!(s, "\t\toifname \"{b}\" ip saddr 127.0.0.0/8 masquerade");
            let _ = writeln!(
                s,
                "\t\toifname \"{b}\" ip saddr {sub} ct status dnat masquerade"
            );
            if n.masquerade && !n.internal {
                let _ = writeln!(s, "\t\tip saddr {sub} oifname != \"{b}\" masquerade");
            }
        }
        s.push_str("\t}\n");
        s.push_str("\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n");
        for n in &self.networks {
            let b = &n.bridge;
            if n.internal {
                let _ = writeln!(s, "\t\tiifname \"{b}\" oifname != \"{b}\" drop");
                let _ = writeln!(s, "\t\toifname \"{b}\" iifname != \"{b}\" drop");
            }
            let others: Vec<String> = self
                .networks
                .iter()
                .filter(|o| o.bridge != *b)
                .map(|o| format!("\"{}\"", o.bridge))
                .collect();
            if !others.is_empty() {
                let _ = writeln!(
                    s,
                    "\t\tiifname \"{b}\" oifname {{ {} }} drop",
                    others.join(", ")
                );
            }
        }
        // Into a bridge from elsewhere only replies and published (DNAT-ed) ports: no direct
        // routing to container addresses from other hosts.
        for n in self.networks.iter().filter(|n| !n.internal) {
            let b = &n.bridge;
            let _ = writeln!(s, "\t\toifname \"{b}\" ct state established,related accept");
            let _ = writeln!(s, "\t\toifname \"{b}\" ct status dnat accept");
            let _ = writeln!(s, "\t\toifname \"{b}\" iifname != \"{b}\" drop");
        }
        s.push_str("\t}\n}\n");
        Ok(s)
    }

    /// Applies the rule set atomically (see the module doc).
    ///
    /// `hot`: on a container's start or exit path, where a fork/exec of `nft` would cost
    /// 10-20 ms, the rule set goes in-process through libnftables (loaded at the first such
    /// call). Elsewhere (daemon startup, network create/remove) the `nft` binary runs unless the
    /// library is loaded already — so an idle daemon that never published a port does not carry
    /// libnftables and its libraries (~1.5 MiB resident). Either falls back to the other.
    pub fn apply(&self, hot: bool) -> Result<()> {
        let script = self.render()?;
        if hot || crate::libnft::loaded() {
            if let Some(r) = crate::libnft::run(&script) {
                return r;
            }
            return run_nft(&["-f", "-"], Some(&script)).map(|_| ());
        }
        match run_nft(&["-f", "-"], Some(&script)) {
            Err(NetError::Io { context, source })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                crate::libnft::run(&script).unwrap_or(Err(NetError::Io { context, source }))
            }
            r => r.map(|_| ()),
        }
    }
}

fn run_nft(args: &[&str], stdin: Option<&str>) -> Result<String> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err("spawn nft"))?;
    if let Some(input) = stdin {
        let mut w = child.stdin.take().expect("piped stdin");
        w.write_all(input.as_bytes())
            .map_err(io_err("write to nft"))?;
    }
    let out = child.wait_with_output().map_err(io_err("wait for nft"))?;
    if !out.status.success() {
        return Err(NetError::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deletes pier's table. Returns false when it did not exist.
pub fn remove_table(table: &str) -> Result<bool> {
    if !valid_name(table) {
        return Err(NetError::Nft(format!("invalid table name {table:?}")));
    }
    match run_nft(&["delete", "table", "ip", table], None) {
        Ok(_) => Ok(true),
        Err(NetError::Nft(msg)) if msg.contains("No such file") => Ok(false),
        Err(e) => Err(e),
    }
}

/// `nft -j list table ip <table>`, or `None` when the table does not exist.
pub fn list_table_json(table: &str) -> Result<Option<serde_json::Value>> {
    if !valid_name(table) {
        return Err(NetError::Nft(format!("invalid table name {table:?}")));
    }
    match run_nft(&["-j", "list", "table", "ip", table], None) {
        Ok(out) => serde_json::from_str(&out)
            .map(Some)
            .map_err(|e| NetError::Nft(format!("nft -j output: {e}"))),
        Err(NetError::Nft(msg)) if msg.contains("No such file") => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_isolation_masquerade_and_dnat() {
        let mut rs = RuleSet::new("pier-test");
        rs.networks
            .push(NetworkRules::new("pa0", "10.213.1.0/24".parse().unwrap()));
        let mut internal = NetworkRules::new("pb0", "10.213.2.0/24".parse().unwrap());
        internal.internal = true;
        rs.networks.push(internal);
        rs.ports.push(PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_port: 18080,
            container_ip: "10.213.1.2".parse().unwrap(),
            container_port: 80,
            proto: Proto::Tcp,
        });
        rs.ports.push(PortMapping {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: 5353,
            container_ip: "10.213.1.2".parse().unwrap(),
            container_port: 53,
            proto: Proto::Udp,
        });
        let s = rs.render().unwrap();
        assert!(
            s.starts_with("add table ip pier-test\ndelete table ip pier-test\n"),
            "{s}"
        );
        assert!(
            s.contains("\t\ttcp dport 18080 dnat to 10.213.1.2:80\n"),
            "{s}"
        );
        assert!(
            s.contains("\t\tip daddr 127.0.0.1 udp dport 5353 dnat to 10.213.1.2:53\n"),
            "{s}"
        );
        assert!(
            s.contains("ip saddr 10.213.1.0/24 oifname != \"pa0\" masquerade"),
            "{s}"
        );
        assert!(
            !s.contains("ip saddr 10.213.2.0/24 oifname != \"pb0\" masquerade"),
            "{s}"
        );
        assert!(
            s.contains("iifname \"pa0\" oifname { \"pb0\" } drop"),
            "{s}"
        );
        assert!(s.contains("iifname \"pb0\" oifname != \"pb0\" drop"), "{s}");
        assert!(
            s.contains("\t\tiifname \"pa0\" ip daddr 127.0.0.0/8 drop\n"),
            "{s}"
        );
        assert!(RuleSet::new("bad name;").render().is_err());
        let mut evil = RuleSet::new("ok");
        evil.networks.push(NetworkRules::new(
            "x\" accept",
            "10.213.1.0/24".parse().unwrap(),
        ));
        assert!(evil.render().is_err());
    }
}
