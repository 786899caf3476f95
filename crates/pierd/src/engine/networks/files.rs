//! The container's `/etc/hosts` and `/etc/resolv.conf`, as docker writes them. hosts: the
//! localhost/IPv6 entries, `--add-host` entries (`host-gateway` = the default bridge's
//! gateway), legacy links (default bridge only: on a user network a link is a DNS alias of the
//! linking container, see `endpoints`), then the container's own address and hostname. resolv.conf: on the default
//! bridge the host's file without loopback nameservers (none left → 8.8.8.8, 8.8.4.4); on a user
//! network `nameserver 127.0.0.11` (the embedded DNS, which forwards to the host's resolvers or
//! `--dns`); `--dns`, `--dns-search`, `--dns-option` override as in docker.

use std::net::Ipv4Addr;

use serde_json::Value;

const HOSTS_DEFAULTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The strings of a JSON array (anything else: none).
pub fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `ExtraHosts` entries ("name:ip" or "name=ip") as hosts lines.
pub fn extra_hosts(hc: &Value, host_gateway: Option<Ipv4Addr>) -> String {
    let mut s = String::new();
    for e in strs(&hc["ExtraHosts"]) {
        let Some((name, ip)) = e.split_once('=').or_else(|| e.split_once(':')) else {
            continue;
        };
        let ip = if ip == "host-gateway" {
            match host_gateway {
                Some(g) => g.to_string(),
                None => continue,
            }
        } else {
            ip.to_string()
        };
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    s
}

/// Validates `ExtraHosts` at create (docker's message).
pub fn validate_extra_hosts(hc: &Value) -> Result<(), String> {
    for e in strs(&hc["ExtraHosts"]) {
        let ok = e
            .split_once('=')
            .or_else(|| e.split_once(':'))
            .is_some_and(|(n, ip)| {
                !n.is_empty() && (ip == "host-gateway" || ip.parse::<std::net::IpAddr>().is_ok())
            });
        if !ok {
            return Err(format!("invalid IP address in add-host: {e:?}"));
        }
    }
    Ok(())
}

/// docker's `ParseLink`: `target:alias`, `target` (alias = target) or the form docker stores,
/// `/target:/container/alias`; returns (target, alias).
pub fn parse_link(spec: &str) -> Result<(String, String), String> {
    if spec.is_empty() {
        return Err("empty string specified for links".into());
    }
    let parts: Vec<&str> = spec.split(':').collect();
    match parts[..] {
        [one] => Ok((one.to_string(), one.to_string())),
        [target, alias] => match target.strip_prefix('/') {
            Some(t) => Ok((
                t.to_string(),
                alias.rsplit('/').next().unwrap_or(alias).to_string(),
            )),
            None => Ok((target.to_string(), alias.to_string())),
        },
        _ => Err(format!("bad format for links: {spec}")),
    }
}

/// The hosts file of a container with address `ip` (None: no network address).
pub fn hosts(
    hostname: &str,
    domain: &str,
    ip: Option<Ipv4Addr>,
    extra: &str,
    links: &[(Ipv4Addr, String)],
) -> String {
    let mut s = HOSTS_DEFAULTS.to_string();
    s.push_str(extra);
    for (ip, names) in links {
        s.push_str(&format!("{ip}\t{names}\n"));
    }
    if let Some(ip) = ip {
        if domain.is_empty() {
            s.push_str(&format!("{ip}\t{hostname}\n"));
        } else {
            s.push_str(&format!("{ip}\t{hostname}.{domain} {hostname}\n"));
        }
    }
    s
}

/// The resolv.conf of a container. `embedded`: on a user network (nameserver 127.0.0.11).
pub fn resolv_conf(host_text: &str, hc: &Value, embedded: bool) -> String {
    let mut nameservers = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut other = Vec::new();
    for l in host_text.lines() {
        let mut it = l.split_whitespace();
        match it.next() {
            Some("nameserver") => {
                if let Some(ns) = it.next() {
                    let ip: Option<std::net::IpAddr> =
                        ns.split('%').next().and_then(|x| x.parse().ok());
                    if ip.is_some_and(|ip| !ip.is_loopback() && ip.is_ipv4()) {
                        nameservers.push(ns.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => search = it.map(str::to_string).collect(),
            Some("options") => options.extend(it.map(str::to_string)),
            Some(x) if !x.starts_with('#') && !x.starts_with(';') => other.push(l.to_string()),
            _ => {}
        }
    }
    let dns = strs(&hc["Dns"]);
    let dns_search = strs(&hc["DnsSearch"]);
    let dns_opts = strs(&hc["DnsOptions"]);
    if !dns.is_empty() {
        nameservers = dns;
    }
    if !dns_search.is_empty() {
        search = dns_search.into_iter().filter(|s| s != ".").collect();
    }
    if !dns_opts.is_empty() {
        options = dns_opts;
    }
    if embedded {
        nameservers = vec!["127.0.0.11".into()];
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.push("ndots:0".into());
        }
    } else if nameservers.is_empty() {
        nameservers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    let mut s = String::from("# Generated by Docker Engine.\n# This file can be edited; Docker Engine will not make further changes once it\n# has been modified.\n\n");
    for ns in &nameservers {
        s.push_str(&format!("nameserver {ns}\n"));
    }
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    for l in other {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

/// Upstream resolvers of the embedded DNS: `--dns` if given, else the host's.
pub fn dns_upstreams(hc: &Value) -> Vec<std::net::SocketAddr> {
    let dns = strs(&hc["Dns"]);
    if dns.is_empty() {
        return pier_network::dns::host_upstreams();
    }
    dns.iter()
        .filter_map(|d| d.parse::<std::net::IpAddr>().ok())
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_and_resolv_conf_as_docker() {
        let hc = json!({"ExtraHosts": ["gw:host-gateway", "db:10.1.2.3"]});
        let extra = extra_hosts(&hc, Some(Ipv4Addr::new(172, 17, 0, 1)));
        assert_eq!(extra, "172.17.0.1\tgw\n10.1.2.3\tdb\n");
        let h = hosts("abc", "", Some(Ipv4Addr::new(172, 17, 0, 2)), &extra, &[]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("10.1.2.3\tdb\n172.17.0.2\tabc\n"), "{h}");
        assert!(validate_extra_hosts(&json!({"ExtraHosts": ["x:nope"]})).is_err());
        let link = |s: &str| parse_link(s).map(|(t, a)| format!("{t}={a}"));
        assert_eq!(link("srv:db"), Ok("srv=db".into()));
        assert_eq!(link("srv"), Ok("srv=srv".into()));
        assert_eq!(link("/srv:/me/db"), Ok("srv=db".into()));
        assert_eq!(link("a:b:c"), Err("bad format for links: a:b:c".into()));
        assert_eq!(link(""), Err("empty string specified for links".into()));
        let host = "nameserver 127.0.0.53\nsearch example.com\noptions edns0\n";
        let r = resolv_conf(host, &json!({}), false);
        assert!(
            r.contains(
                "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch example.com\noptions edns0\n"
            ),
            "{r}"
        );
        let r = resolv_conf(host, &json!({}), true);
        assert!(
            r.contains("nameserver 127.0.0.11\nsearch example.com\noptions edns0 ndots:0\n"),
            "{r}"
        );
        let r = resolv_conf(
            "nameserver 10.0.0.1\n",
            &json!({"Dns": ["1.1.1.1"], "DnsSearch": ["a.b"], "DnsOptions": ["ndots:2"]}),
            false,
        );
        assert!(
            r.contains("nameserver 1.1.1.1\nsearch a.b\noptions ndots:2\n"),
            "{r}"
        );
    }
}
