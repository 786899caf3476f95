//! pier's nftables table. One table per daemon (family `ip`, name chosen by pierd, e.g.
//! `pier-<suffix>`), rendered in full from the rule description of [`crate::firewall`] (each
//! [`crate::firewall::Hook`] a chain of the table) and applied as ONE nft
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

use crate::error::{NetError, Result};
use crate::firewall::{valid_name, Hook, Match, Rule, Verdict};
pub use crate::firewall::{NetworkRules, PortMapping, Proto, RuleSet};
use std::fmt::Write as _;

impl Hook {
    fn nft_name(&self) -> &'static str {
        match self {
            Hook::Guard => "guard",
            Hook::Prerouting => "prerouting",
            Hook::Output => "output",
            Hook::Published => "published",
            Hook::Postrouting => "postrouting",
            Hook::Forward => "forward",
        }
    }

    /// The base chain's declaration (`None` for a regular chain).
    fn nft_base(&self) -> Option<&'static str> {
        match self {
            Hook::Guard => Some("type filter hook prerouting priority -300; policy accept;"),
            Hook::Prerouting => Some("type nat hook prerouting priority -100; policy accept;"),
            Hook::Output => Some("type nat hook output priority -100; policy accept;"),
            Hook::Published => None,
            Hook::Postrouting => Some("type nat hook postrouting priority 100; policy accept;"),
            Hook::Forward => Some("type filter hook forward priority 0; policy accept;"),
        }
    }
}

fn nft_addr(net: &crate::Ipv4Net) -> String {
    if net.prefix == 32 {
        net.addr.to_string()
    } else {
        format!("{}/{}", net.network(), net.prefix)
    }
}

/// One rule in nft syntax (without indentation).
fn nft_rule(r: &Rule) -> String {
    let mut s = String::new();
    for m in &r.matches {
        let _ = match m {
            Match::Iif(true, b) => write!(s, "iifname \"{b}\" "),
            Match::Iif(false, b) => write!(s, "iifname != \"{b}\" "),
            Match::Oif(true, b) => write!(s, "oifname \"{b}\" "),
            Match::Oif(false, b) => write!(s, "oifname != \"{b}\" "),
            Match::OifAny(bs) => {
                let set: Vec<String> = bs.iter().map(|b| format!("\"{b}\"")).collect();
                write!(s, "oifname {{ {} }} ", set.join(", "))
            }
            Match::Saddr(n) => write!(s, "ip saddr {} ", nft_addr(n)),
            Match::Daddr(n) => write!(s, "ip daddr {} ", nft_addr(n)),
            Match::LocalDst => write!(s, "fib daddr type local "),
            Match::Dport(p, port) => write!(s, "{} dport {port} ", p.as_str()),
            Match::CtEstablished => write!(s, "ct state established,related "),
            Match::CtDnat => write!(s, "ct status dnat "),
        };
    }
    let _ = match &r.verdict {
        Verdict::Drop => write!(s, "drop"),
        Verdict::Accept => write!(s, "accept"),
        Verdict::Masquerade => write!(s, "masquerade"),
        Verdict::Dnat(ip, port) => write!(s, "dnat to {ip}:{port}"),
        Verdict::Jump(h) => write!(s, "jump {}", h.nft_name()),
    };
    s
}

/// Checks that nftables is usable: creates and deletes a table `<table>-probe` in one
/// transaction, which leaves nothing (and never touches `table` itself, whose rules may be
/// serving published ports right now).
pub(crate) fn probe(table: &str) -> Result<()> {
    let probe = format!("{table}-probe");
    if !valid_name(&probe) {
        return Err(NetError::Nft(format!("invalid table name {table:?}")));
    }
    let script = format!("add table ip {probe}\ndelete table ip {probe}\n");
    run_script(&script, false)
}

impl RuleSet {
    /// The nft script: one transaction that replaces the table wholesale.
    pub fn render(&self) -> Result<String> {
        self.validate()?;
        let t = &self.table;
        let mut s = String::new();
        // `add` then `delete` makes the delete succeed whether or not the table existed.
        let _ = writeln!(s, "add table ip {t}\ndelete table ip {t}\ntable ip {t} {{");
        for (hook, rules) in self.chains() {
            let _ = writeln!(s, "\tchain {} {{", hook.nft_name());
            if let Some(base) = hook.nft_base() {
                let _ = writeln!(s, "\t\t{base}");
            }
            for r in &rules {
                let _ = writeln!(s, "\t\t{}", nft_rule(r));
            }
            s.push_str("\t}\n");
        }
        s.push_str("}\n");
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
        run_script(&self.render()?, hot)
    }
}

/// Runs an nft script: in-process when `hot` or libnftables is loaded already, else through
/// the `nft` binary; either falls back to the other.
fn run_script(script: &str, hot: bool) -> Result<()> {
    if hot || crate::libnft::loaded() {
        if let Some(r) = crate::libnft::run(script) {
            return r;
        }
        return run_nft(&["-f", "-"], Some(script)).map(|_| ());
    }
    match run_nft(&["-f", "-"], Some(script)) {
        Err(NetError::Io { context, source }) if source.kind() == std::io::ErrorKind::NotFound => {
            crate::libnft::run(script).unwrap_or(Err(NetError::Io { context, source }))
        }
        r => r.map(|_| ()),
    }
}

fn run_nft(args: &[&str], stdin: Option<&str>) -> Result<String> {
    crate::firewall::run_tool("nft", args, stdin).and_then(|r| r.map_err(NetError::Nft))
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
    use std::net::Ipv4Addr;

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
