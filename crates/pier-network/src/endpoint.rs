//! Container endpoints on a bridge: [`attach`] creates a veth pair, enslaves the host end
//! (`veth` + 7 hex digits, as docker names them) to the bridge in hairpin mode, creates the other end
//! directly inside the container's network namespace as `eth0` with its MAC/MTU, sets its address, brings it and `lo` up and
//! adds the default route via the gateway (none when `gateway` is `None`, which is how `--internal`
//! networks get no outbound route). On any failure the veth pair is deleted again, so nothing is left
//! half-made. [`detach`] deletes the pair (idempotent). [`setup_loopback`] brings `lo` up in a
//! namespace for `--network none`.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;

use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};
use serde::{Deserialize, Serialize};

use crate::bridge::{connect, delete_link, errno, link_index};
use crate::error::{NetError, Result};
use crate::netns::Netns;

/// What pierd asks for when it connects a container to a bridge network.
#[derive(Clone, Debug)]
pub struct AttachRequest {
    pub netns: Netns,
    pub bridge: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    /// Default route via this address; `None` for internal networks (no outbound route).
    pub gateway: Option<Ipv4Addr>,
    /// `--mac-address`; default `02:42:` + the four IP bytes (docker's classic derivation).
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// Name inside the container; `eth0` for the first network, `eth1`… for later `connect`s.
    pub ifname: String,
}

impl AttachRequest {
    pub fn new(
        netns: Netns,
        bridge: &str,
        ip: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
    ) -> Self {
        AttachRequest {
            netns,
            bridge: bridge.to_string(),
            ip,
            prefix,
            gateway,
            mac: None,
            mtu: 1500,
            ifname: "eth0".to_string(),
        }
    }
}

/// An attached endpoint: what pierd records to detach it later and to fill `NetworkSettings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub host_ifname: String,
    pub ifname: String,
    pub bridge: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mac: String,
}

/// Docker's default MAC for an address: `02:42:a:b:c:d`.
pub fn mac_for_ip(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `aa:bb:cc:dd:ee:ff` (`--mac-address`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        mac[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

fn random_veth_name() -> String {
    format!("veth{:07x}", rand::random::<u32>() & 0x0fff_ffff)
}

/// Connects a container namespace to a bridge; see the module doc.
pub async fn attach(req: &AttachRequest) -> Result<Endpoint> {
    let h = connect()?;
    let br = link_index(&h, &req.bridge)
        .await?
        .ok_or_else(|| NetError::LinkNotFound(req.bridge.clone()))?;
    let ns_file = req.netns.open()?;
    // Both ends get random names; a clash (EEXIST) is retried with new names.
    let mac = req.mac.unwrap_or_else(|| mac_for_ip(req.ip));
    // One RTM_NEWLINK creates the pair with the host end already on the bridge and up, and the
    // container end created directly inside the netns under its final name, MAC and MTU: moving a
    // link between namespaces afterwards costs a kernel synchronize_net (~15 ms), this costs none.
    // A host-name clash (EEXIST) is retried with a new random name.
    let host = {
        let mut tries = 0;
        loop {
            let host = random_veth_name();
            let peer = LinkMessageBuilder::<LinkUnspec>::new()
                .name(req.ifname.clone())
                .address(mac.to_vec())
                .mtu(req.mtu)
                .setns_by_fd(ns_file.as_raw_fd())
                .build();
            let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                .name(host.clone())
                .mtu(req.mtu)
                .controller(br)
                .up()
                .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
                .build();
            match h.link().add(msg).execute().await {
                Ok(()) => break host,
                Err(e)
                    if errno(&e) == Some(libc::EEXIST)
                        && tries < 5
                        && link_index(&h, &host).await?.is_some() =>
                {
                    tries += 1
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let result = async {
        let hidx = link_index(&h, &host)
            .await?
            .ok_or_else(|| NetError::LinkNotFound(host.clone()))?;
        // Hairpin: a container may reach its own published port through the host (no userland proxy).
        h.link()
            .set_port(LinkBridgePort::new(hidx).hairpin(true).build())
            .execute()
            .await?;
        let (ifname, ip, prefix, gateway) = (req.ifname.clone(), req.ip, req.prefix, req.gateway);
        req.netns
            .netlink(move |h| async move {
                let idx = link_index(&h, &ifname)
                    .await?
                    .ok_or_else(|| NetError::LinkNotFound(ifname.clone()))?;
                h.link()
                    .change(LinkUnspec::new_with_index(idx).up().build())
                    .execute()
                    .await?;
                loopback_up(&h).await?;
                h.address()
                    .add(idx, IpAddr::V4(ip), prefix)
                    .execute()
                    .await?;
                if let Some(gw) = gateway {
                    let route = RouteMessageBuilder::<Ipv4Addr>::new()
                        .gateway(gw)
                        .output_interface(idx)
                        .build();
                    h.route().add(route).execute().await?;
                }
                Ok(())
            })
            .await?;
        Ok::<_, NetError>(mac)
    };
    match result.await {
        Ok(mac) => Ok(Endpoint {
            host_ifname: host,
            ifname: req.ifname.clone(),
            bridge: req.bridge.clone(),
            ip: req.ip,
            prefix: req.prefix,
            gateway: req.gateway,
            mac: format_mac(&mac),
        }),
        Err(e) => {
            // Deleting the host end deletes the pair wherever the peer is by now.
            if let Err(e2) = delete_link(&h, &host).await {
                tracing::warn!("cleanup of {host} after failed attach: {e2}");
            }
            Err(e)
        }
    }
}

/// Deletes the endpoint's veth pair. Returns false when it was already gone (e.g. the container's
/// namespace died and took the pair with it).
pub async fn detach(ep: &Endpoint) -> Result<bool> {
    let h = connect()?;
    delete_link(&h, &ep.host_ifname).await
}

async fn loopback_up(h: &rtnetlink::Handle) -> Result<()> {
    let lo = link_index(h, "lo")
        .await?
        .ok_or_else(|| NetError::LinkNotFound("lo".into()))?;
    h.link()
        .change(LinkUnspec::new_with_index(lo).up().build())
        .execute()
        .await?;
    Ok(())
}

/// Brings `lo` up inside `netns` (`--network none`: loopback only).
pub async fn setup_loopback(netns: &Netns) -> Result<()> {
    netns
        .netlink(|h| async move { loopback_up(&h).await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_helpers() {
        let m = mac_for_ip(Ipv4Addr::new(10, 213, 1, 2));
        assert_eq!(format_mac(&m), "02:42:0a:d5:01:02");
        assert_eq!(parse_mac("02:42:0a:d5:01:02"), Some(m));
        assert_eq!(parse_mac("02:42:0a:d5:01"), None);
        assert_eq!(parse_mac("02:42:0a:d5:01:zz"), None);
        let n = random_veth_name();
        assert!(n.len() == 11 && n.starts_with("veth"), "{n}");
    }
}
