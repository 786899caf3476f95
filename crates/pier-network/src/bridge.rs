//! Host bridges through rtnetlink (no `ip` processes: a netlink round trip is microseconds, an
//! exec is milliseconds, and the budget for networking per `run` is 5 ms).
//! [`Bridge::ensure`] is idempotent (creates the bridge if missing, sets the gateway address, MTU and
//! brings it up); [`Bridge::remove`] deletes it and is a no-op when it is already gone.
//! Also the sysctls a bridge network needs: IPv4 forwarding and per-bridge `route_localnet`.

use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::{Handle, LinkBridge, LinkUnspec};
use serde::{Deserialize, Serialize};

use crate::error::{io_err, NetError, Result};
use crate::subnet::Ipv4Net;

/// A bridge as ensured: its kernel index, gateway (address/prefix on the bridge) and MTU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    pub name: String,
    pub index: u32,
    pub gateway: Ipv4Net,
    pub mtu: u32,
}

/// Opens an rtnetlink connection in the calling thread's network namespace and drives it on the
/// current tokio runtime; it closes when the last handle clone is dropped.
pub(crate) fn connect() -> Result<Handle> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(io_err("netlink socket"))?;
    tokio::spawn(conn);
    Ok(handle)
}

/// The errno of a netlink error reply, if it is one.
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

pub(crate) async fn link_index(h: &Handle, name: &str) -> Result<Option<u32>> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn delete_link(h: &Handle, name: &str) -> Result<bool> {
    let Some(idx) = link_index(h, name).await? else {
        return Ok(false);
    };
    match h.link().del(idx).execute().await {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Bridge {
    /// Creates (if missing) the bridge `name`, puts `gateway_cidr` (e.g. `10.213.1.1/24`) on it,
    /// sets `mtu` and brings it up. Idempotent; an existing bridge keeps other addresses it has.
    pub async fn ensure(name: &str, gateway_cidr: Ipv4Net, mtu: u32) -> Result<Bridge> {
        if name.is_empty() || name.len() > 15 {
            return Err(NetError::Netlink(format!(
                "invalid interface name {name:?} (1-15 bytes)"
            )));
        }
        let h = connect()?;
        let index = match link_index(&h, name).await? {
            Some(i) => i,
            None => {
                match h
                    .link()
                    .add(LinkBridge::new(name).mtu(mtu).build())
                    .execute()
                    .await
                {
                    Ok(()) => {}
                    Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                link_index(&h, name)
                    .await?
                    .ok_or_else(|| NetError::LinkNotFound(name.to_string()))?
            }
        };
        h.address()
            .add(index, IpAddr::V4(gateway_cidr.addr), gateway_cidr.prefix)
            .replace()
            .execute()
            .await?;
        h.link()
            .change(LinkUnspec::new_with_index(index).mtu(mtu).up().build())
            .execute()
            .await?;
        Ok(Bridge {
            name: name.to_string(),
            index,
            gateway: gateway_cidr,
            mtu,
        })
    }

    /// Deletes the bridge (its veths are detached by the kernel). Returns false if it did not exist.
    pub async fn remove(name: &str) -> Result<bool> {
        let h = connect()?;
        delete_link(&h, name).await
    }

    /// Whether a link named `name` exists.
    pub async fn exists(name: &str) -> Result<bool> {
        let h = connect()?;
        Ok(link_index(&h, name).await?.is_some())
    }
}

/// Names of the links enslaved to bridge `name` (the host ends of its veths), for reconciling
/// after a restart: ports no known endpoint owns can be deleted. Empty when the bridge is missing.
pub async fn bridge_ports(name: &str) -> Result<Vec<String>> {
    let h = connect()?;
    let Some(br) = link_index(&h, name).await? else {
        return Ok(Vec::new());
    };
    let mut links = h.link().get().execute();
    let mut out = Vec::new();
    while let Some(m) = links.try_next().await? {
        let mut ifname = None;
        let mut on_bridge = false;
        for a in &m.attributes {
            match a {
                LinkAttribute::Controller(c) if *c == br => on_bridge = true,
                LinkAttribute::IfName(n) => ifname = Some(n.clone()),
                _ => {}
            }
        }
        if let (true, Some(n)) = (on_bridge, ifname) {
            out.push(n);
        }
    }
    out.sort();
    Ok(out)
}

/// The IPv4 networks configured on the host's interfaces (for choosing a default subnet that
/// does not collide with them, as dockerd does).
pub async fn host_ipv4_networks() -> Result<Vec<Ipv4Net>> {
    let h = connect()?;
    let mut addrs = h.address().get().execute();
    let mut out = Vec::new();
    while let Some(m) = addrs.try_next().await? {
        for a in &m.attributes {
            if let AddressAttribute::Address(IpAddr::V4(ip)) = a {
                out.push(Ipv4Net::new(*ip, m.header.prefix_len)?.trunc());
            }
        }
    }
    Ok(out)
}

/// The IPv4 addresses (with prefix) on link `name`; empty when it does not exist. A pierd
/// starting on an existing bridge adopts its address, as dockerd does.
pub async fn link_ipv4(name: &str) -> Result<Vec<Ipv4Net>> {
    let h = connect()?;
    let Some(idx) = link_index(&h, name).await? else {
        return Ok(Vec::new());
    };
    let mut addrs = h.address().get().set_link_index_filter(idx).execute();
    let mut out = Vec::new();
    while let Some(m) = addrs.try_next().await? {
        if m.header.index != idx {
            continue;
        }
        for a in &m.attributes {
            if let AddressAttribute::Address(IpAddr::V4(ip)) = a {
                out.push(Ipv4Net::new(*ip, m.header.prefix_len)?);
            }
        }
    }
    Ok(out)
}

/// `net.ipv4.ip_forward` as the kernel has it.
pub fn ip_forward_enabled() -> Result<bool> {
    let v = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .map_err(io_err("read ip_forward"))?;
    Ok(v.trim() == "1")
}

/// Sets `net.ipv4.ip_forward=1` (dockerd's `--ip-forward`, on by default).
pub fn enable_ip_forward() -> Result<()> {
    if ip_forward_enabled()? {
        return Ok(());
    }
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(io_err("write ip_forward"))
}

/// Sets `net.ipv4.conf.<bridge>.route_localnet`, which lets DNAT-ed packets from 127.0.0.1 leave
/// through the bridge (published ports reachable at `localhost` without a userland proxy).
pub fn set_route_localnet(bridge: &str, on: bool) -> Result<()> {
    let path = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&path, if on { "1" } else { "0" }).map_err(io_err(format!("write {path}")))
}
