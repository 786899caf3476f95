//! docker's port bindings: `HostConfig.PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort":
//! "18080"}]}`; an empty HostPort is a random one, "8000-8010" the first free in the range) and
//! `PublishAllPorts` (every exposed port to a random host port), turned into host ports at start;
//! and the `Ports` shapes of inspect and list. IPv4 only: an IPv6 HostIp is skipped.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use pier_network::nft::Proto;
use pier_network::ports::{check_port_available, pick_host_port};
use serde_json::{json, Value};

use super::Published;
use crate::engine::{EngineError, Result};

/// One binding asked for, before the host port is chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub container_port: u16,
    pub proto: Proto,
    pub host_ip: Ipv4Addr,
    /// (0, 0): any free port.
    pub host_ports: (u16, u16),
}

/// "80/tcp" → (80, tcp); a missing protocol is tcp.
pub fn parse_port_key(k: &str) -> Result<(u16, Proto)> {
    let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
    let bad = || EngineError::InvalidParameter(format!("invalid port specification: {k:?}"));
    let port: u16 = p.parse().map_err(|_| bad())?;
    let proto: Proto = proto.parse().map_err(|_| bad())?;
    Ok((port, proto))
}

fn parse_host_ports(s: &str) -> Result<(u16, u16)> {
    let bad = || EngineError::InvalidParameter(format!("invalid hostPort: {s}"));
    if s.is_empty() {
        return Ok((0, 0));
    }
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        }
        None => {
            let p: u16 = s.parse().map_err(|_| bad())?;
            Ok((p, p))
        }
    }
}

/// The container's exposed ports: `Config.ExposedPorts` and the keys of `PortBindings`.
pub fn exposed(cfg: &Value, hc: &Value) -> Vec<(u16, Proto)> {
    let mut out: Vec<(u16, Proto)> = Vec::new();
    for m in [&cfg["ExposedPorts"], &hc["PortBindings"]] {
        if let Some(o) = m.as_object() {
            for k in o.keys() {
                if let Ok(p) = parse_port_key(k) {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// The bindings a container asks for (validated at create, chosen at start).
pub fn bindings(cfg: &Value, hc: &Value) -> Result<Vec<Binding>> {
    let mut out = Vec::new();
    let pb = hc["PortBindings"].as_object();
    if let Some(pb) = pb {
        for (k, list) in pb {
            let (port, proto) = parse_port_key(k)?;
            let list = list.as_array().cloned().unwrap_or_default();
            for b in list {
                let ip = b["HostIp"].as_str().unwrap_or("");
                let host_ip = match ip {
                    "" | "0.0.0.0" => Ipv4Addr::UNSPECIFIED,
                    s if s.contains(':') => continue,
                    s => s.parse().map_err(|_| {
                        EngineError::InvalidParameter(format!("invalid IP address: {s}"))
                    })?,
                };
                out.push(Binding {
                    container_port: port,
                    proto,
                    host_ip,
                    host_ports: parse_host_ports(b["HostPort"].as_str().unwrap_or(""))?,
                });
            }
        }
    }
    if hc["PublishAllPorts"].as_bool().unwrap_or(false) {
        for (port, proto) in exposed(cfg, &json!({})) {
            let bound = pb.is_some_and(|pb| {
                pb.keys()
                    .any(|k| parse_port_key(k).ok() == Some((port, proto)))
            });
            if !bound {
                out.push(Binding {
                    container_port: port,
                    proto,
                    host_ip: Ipv4Addr::UNSPECIFIED,
                    host_ports: (0, 0),
                });
            }
        }
    }
    Ok(out)
}

/// Chooses host ports for `bindings`, avoiding `taken` (pier's own published ports) and ports
/// bound on the host; each choice is added to `taken`. Fails with docker's message.
pub fn allocate(
    bindings: &[Binding],
    taken: &mut Vec<(Ipv4Addr, u16, Proto)>,
) -> std::result::Result<Vec<Published>, pier_network::NetError> {
    let mut out = Vec::new();
    for b in bindings {
        let port = match b.host_ports {
            (0, 0) => pick_host_port(b.host_ip, b.proto, taken)?,
            (lo, hi) if lo == hi => {
                check_port_available(b.host_ip, lo, b.proto, taken)?;
                lo
            }
            (lo, hi) => {
                let mut found = None;
                let mut last = None;
                for p in lo..=hi {
                    match check_port_available(b.host_ip, p, b.proto, taken) {
                        Ok(()) => {
                            found = Some(p);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                match (found, last) {
                    (Some(p), _) => p,
                    (None, Some(e)) => return Err(e),
                    (None, None) => return Err(pier_network::NetError::NoFreePort(lo, hi)),
                }
            }
        };
        taken.push((b.host_ip, port, b.proto));
        out.push(Published {
            container_port: b.container_port,
            proto: b.proto,
            host_ip: b.host_ip,
            host_port: port,
        });
    }
    Ok(out)
}

/// `NetworkSettings.Ports`: every exposed port, with its host bindings or null.
pub fn settings_ports(exposed: &[(u16, Proto)], published: &[Published]) -> Value {
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    for (port, proto) in exposed {
        m.insert(format!("{port}/{}", proto.as_str()), Value::Null);
    }
    for p in published {
        let k = format!("{}/{}", p.container_port, p.proto.as_str());
        let e = m.entry(k).or_insert(Value::Null);
        if e.is_null() {
            *e = json!([]);
        }
        e.as_array_mut().expect("array").push(json!({
            "HostIp": p.host_ip.to_string(),
            "HostPort": p.host_port.to_string(),
        }));
    }
    json!(m)
}

/// `Ports` of `GET /containers/json`.
pub fn summary_ports(exposed: &[(u16, Proto)], published: &[Published]) -> Value {
    let mut out = Vec::new();
    for p in published {
        out.push(
            json!({"IP": p.host_ip.to_string(), "PrivatePort": p.container_port,
            "PublicPort": p.host_port, "Type": p.proto.as_str()}),
        );
    }
    for (port, proto) in exposed {
        if !published
            .iter()
            .any(|p| p.container_port == *port && p.proto == *proto)
        {
            out.push(json!({"PrivatePort": port, "Type": proto.as_str()}));
        }
    }
    json!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_follow_docker() {
        let cfg = json!({"ExposedPorts": {"443/tcp": {}, "80/tcp": {}}});
        let hc = json!({"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "18080"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
            "8/tcp": [{"HostIp": "::", "HostPort": "9"}]}, "PublishAllPorts": true});
        let b = bindings(&cfg, &hc).unwrap();
        assert!(b.contains(&Binding {
            container_port: 80,
            proto: Proto::Tcp,
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_ports: (18080, 18080)
        }));
        assert!(b.contains(&Binding {
            container_port: 53,
            proto: Proto::Udp,
            host_ip: Ipv4Addr::LOCALHOST,
            host_ports: (0, 0)
        }));
        assert!(b
            .iter()
            .any(|x| x.container_port == 443 && x.host_ports == (0, 0)));
        assert!(!b.iter().any(|x| x.container_port == 8));
        assert_eq!(b.len(), 3);
        assert!(bindings(&json!({}), &json!({"PortBindings": {"x/tcp": []}})).is_err());
        assert_eq!(parse_host_ports("8000-8010").unwrap(), (8000, 8010));
        assert!(parse_host_ports("9-8").is_err());
        let published = vec![Published {
            container_port: 80,
            proto: Proto::Tcp,
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_port: 18080,
        }];
        let ex = exposed(&cfg, &hc);
        let s = settings_ports(&ex, &published);
        assert_eq!(s["80/tcp"][0]["HostPort"], "18080");
        assert!(s["443/tcp"].is_null());
        let l = summary_ports(&ex, &published);
        assert_eq!(l[0]["PublicPort"], 18080);
    }

    #[test]
    fn own_ports_are_not_handed_out_twice() {
        let b = vec![Binding {
            container_port: 80,
            proto: Proto::Tcp,
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_ports: (0, 0),
        }];
        let mut taken = Vec::new();
        let p1 = allocate(&b, &mut taken).unwrap();
        let fixed = vec![Binding {
            host_ports: (p1[0].host_port, p1[0].host_port),
            ..b[0].clone()
        }];
        let e = allocate(&fixed, &mut taken).unwrap_err();
        assert!(e.to_string().ends_with("port is already allocated"), "{e}");
    }
}
