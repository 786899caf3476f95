//! pier's packet filter, described once and rendered for either backend. [`RuleSet`] is the
//! declarative input (bridge networks, published ports); [`RuleSet::chains`] turns it into one
//! backend-neutral list of chains and rules ([`Hook`], [`Rule`]) — masquerade, DNAT of published
//! ports, isolation, the loopback guard — which [`crate::nft`] renders as pier's own nftables
//! table and [`crate::iptables`] as pier's own iptables chains. Both renderings are whole
//! rewrites, so applying the set again (a restarted pierd) is idempotent.
//!
//! The backend is chosen once per daemon ([`Backend::detect`]): nftables when the `nft` tool or
//! libnftables is there and the kernel accepts a table, else iptables (whichever flavour the
//! `iptables` command is: legacy or nft). [`RuleSet::apply_with`] applies a set through a
//! backend — an empty set (no bridge network) removes pier's state instead, so nothing of pier's
//! stays on the host while it has no network — and [`remove`] deletes it.

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

/// The whole filter, declaratively. `table` names pier's state: the nftables table itself, and
/// the iptables chains' prefix (`pier-X` → `PIER-X-…`, see [`crate::iptables::chain_prefix`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    pub table: String,
    pub networks: Vec<NetworkRules>,
    pub ports: Vec<PortMapping>,
}

/// Which packet filter pier programs (dockerd's `--firewall-backend` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Nftables,
    Iptables,
}

impl Backend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Nftables => "nftables",
            Backend::Iptables => "iptables",
        }
    }

    /// nftables when it is usable (the tool or the library present, and the kernel accepts a
    /// table: `<table>-probe` is created and deleted in one transaction, leaving nothing), else
    /// iptables when the `iptables` command runs; an error when neither does.
    pub fn detect(table: &str) -> Result<Backend> {
        Self::pick(crate::nft::probe(table), crate::iptables::probe)
    }

    /// The choice from the probes' answers (iptables is only probed when nftables failed).
    fn pick(nft: Result<()>, iptables: impl FnOnce() -> Result<()>) -> Result<Backend> {
        let nft_err = match nft {
            Ok(()) => return Ok(Backend::Nftables),
            Err(e) => e,
        };
        match iptables() {
            Ok(()) => Ok(Backend::Iptables),
            Err(ipt_err) => Err(NetError::Firewall(format!(
                "neither nftables ({nft_err}) nor iptables ({ipt_err}) is usable; \
                 start with --iptables=false to run without packet filtering"
            ))),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Backend> {
        match s {
            "nftables" => Ok(Backend::Nftables),
            "iptables" => Ok(Backend::Iptables),
            _ => Err(NetError::Firewall(format!(
                "invalid firewall backend {s:?}: use iptables or nftables"
            ))),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// pier's chains. Each but [`Hook::Published`] is attached to a netfilter hook (nftables: a base
/// chain of pier's table; iptables: a chain jumped to from the built-in chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    /// Filter at prerouting before conntrack (nft priority -300, iptables `raw`).
    Guard,
    /// nat prerouting.
    Prerouting,
    /// nat output (locally generated packets, e.g. to 127.0.0.1).
    Output,
    /// Published ports: DNAT rules (a regular chain jumped to from prerouting and output).
    Published,
    /// nat postrouting.
    Postrouting,
    /// Filter forward.
    Forward,
}

impl Hook {
    pub(crate) const ALL: [Hook; 6] = [
        Hook::Guard,
        Hook::Prerouting,
        Hook::Output,
        Hook::Published,
        Hook::Postrouting,
        Hook::Forward,
    ];
}

/// One match of a rule. An address with prefix 32 is a single address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// Input interface is (true) / is not (false) this one.
    Iif(bool, String),
    /// Output interface is / is not this one.
    Oif(bool, String),
    /// Output interface is any of these.
    OifAny(Vec<String>),
    Saddr(Ipv4Net),
    Daddr(Ipv4Net),
    /// The destination is a local address of the host (including 127.0.0.0/8).
    LocalDst,
    Dport(Proto, u16),
    /// Conntrack state established or related (a reply or a related flow).
    CtEstablished,
    /// The connection was destination-NATed (a published port).
    CtDnat,
}

/// What a rule does with a matching packet. `Accept` ends pier's own processing of the packet in
/// this hook only; other rules of the host still see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Drop,
    Accept,
    Masquerade,
    Dnat(Ipv4Addr, u16),
    Jump(Hook),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub matches: Vec<Match>,
    pub verdict: Verdict,
}

fn rule(matches: Vec<Match>, verdict: Verdict) -> Rule {
    Rule { matches, verdict }
}

pub(crate) fn host(ip: Ipv4Addr) -> Ipv4Net {
    Ipv4Net {
        addr: ip,
        prefix: 32,
    }
}

pub(crate) fn loopback_net() -> Ipv4Net {
    Ipv4Net {
        addr: Ipv4Addr::new(127, 0, 0, 0),
        prefix: 8,
    }
}

pub(crate) fn valid_name(s: &str) -> bool {
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

    pub(crate) fn validate(&self) -> Result<()> {
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

    /// Every chain with its rules, in order: the one description both backends render.
    pub(crate) fn chains(&self) -> Vec<(Hook, Vec<Rule>)> {
        use Match::*;
        let iif = |b: &str| Iif(true, b.to_string());
        let not_iif = |b: &str| Iif(false, b.to_string());
        let oif = |b: &str| Oif(true, b.to_string());
        let not_oif = |b: &str| Oif(false, b.to_string());
        // route_localnet on a bridge would also let a container send to the host's 127.0.0.0/8
        // services through its gateway (CVE-2020-8558 in kube-proxy); drop that before routing.
        let guard = self
            .networks
            .iter()
            .map(|n| rule(vec![iif(&n.bridge), Daddr(loopback_net())], Verdict::Drop))
            .collect();
        let to_published = || vec![rule(vec![LocalDst], Verdict::Jump(Hook::Published))];
        let mut ports = self.ports.clone();
        ports.sort_by_key(|p| (p.proto, p.host_port, p.host_ip));
        let published = ports
            .iter()
            .map(|p| {
                let mut m = Vec::new();
                if !p.host_ip.is_unspecified() {
                    m.push(Daddr(host(p.host_ip)));
                }
                m.push(Dport(p.proto, p.host_port));
                rule(m, Verdict::Dnat(p.container_ip, p.container_port))
            })
            .collect();
        let mut post = Vec::new();
        for n in &self.networks {
            let (b, sub) = (&n.bridge, n.subnet.trunc());
            post.push(rule(
                vec![oif(b), Saddr(loopback_net())],
                Verdict::Masquerade,
            ));
            post.push(rule(vec![oif(b), Saddr(sub), CtDnat], Verdict::Masquerade));
            if n.masquerade && !n.internal {
                post.push(rule(vec![Saddr(sub), not_oif(b)], Verdict::Masquerade));
            }
        }
        let mut fwd = Vec::new();
        for n in &self.networks {
            let b = &n.bridge;
            if n.internal {
                fwd.push(rule(vec![iif(b), not_oif(b)], Verdict::Drop));
                fwd.push(rule(vec![oif(b), not_iif(b)], Verdict::Drop));
            }
            let others: Vec<String> = self
                .networks
                .iter()
                .filter(|o| o.bridge != *b)
                .map(|o| o.bridge.clone())
                .collect();
            if !others.is_empty() {
                fwd.push(rule(vec![iif(b), OifAny(others)], Verdict::Drop));
            }
        }
        // Into a bridge from elsewhere only replies and published (DNAT-ed) ports: no direct
        // routing to container addresses from other hosts.
        for n in self.networks.iter().filter(|n| !n.internal) {
            let b = &n.bridge;
            fwd.push(rule(vec![oif(b), CtEstablished], Verdict::Accept));
            fwd.push(rule(vec![oif(b), CtDnat], Verdict::Accept));
            fwd.push(rule(vec![oif(b), not_iif(b)], Verdict::Drop));
        }
        vec![
            (Hook::Guard, guard),
            (Hook::Prerouting, to_published()),
            (Hook::Output, to_published()),
            (Hook::Published, published),
            (Hook::Postrouting, post),
            (Hook::Forward, fwd),
        ]
    }

    /// Applies the set through `backend`, atomically (a whole rewrite of pier's table or
    /// chains); with no network at all, removes pier's state instead. `hot`: on a container's
    /// start or exit path (see [`RuleSet::apply`] and [`crate::iptables::apply`] for what it
    /// changes).
    pub fn apply_with(&self, backend: Backend, hot: bool) -> Result<()> {
        self.validate()?;
        if self.networks.is_empty() {
            return remove(backend, &self.table).map(|_| ());
        }
        match backend {
            Backend::Nftables => self.apply(hot),
            Backend::Iptables => crate::iptables::apply(self, hot),
        }
    }
}

/// Deletes pier's state named `table` from `backend` (the nft table; the iptables chains and
/// the jump rules into them). Returns false when there was nothing.
pub fn remove(backend: Backend, table: &str) -> Result<bool> {
    match backend {
        Backend::Nftables => crate::nft::remove_table(table),
        Backend::Iptables => crate::iptables::remove(table),
    }
}

/// Runs a packet-filter tool (`nft`, `iptables`…) with `stdin` piped in. Outer error: it could
/// not run (`Io`, kind `NotFound` when absent); inner: its stdout on success, else its stderr.
pub(crate) fn run_tool(
    prog: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<std::result::Result<String, String>> {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("spawn {prog}")))?;
    if let Some(input) = stdin {
        let mut w = child.stdin.take().expect("piped stdin");
        w.write_all(input.as_bytes())
            .map_err(io_err(format!("write to {prog}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(io_err(format!("wait for {prog}")))?;
    Ok(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_are_dockerds() {
        assert_eq!("nftables".parse::<Backend>().unwrap(), Backend::Nftables);
        assert_eq!("iptables".parse::<Backend>().unwrap(), Backend::Iptables);
        assert_eq!(Backend::Iptables.to_string(), "iptables");
        assert!("ipfw".parse::<Backend>().is_err());
    }

    #[test]
    fn nftables_first_then_iptables_then_a_clear_error() {
        let unusable = |what: &str| Err(NetError::Nft(what.to_string()));
        let b = Backend::pick(Ok(()), || panic!("iptables probed although nftables works"));
        assert_eq!(b.unwrap(), Backend::Nftables);
        let b = Backend::pick(unusable("Operation not supported"), || Ok(()));
        assert_eq!(b.unwrap(), Backend::Iptables);
        let e = Backend::pick(unusable("Operation not supported"), || {
            Err(NetError::Iptables("command not found".into()))
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("Operation not supported")
                && e.contains("command not found")
                && e.contains("--iptables=false"),
            "{e}"
        );
    }

    #[test]
    fn empty_set_has_no_rule_but_the_jumps() {
        let rs = RuleSet::new("pier-x");
        let chains = rs.chains();
        assert_eq!(chains.len(), Hook::ALL.len());
        let rules: usize = chains.iter().map(|(_, r)| r.len()).sum();
        assert_eq!(rules, 2, "{chains:?}");
    }
}
