//! pier-network: docker's bridge network model as a library for pierd.
//!
//! The pieces, each in its own module, all stateless towards the kernel (pierd owns persistence and
//! calls them again to reconcile after a restart):
//! - [`bridge`]: create/remove a host bridge with its gateway address (rtnetlink), IPv4 forwarding.
//! - [`ipam`]: address allocation inside a subnet; serializable records for pierd's store.
//! - [`endpoint`]: a veth pair per container, `eth0` + address + default route inside the netns.
//! - [`firewall`]: the packet filter described once from a declarative [`firewall::RuleSet`]
//!   (masquerade, published ports, isolation) and the backend choice ([`firewall::Backend`]),
//!   rendered by [`nft`] (pier's own nftables table) or [`iptables`] (pier's own chains, where
//!   nftables is not usable), each applied atomically.
//! - [`ports`]: host port availability checks with docker's error text.
//! - [`dns`]: the embedded DNS server docker answers at 127.0.0.11 inside containers.
//!
//! Netlink and netns work is async (tokio); work inside a network namespace runs on a dedicated OS
//! thread that `setns`-es and then exits, so no pierd thread ever changes namespace.

pub mod bridge;
pub mod dns;
pub mod endpoint;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod iptables;
mod libnft;
pub mod netns;
pub mod nft;
pub mod ports;
pub mod subnet;

pub use bridge::{
    bridge_ports, enable_ip_forward, host_ipv4_networks, ip_forward_enabled, link_ipv4,
    set_route_localnet, Bridge,
};
pub use endpoint::{attach, detach, setup_loopback, AttachRequest, Endpoint};
pub use error::{NetError, Result};
pub use ipam::{check_overlap, next_free_subnet, Ipam, IpamRecord};
pub use netns::Netns;
pub use subnet::Ipv4Net;
