//! pier's iptables chains: the fallback backend where nftables is not usable. The rule
//! description of [`crate::firewall`] is rendered into chains of pier's own, named after the
//! daemon's state name (`pier-X` → `PIER-X-GUARD` in `raw`, `PIER-X-PRE`, `-OUT`, `-DNAT`,
//! `-POST` in `nat`, `PIER-X-FWD` in `filter`; at most 28 characters), with exactly one
//! unconditional jump from each built-in chain a hook needs (raw PREROUTING, nat PREROUTING,
//! OUTPUT and POSTROUTING, filter FORWARD), inserted first.
//!
//! [`apply`] rewrites all of pier's chains in one `iptables-restore --noflush` transaction
//! (declaring a chain flushes it; other chains are not read or written), then adds each jump
//! that `iptables -C` does not find (on a container's start/exit path only the first time in the
//! process) — so applying again, e.g. from a restarted pierd, leaves the same rules and one jump
//! per built-in chain. [`remove`] deletes the jumps and the chains.
//! Whatever flavour the `iptables` command is (legacy or nft) is used; `-w` waits for the
//! xtables lock other tools may hold.
//!
//! One difference of semantics with nftables, chosen to keep the same meaning: nftables'
//! `accept` in pier's table only ends pier's chain (the host's own tables still see the packet),
//! so pier's "accept" is rendered `RETURN`, never `ACCEPT`, which would skip the rest of the
//! host's FORWARD chain.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::error::{NetError, Result};
use crate::firewall::{run_tool, valid_name, Hook, Match, Rule, RuleSet, Verdict};
use crate::subnet::Ipv4Net;

/// Longest chain name iptables accepts.
const MAX_CHAIN: usize = 28;

/// Prefixes whose jump rules this process has checked since it last removed them.
static JUMPS_DONE: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn jumps_done(prefix: &str, done: Option<bool>) -> bool {
    let mut g = JUMPS_DONE.lock().unwrap_or_else(|p| p.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    match done {
        Some(true) => set.insert(prefix.to_string()),
        Some(false) => set.remove(prefix),
        None => set.contains(prefix),
    }
}

impl Hook {
    fn ipt_table(&self) -> &'static str {
        match self {
            Hook::Guard => "raw",
            Hook::Prerouting | Hook::Output | Hook::Published | Hook::Postrouting => "nat",
            Hook::Forward => "filter",
        }
    }

    /// The built-in chain that jumps to this one (`None`: a chain only pier's jump to).
    fn ipt_builtin(&self) -> Option<&'static str> {
        match self {
            Hook::Guard | Hook::Prerouting => Some("PREROUTING"),
            Hook::Output => Some("OUTPUT"),
            Hook::Published => None,
            Hook::Postrouting => Some("POSTROUTING"),
            Hook::Forward => Some("FORWARD"),
        }
    }

    fn ipt_suffix(&self) -> &'static str {
        match self {
            Hook::Guard => "GUARD",
            Hook::Prerouting => "PRE",
            Hook::Output => "OUT",
            Hook::Published => "DNAT",
            Hook::Postrouting => "POST",
            Hook::Forward => "FWD",
        }
    }
}

/// The chains' common prefix for pier's state name `table`: `pier-X` → `PIER-X`, any other
/// name as is. An error when a chain name would be too long for iptables.
pub fn chain_prefix(table: &str) -> Result<String> {
    if !valid_name(table) {
        return Err(NetError::Iptables(format!("invalid table name {table:?}")));
    }
    let prefix = match table.strip_prefix("pier-") {
        Some(rest) => format!("PIER-{rest}"),
        None => table.to_string(),
    };
    let longest = Hook::ALL
        .iter()
        .map(|h| h.ipt_suffix().len())
        .max()
        .unwrap_or(0);
    if prefix.len() + 1 + longest > MAX_CHAIN {
        return Err(NetError::Iptables(format!(
            "name {table:?} too long for iptables chains (at most {} characters)",
            MAX_CHAIN - 1 - longest
        )));
    }
    Ok(prefix)
}

/// Every chain name of pier's state `table`, with its iptables table.
pub fn chain_names(table: &str) -> Result<Vec<(&'static str, String)>> {
    let prefix = chain_prefix(table)?;
    Ok(Hook::ALL
        .iter()
        .map(|h| (h.ipt_table(), chain(&prefix, *h)))
        .collect())
}

fn chain(prefix: &str, hook: Hook) -> String {
    format!("{prefix}-{}", hook.ipt_suffix())
}

fn addr(n: &Ipv4Net) -> String {
    format!("{}/{}", n.network(), n.prefix)
}

/// One rule as `iptables-restore` lines (several when a match is a set of interfaces).
fn rule_lines(prefix: &str, chain_name: &str, r: &Rule) -> Vec<String> {
    let mut variants = vec![String::new()];
    for m in &r.matches {
        let alts: Vec<String> = match m {
            Match::Iif(true, b) => vec![format!("-i {b}")],
            Match::Iif(false, b) => vec![format!("! -i {b}")],
            Match::Oif(true, b) => vec![format!("-o {b}")],
            Match::Oif(false, b) => vec![format!("! -o {b}")],
            Match::OifAny(bs) => bs.iter().map(|b| format!("-o {b}")).collect(),
            Match::Saddr(n) => vec![format!("-s {}", addr(n))],
            Match::Daddr(n) => vec![format!("-d {}", addr(n))],
            Match::LocalDst => vec!["-m addrtype --dst-type LOCAL".into()],
            Match::Dport(p, port) => {
                vec![format!("-p {0} -m {0} --dport {port}", p.as_str())]
            }
            Match::CtEstablished => vec!["-m conntrack --ctstate RELATED,ESTABLISHED".into()],
            Match::CtDnat => vec!["-m conntrack --ctstate DNAT".into()],
        };
        variants = variants
            .iter()
            .flat_map(|v| alts.iter().map(move |a| format!("{v} {a}")))
            .collect();
    }
    let verdict = match &r.verdict {
        Verdict::Drop => "-j DROP".to_string(),
        // See the module doc: pier's accept must not end the host's own chain.
        Verdict::Accept => "-j RETURN".to_string(),
        Verdict::Masquerade => "-j MASQUERADE".to_string(),
        Verdict::Dnat(ip, port) => format!("-j DNAT --to-destination {ip}:{port}"),
        Verdict::Jump(h) => format!("-j {}", chain(prefix, *h)),
    };
    variants
        .into_iter()
        .map(|v| format!("-A {chain_name}{v} {verdict}"))
        .collect()
}

/// The `iptables-restore --noflush` input that rewrites all of pier's chains.
pub fn render(rs: &RuleSet) -> Result<String> {
    rs.validate()?;
    let prefix = chain_prefix(&rs.table)?;
    let chains = rs.chains();
    let mut s = String::new();
    for table in ["raw", "nat", "filter"] {
        let mine: Vec<&(Hook, Vec<Rule>)> = chains
            .iter()
            .filter(|(h, _)| h.ipt_table() == table)
            .collect();
        let _ = writeln!(s, "*{table}");
        for (h, _) in &mine {
            let _ = writeln!(s, ":{} - [0:0]", chain(&prefix, *h));
        }
        for (h, rules) in &mine {
            let name = chain(&prefix, *h);
            for r in rules {
                for line in rule_lines(&prefix, &name, r) {
                    let _ = writeln!(s, "{line}");
                }
            }
        }
        s.push_str("COMMIT\n");
    }
    Ok(s)
}

fn iptables(args: &[&str], stdin: Option<&str>) -> Result<std::result::Result<String, String>> {
    run_tool(args[0], &args[1..], stdin)
}

/// Rewrites pier's chains atomically and makes sure each built-in chain jumps to them once.
/// `hot` (a container's start or exit path): the jumps are only checked when this process has
/// not checked them yet — five `iptables` runs saved; daemon startup and network create/remove
/// check them every time (a host firewall reload that flushed a built-in chain is repaired then).
pub fn apply(rs: &RuleSet, hot: bool) -> Result<()> {
    let script = render(rs)?;
    let prefix = chain_prefix(&rs.table)?;
    iptables(&["iptables-restore", "-w", "--noflush"], Some(&script))?
        .map_err(NetError::Iptables)?;
    if hot && jumps_done(&prefix, None) {
        return Ok(());
    }
    for h in Hook::ALL {
        let Some(builtin) = h.ipt_builtin() else {
            continue;
        };
        let (table, target) = (h.ipt_table(), chain(&prefix, h));
        let present = iptables(
            &["iptables", "-w", "-t", table, "-C", builtin, "-j", &target],
            None,
        )?
        .is_ok();
        if !present {
            iptables(
                &[
                    "iptables", "-w", "-t", table, "-I", builtin, "1", "-j", &target,
                ],
                None,
            )?
            .map_err(NetError::Iptables)?;
        }
    }
    jumps_done(&prefix, Some(true));
    Ok(())
}

/// `iptables-save` lines about pier's state `table`: each chain declaration and rule of its
/// chains and every rule jumping to them, as `"<iptables table> <line>"` (e.g.
/// `"nat -A PIER-x-DNAT -d 127.0.0.1/32 …"`). Empty when there is none.
pub fn list(table: &str) -> Result<Vec<String>> {
    let names: HashSet<String> = chain_names(table)?.into_iter().map(|(_, c)| c).collect();
    let out = iptables(&["iptables-save"], None)?.map_err(NetError::Iptables)?;
    let mut cur = "";
    let mut lines = Vec::new();
    for line in out.lines() {
        if let Some(t) = line.strip_prefix('*') {
            cur = t;
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let ours = match words.first() {
            Some(w) if w.starts_with(':') => names.contains(&w[1..]),
            Some(&"-A") => {
                words.get(1).is_some_and(|c| names.contains(*c))
                    || words
                        .windows(2)
                        .any(|w| w[0] == "-j" && names.contains(w[1]))
            }
            _ => false,
        };
        if ours {
            lines.push(format!("{cur} {line}"));
        }
    }
    Ok(lines)
}

/// Deletes the jumps to pier's chains (only rules of exactly that form: `-A <chain> -j <ours>`)
/// and then the chains. Returns false when none existed.
pub fn remove(table: &str) -> Result<bool> {
    let prefix = chain_prefix(table)?;
    let names: HashSet<String> = chain_names(table)?.into_iter().map(|(_, c)| c).collect();
    jumps_done(&prefix, Some(false));
    let lines = list(table)?;
    if lines.is_empty() {
        return Ok(false);
    }
    let mut declared: Vec<(String, String)> = Vec::new();
    for l in &lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        match words.as_slice() {
            [t, decl, ..] if decl.starts_with(':') => {
                declared.push((t.to_string(), decl[1..].to_string()))
            }
            [t, "-A", from, "-j", to] if !names.contains(*from) && names.contains(*to) => {
                iptables(&["iptables", "-w", "-t", t, "-D", from, "-j", to], None)?
                    .map_err(NetError::Iptables)?;
            }
            _ => {}
        }
    }
    let mut script = String::new();
    for t in ["raw", "nat", "filter"] {
        let mine: Vec<&String> = declared
            .iter()
            .filter(|(tt, _)| tt == t)
            .map(|(_, c)| c)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(script, "*{t}");
        for c in &mine {
            let _ = writeln!(script, ":{c} - [0:0]");
        }
        for c in &mine {
            let _ = writeln!(script, "-X {c}");
        }
        script.push_str("COMMIT\n");
    }
    if !script.is_empty() {
        iptables(&["iptables-restore", "-w", "--noflush"], Some(&script))?
            .map_err(NetError::Iptables)?;
    }
    Ok(true)
}

/// Checks that iptables is usable: the `iptables` command runs and lists the filter table.
pub(crate) fn probe() -> Result<()> {
    iptables(&["iptables", "-w", "-n", "-L", "FORWARD"], None)?.map_err(NetError::Iptables)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{NetworkRules, PortMapping, Proto};
    use std::net::Ipv4Addr;

    #[test]
    fn renders_own_chains_from_the_same_description() {
        let mut rs = RuleSet::new("pier-pk1a");
        rs.networks
            .push(NetworkRules::new("pk1a", "10.213.1.0/24".parse().unwrap()));
        let mut internal = NetworkRules::new("br-0123456789ab", "10.213.2.0/24".parse().unwrap());
        internal.internal = true;
        rs.networks.push(internal);
        rs.networks
            .push(NetworkRules::new("pk1c", "10.213.3.0/24".parse().unwrap()));
        rs.ports.push(PortMapping {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: 18080,
            container_ip: "10.213.1.2".parse().unwrap(),
            container_port: 80,
            proto: Proto::Tcp,
        });
        let s = render(&rs).unwrap();
        for l in [
            "*raw\n:PIER-pk1a-GUARD - [0:0]\n",
            "-A PIER-pk1a-GUARD -i pk1a -d 127.0.0.0/8 -j DROP\n",
            ":PIER-pk1a-PRE - [0:0]\n:PIER-pk1a-OUT - [0:0]\n:PIER-pk1a-DNAT - [0:0]\n",
            "-A PIER-pk1a-PRE -m addrtype --dst-type LOCAL -j PIER-pk1a-DNAT\n",
            "-A PIER-pk1a-OUT -m addrtype --dst-type LOCAL -j PIER-pk1a-DNAT\n",
            "-A PIER-pk1a-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 18080 -j DNAT --to-destination 10.213.1.2:80\n",
            "-A PIER-pk1a-POST -o pk1a -s 127.0.0.0/8 -j MASQUERADE\n",
            "-A PIER-pk1a-POST -o pk1a -s 10.213.1.0/24 -m conntrack --ctstate DNAT -j MASQUERADE\n",
            "-A PIER-pk1a-POST -s 10.213.1.0/24 ! -o pk1a -j MASQUERADE\n",
            "-A PIER-pk1a-FWD -i br-0123456789ab ! -o br-0123456789ab -j DROP\n",
            "-A PIER-pk1a-FWD -i pk1a -o br-0123456789ab -j DROP\n-A PIER-pk1a-FWD -i pk1a -o pk1c -j DROP\n",
            "-A PIER-pk1a-FWD -o pk1a -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n",
            "-A PIER-pk1a-FWD -o pk1a -m conntrack --ctstate DNAT -j RETURN\n",
            "-A PIER-pk1a-FWD -o pk1a ! -i pk1a -j DROP\n",
        ] {
            assert!(s.contains(l), "{l:?} missing from\n{s}");
        }
        assert!(
            !s.contains("-s 10.213.2.0/24 ! -o"),
            "internal: no masquerade\n{s}"
        );
        assert!(!s.contains("-j ACCEPT"), "{s}");
        assert_eq!(s.matches("COMMIT\n").count(), 3);
    }

    #[test]
    fn chain_names_fit_iptables() {
        assert_eq!(chain_prefix("pier-pk1a").unwrap(), "PIER-pk1a");
        let names = chain_names("pier-br-0123456789ab").unwrap();
        assert!(names.iter().all(|(_, c)| c.len() <= MAX_CHAIN), "{names:?}");
        assert_eq!(names.len(), 6);
        assert!(chain_prefix("pier-a-name-much-too-long").is_err());
        assert!(chain_prefix("x;y").is_err());
    }
}
