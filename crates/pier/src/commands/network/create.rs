//! `pier network create [OPTIONS] NETWORK`: `POST /networks/create` with the body docker sends
//! (driver, scope, IPAM with one config per `--subnet` carrying the matching `--ip-range`,
//! `--gateway` and `--aux-address`, internal/attachable/ingress flags, `-o` options, labels). The
//! IPAM checks and their messages are docker's `createIPAMConfig`; the new id is printed.

use super::super::Ctx;
use crate::error::{CliError, Result};
use serde_json::{json, Map, Value};
use std::net::IpAddr;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Driver to manage the Network
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Set driver specific options
    #[arg(short = 'o', long)]
    pub opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable or disable IPv4 address assignment
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub ipv4: Option<bool>,
    /// Enable or disable IPv6 address assignment
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub ipv6: Option<bool>,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Create swarm routing-mesh network
    #[arg(long)]
    pub ingress: bool,
    /// Control the network's scope
    #[arg(long, default_value = "")]
    pub scope: String,
    /// Create a configuration only network
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// The network from which to copy the configuration
    #[arg(long = "config-from")]
    pub config_from: Option<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_delimiter = ',')]
    pub subnet: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_delimiter = ',')]
    pub ip_range: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long, value_delimiter = ',')]
    pub gateway: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address")]
    pub aux_address: Vec<String>,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt")]
    pub ipam_opt: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

/// Go's `net.ParseCIDR`: the network address and prefix length, or docker's error text.
fn parse_cidr(s: &str) -> std::result::Result<(IpAddr, u8), String> {
    let bad = || format!("invalid CIDR address: {s}");
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= max && !len.starts_with('+'))
        .ok_or_else(bad)?;
    Ok((ip, len))
}

fn contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    let bits = |a: IpAddr| -> (u128, u32) {
        match a {
            IpAddr::V4(v) => (u32::from(v) as u128, 32),
            IpAddr::V6(v) => match v.to_ipv4_mapped() {
                Some(m) => (u32::from(m) as u128, 32),
                None => (u128::from(v), 128),
            },
        }
    };
    let (n, nw) = bits(net.0);
    let (i, iw) = bits(ip);
    if nw != iw {
        return false;
    }
    let shift = nw - net.1 as u32;
    shift >= nw || (n >> shift) == (i >> shift)
}

/// docker's `subnetMatches`: whether `data` (an address or a CIDR) lies in `subnet`.
fn subnet_matches(subnet: &str, data: &str) -> std::result::Result<bool, String> {
    let net = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let ip = if data.contains('/') {
        parse_cidr(data)?.0
    } else {
        match data.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return Ok(false),
        }
    };
    Ok(contains(net, ip))
}

/// `key=value` options (`opts.MapOpts`), later keys winning.
fn map_opts(list: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    for o in list {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        m.insert(k.to_string(), json!(v));
    }
    m
}

/// docker's `createIPAMConfig`.
fn ipam_config(a: &Args) -> std::result::Result<Vec<Value>, String> {
    if a.subnet.len() < a.ip_range.len() || a.subnet.len() < a.gateway.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    // (subnet, its IPAM config, its auxiliary addresses)
    type Entry = (String, Map<String, Value>, Map<String, Value>);
    let mut configs: Vec<Entry> = Vec::new();
    for s in &a.subnet {
        for (k, _, _) in &configs {
            if subnet_matches(s, k)? || subnet_matches(k, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        let mut c = Map::new();
        c.insert("Subnet".into(), json!(s));
        configs.push((s.clone(), c, Map::new()));
    }
    for (what, list) in [("range", &a.ip_range), ("gateway", &a.gateway)] {
        let key = if what == "range" {
            "IPRange"
        } else {
            "Gateway"
        };
        for r in list {
            let mut matched = false;
            for (s, c, _) in configs.iter_mut() {
                if what == "range" {
                    parse_cidr(r)?;
                }
                if !subnet_matches(s, r)? {
                    continue;
                }
                if let Some(prev) = c.get(key).and_then(|v| v.as_str()) {
                    return Err(if what == "range" {
                        format!("cannot configure multiple ranges ({r}, {prev}) on the same subnet ({s})")
                    } else {
                        format!("cannot configure multiple gateways ({r}, {prev}) for the same subnet ({s})")
                    });
                }
                c.insert(key.into(), json!(r));
                matched = true;
            }
            if !matched {
                return Err(format!("no matching subnet for {what} {r}"));
            }
        }
    }
    for (name, aa) in map_opts(&a.aux_address) {
        let aa = aa.as_str().unwrap_or("").to_string();
        let mut matched = false;
        for (s, _, aux) in configs.iter_mut() {
            if subnet_matches(s, &aa)? {
                aux.insert(name.clone(), json!(aa));
                matched = true;
            }
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {aa}"));
        }
    }
    Ok(configs
        .into_iter()
        .map(|(_, mut c, aux)| {
            if !aux.is_empty() {
                c.insert("AuxiliaryAddresses".into(), Value::Object(aux));
            }
            Value::Object(c)
        })
        .collect())
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let mut labels = Map::new();
    for l in &a.label {
        let key = l.split('=').next().unwrap_or("").trim_start();
        if key.is_empty() {
            return Err(CliError::Flag {
                message: format!("invalid argument \"{l}\" for \"--label\" flag: invalid label '{l}': empty name\n\nUsage:  pier network create [OPTIONS] NETWORK\n\nRun 'pier network create --help' for more information"),
                code: 125,
            });
        }
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), json!(v));
    }
    let config = ipam_config(&a).map_err(CliError::Usage)?;
    let mut body = json!({
        "Driver": a.driver,
        "Scope": a.scope,
        "IPAM": {"Driver": a.ipam_driver, "Options": map_opts(&a.ipam_opt), "Config": config},
        "Internal": a.internal,
        "Attachable": a.attachable,
        "Ingress": a.ingress,
        "ConfigOnly": a.config_only,
        "ConfigFrom": a.config_from.as_ref().map(|n| json!({"Network": n})),
        "Options": map_opts(&a.opt),
        "Labels": labels,
        "Name": a.name,
    });
    if let Some(v) = a.ipv4 {
        body["EnableIPv4"] = json!(v);
    }
    if let Some(v) = a.ipv6 {
        body["EnableIPv6"] = json!(v);
    }
    if ctx.client.api_below("1.44").await? {
        body["CheckDuplicate"] = json!(true);
    }
    let resp = ctx
        .client
        .post_body("/networks/create", body.to_string())
        .await?;
    let raw = crate::client::read_body(resp).await?;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))?;
    println!("{}", v["Id"].as_str().unwrap_or(""));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn ipam(args: &[&str]) -> std::result::Result<Vec<Value>, String> {
        let t = T::try_parse_from(
            std::iter::once("x")
                .chain(args.iter().copied())
                .chain(["n"]),
        )
        .unwrap();
        ipam_config(&t.a)
    }

    #[test]
    fn ipam_like_docker() {
        assert_eq!(
            ipam(&[
                "--subnet",
                "10.9.0.0/24",
                "--gateway",
                "10.9.0.1",
                "--ip-range",
                "10.9.0.128/25",
                "--aux-address",
                "h=10.9.0.5"
            ])
            .unwrap(),
            vec![
                json!({"Subnet":"10.9.0.0/24","IPRange":"10.9.0.128/25","Gateway":"10.9.0.1","AuxiliaryAddresses":{"h":"10.9.0.5"}})
            ]
        );
        assert_eq!(
            ipam(&["--gateway", "10.9.0.1"]).unwrap_err(),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            ipam(&["--subnet", "10.9.0.0/24", "--gateway", "10.8.0.1"]).unwrap_err(),
            "no matching subnet for gateway 10.8.0.1"
        );
        assert_eq!(
            ipam(&["--subnet", "10.9.0.0/16", "--subnet", "10.9.1.0/24"]).unwrap_err(),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            ipam(&["--subnet", "x", "--gateway", "10.8.0.1"]).unwrap_err(),
            "invalid subnet: invalid CIDR address: x"
        );
        assert_eq!(
            ipam(&["--subnet", "x"]).unwrap(),
            vec![json!({"Subnet":"x"})]
        );
    }
}
