//! The crate's error type. Messages that docker users see verbatim (pool overlap, port already
//! allocated, address in use) are spelled exactly as dockerd spells them.

use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid subnet {0:?}: expected a.b.c.d/len")]
    InvalidSubnet(String),
    #[error("Pool overlaps with other one on this address space")]
    PoolOverlap,
    #[error("no available addresses on this pool")]
    PoolExhausted,
    #[error("Address already in use")]
    AddressInUse(Ipv4Addr),
    #[error("invalid address {ip}: not in subnet {subnet}")]
    AddressOutOfSubnet { ip: Ipv4Addr, subnet: String },
    #[error("invalid address {0}: it is the network, broadcast or gateway address")]
    ReservedAddress(Ipv4Addr),
    #[error("Bind for {host_ip}:{port} failed: port is already allocated")]
    PortAllocated { host_ip: String, port: u16 },
    #[error("no free host port in {0}-{1}")]
    NoFreePort(u16, u16),
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("link {0} not found")]
    LinkNotFound(String),
    #[error("network namespace {path}: {source}")]
    Netns {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("nft: {0}")]
    Nft(String),
    #[error("iptables: {0}")]
    Iptables(String),
    #[error("firewall: {0}")]
    Firewall(String),
    #[error("dns: {0}")]
    Dns(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;

impl From<rtnetlink::Error> for NetError {
    fn from(e: rtnetlink::Error) -> Self {
        NetError::Netlink(e.to_string())
    }
}

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetError {
    let context = context.into();
    move |source| NetError::Io { context, source }
}
