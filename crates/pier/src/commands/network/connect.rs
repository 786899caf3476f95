//! `pier network connect [--ip] [--ip6] [--alias] [--link] [--link-local-ip] [--driver-opt]
//! [--gw-priority] NETWORK CONTAINER`: `POST /networks/{id}/connect` with the endpoint settings docker
//! sends (empty IPAM config and alias list rather than null). Prints nothing on success.

use super::super::Ctx;
use crate::client::p;
use crate::commands::container::opts;
use crate::error::{CliError, Result};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long)]
    pub link: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long, value_delimiter = ',')]
    pub alias: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_delimiter = ',')]
    pub link_local_ip: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_delimiter = ',')]
    pub driver_opt: Vec<String>,
    /// Highest gw-priority provides the default gateway. Accepts positive and negative values.
    #[arg(long = "gw-priority", default_value_t = 0, allow_hyphen_values = true)]
    pub gw_priority: i64,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    for l in &a.link {
        opts::link(l)?;
    }
    let mut driver_opts = serde_json::Map::new();
    for o in &a.driver_opt {
        match o.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                driver_opts.insert(k.trim().into(), json!(v.trim()));
            }
            _ => {
                return Err(CliError::Usage(
                    "invalid key/value pair format in driver options".into(),
                ))
            }
        }
    }
    let mut ipam = serde_json::Map::new();
    if let Some(ip) = a.ip.as_ref().filter(|s| !s.is_empty()) {
        ipam.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = a.ip6.as_ref().filter(|s| !s.is_empty()) {
        ipam.insert("IPv6Address".into(), json!(ip));
    }
    if !a.link_local_ip.is_empty() {
        ipam.insert("LinkLocalIPs".into(), json!(a.link_local_ip));
    }
    let body = json!({
        "Container": a.container,
        "EndpointConfig": {
            "IPAMConfig": ipam,
            "Links": if a.link.is_empty() { serde_json::Value::Null } else { json!(a.link) },
            "Aliases": a.alias,
            "MacAddress": "",
            "DriverOpts": driver_opts,
            "GwPriority": a.gw_priority,
            "NetworkID": "",
            "EndpointID": "",
            "Gateway": "",
            "IPAddress": "",
            "IPPrefixLen": 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": null,
        }
    });
    let resp = ctx
        .client
        .post_body(
            &format!("/networks/{}/connect", p(&a.network)),
            body.to_string(),
        )
        .await?;
    crate::client::read_body(resp).await?;
    Ok(())
}
