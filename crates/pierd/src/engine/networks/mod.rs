//! The network service: docker's network model on top of `pier-network`. It owns the network
//! records and the endpoint rows in the store (an endpoint is one container's attachment to one
//! network; while the container runs it holds the allocated address, MAC, host veth and
//! published ports, so the store's endpoint rows are the IPAM allocations), the host bridges,
//! pier's packet filter — its nftables table, or its iptables chains where nftables is not usable
//! or `--firewall-backend iptables` says so (regenerated whole from the records, atomically,
//! whenever a network or a published port changes) — and the embedded DNS listeners of
//! containers on user networks.
//!
//! Predefined networks as docker's: `bridge` (on the host bridge `--bridge`, default `pier0`,
//! subnet `--bip` or the first default pool not used on the host), `host` and `none`. User
//! networks (driver `bridge`) get a bridge `br-<12 hex of id>` unless
//! `com.docker.network.bridge.name` names one. [`Engine::init_networks`] (at startup) makes the
//! kernel match the records: bridges ensured, endpoints of containers that are not running
//! released, the packet filter chosen and rewritten (idempotent).
//!
//! [`endpoints`] holds the container hooks (create, start, exit, remove, inspect), [`manage`]
//! the `/networks` verbs, [`files`] the container's `/etc/hosts` and `/etc/resolv.conf`,
//! [`ports`] docker's port bindings.

pub mod endpoints;
pub mod files;
pub mod manage;
pub mod ports;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use pier_network::dns::{DnsTable, Resolver};
use pier_network::firewall::{Backend, NetworkRules, RuleSet};
use pier_network::{Bridge, Ipam, Ipv4Net};
use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Result};
use crate::store::EndpointRow;

/// The daemon's network settings (dockerd's bridge flags).
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// False: containers get a loopback-only namespace (unit tests; no kernel changes).
    pub enabled: bool,
    /// Host bridge of the default network; "none" = no default bridge network.
    pub bridge: String,
    pub bip: Option<Ipv4Net>,
    /// Default address pools: (base, prefix length of each network).
    pub pools: Vec<(Ipv4Net, u8)>,
    pub iptables: bool,
    /// `--firewall-backend`; `None`: detected at startup (nftables when usable, else iptables).
    pub firewall: Option<Backend>,
    pub ip_forward: bool,
    pub mtu: u32,
}

impl NetOptions {
    /// Networking off: loopback-only namespaces, no kernel changes (unit tests).
    #[cfg(test)]
    pub fn disabled() -> NetOptions {
        NetOptions {
            enabled: false,
            bridge: "none".into(),
            bip: None,
            pools: default_pools(),
            iptables: false,
            firewall: None,
            ip_forward: false,
            mtu: 1500,
        }
    }

    /// pier's packet-filter state: one per daemon, named after its default bridge (the nftables
    /// table itself, or the iptables chains' prefix `PIER-<bridge>`).
    pub fn table(&self) -> String {
        format!("pier-{}", self.bridge)
    }
}

/// docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<(Ipv4Net, u8)> {
    let mut v: Vec<(Ipv4Net, u8)> = (17..=31)
        .map(|b| {
            (
                Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("net"),
                16,
            )
        })
        .collect();
    v.push((
        Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("net"),
        20,
    ));
    v
}

/// A network as recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetRec {
    pub id: String,
    pub name: String,
    /// "bridge", "host" or "null".
    pub driver: String,
    pub created: String,
    /// The host bridge (bridge driver only).
    #[serde(default)]
    pub bridge: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The default `bridge` network.
    #[serde(default)]
    pub default_bridge: bool,
}

impl NetRec {
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }
    /// docker's predefined networks cannot be removed.
    pub fn predefined(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }
}

/// A published port as recorded (container side and host side).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub container_port: u16,
    pub proto: pier_network::nft::Proto,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
}

/// What an endpoint has while its container runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Active {
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mac: String,
    /// Host end of the veth; empty until attached.
    #[serde(default)]
    pub host_ifname: String,
    pub ifname: String,
    #[serde(default)]
    pub ports: Vec<Published>,
}

/// One container's attachment to one network.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EpRec {
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub links: Vec<String>,
    /// `--ip`
    pub req_ip: Option<Ipv4Addr>,
    /// `--mac-address`
    pub req_mac: Option<String>,
    pub endpoint_id: String,
    /// Order of attachment (eth0, eth1…).
    #[serde(default)]
    pub seq: u64,
    pub active: Option<Active>,
}

/// A container's embedded DNS: its resolver and the task serving it.
pub(crate) type DnsTask = (Arc<Resolver>, tokio::task::JoinHandle<()>);

#[derive(Default)]
pub(crate) struct NetState {
    pub nets: BTreeMap<String, NetRec>,
    pub ipams: HashMap<String, Ipam>,
    /// (container id, network id) → endpoint.
    pub eps: BTreeMap<(String, String), EpRec>,
}

/// The network service's live state.
pub struct Networks {
    pub(crate) opts: NetOptions,
    pub(crate) state: Mutex<NetState>,
    pub(crate) dns: Arc<DnsTable>,
    /// Embedded DNS listeners by container id.
    pub(crate) dns_tasks: Mutex<HashMap<String, DnsTask>>,
    /// Serializes rule applies so the last writer has the latest state.
    pub(crate) nft_lock: Mutex<()>,
    /// The packet filter in use, chosen by [`Engine::init_networks`] (unset with
    /// `--iptables=false`).
    pub(crate) backend: std::sync::OnceLock<Backend>,
}

impl Networks {
    pub fn new(opts: NetOptions) -> Networks {
        Networks {
            opts,
            state: Mutex::new(NetState::default()),
            dns: DnsTable::new(),
            dns_tasks: Mutex::new(HashMap::new()),
            nft_lock: Mutex::new(()),
            backend: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn st(&self) -> std::sync::MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The packet filter in use (`None` with `--iptables=false` or networking off).
    pub fn backend(&self) -> Option<Backend> {
        self.backend.get().copied()
    }
}

pub(crate) fn net_err(e: pier_network::NetError) -> EngineError {
    use pier_network::NetError as N;
    match e {
        N::PoolOverlap
        | N::InvalidSubnet(_)
        | N::AddressInUse(_)
        | N::AddressOutOfSubnet { .. }
        | N::ReservedAddress(_) => EngineError::InvalidParameter(e.to_string()),
        other => EngineError::System(other.to_string()),
    }
}

pub(crate) fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Engine {
    /// Loads networks and endpoints from the store, creates the predefined networks, ensures
    /// the bridges, releases endpoints of containers that are not running and rewrites the nft
    /// table. Called once at startup, before containers are recovered.
    pub async fn init_networks(self: &Arc<Self>) -> Result<()> {
        let opts = self.networks.opts.clone();
        if !opts.enabled {
            return Ok(());
        }
        if opts.ip_forward {
            pier_network::enable_ip_forward().map_err(net_err)?;
        }
        let mut nets: BTreeMap<String, NetRec> = BTreeMap::new();
        for (id, text) in self.store.networks()? {
            match serde_json::from_str::<NetRec>(&text) {
                Ok(n) => {
                    nets.insert(id, n);
                }
                Err(e) => tracing::warn!(%id, error = %e, "skipping an unreadable network record"),
            }
        }
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if !nets.values().any(|n| n.name == name) {
                let rec = NetRec {
                    id: new_id(),
                    name: name.into(),
                    driver: driver.into(),
                    created: super::containers::now_rfc3339(),
                    bridge: String::new(),
                    subnet: None,
                    gateway: None,
                    ip_range: None,
                    internal: false,
                    attachable: false,
                    labels: BTreeMap::new(),
                    options: BTreeMap::new(),
                    default_bridge: false,
                };
                self.store.insert_network(
                    &rec.id,
                    name,
                    &serde_json::to_string(&rec).expect("json"),
                )?;
                nets.insert(rec.id.clone(), rec);
            }
        }
        if opts.bridge != "none" {
            let existing = nets.values().find(|n| n.name == "bridge").cloned();
            let host_nets = pier_network::host_ipv4_networks().await.map_err(net_err)?;
            // Our own bridge's address is not a conflict; an existing bridge's address is
            // adopted when no record says otherwise (as dockerd does).
            let on_link = pier_network::link_ipv4(&opts.bridge)
                .await
                .map_err(net_err)?
                .into_iter()
                .next();
            let own: Option<Ipv4Net> = existing
                .as_ref()
                .and_then(|n| n.subnet)
                .or(on_link.map(|a| a.trunc()));
            let others: Vec<Ipv4Net> = host_nets
                .into_iter()
                .filter(|h| Some(h.trunc()) != own.map(|o| o.trunc()))
                .chain(
                    nets.values()
                        .filter(|n| n.name != "bridge")
                        .filter_map(|n| n.subnet),
                )
                .collect();
            let (subnet, gateway) = match opts.bip {
                Some(bip) => (bip.trunc(), bip.addr),
                None => match own.filter(|o| !others.iter().any(|h| h.overlaps(o))) {
                    Some(o) => (
                        o,
                        existing
                            .as_ref()
                            .and_then(|n| n.gateway)
                            .or(on_link.map(|a| a.addr))
                            .unwrap_or(o.first_host()),
                    ),
                    None => {
                        let s = opts
                            .pools
                            .iter()
                            .find_map(|(p, size)| pier_network::next_free_subnet(p, *size, &others))
                            .ok_or_else(|| {
                                EngineError::System(
                                    "could not find a free subnet for the default bridge network"
                                        .into(),
                                )
                            })?;
                        (s, s.first_host())
                    }
                },
            };
            let mut rec = existing.unwrap_or_else(|| NetRec {
                id: new_id(),
                name: "bridge".into(),
                driver: "bridge".into(),
                created: super::containers::now_rfc3339(),
                bridge: opts.bridge.clone(),
                subnet: None,
                gateway: None,
                ip_range: None,
                internal: false,
                attachable: false,
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
                default_bridge: true,
            });
            rec.bridge = opts.bridge.clone();
            rec.subnet = Some(subnet);
            rec.gateway = Some(gateway);
            rec.default_bridge = true;
            rec.options = [
                ("com.docker.network.bridge.default_bridge", "true"),
                ("com.docker.network.bridge.enable_icc", "true"),
                ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                ("com.docker.network.bridge.name", opts.bridge.as_str()),
                ("com.docker.network.driver.mtu", &opts.mtu.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let text = serde_json::to_string(&rec).expect("json");
            if !self.store.insert_network(&rec.id, "bridge", &text)? {
                self.store.update_network(&rec.id, &text)?;
            }
            nets.insert(rec.id.clone(), rec);
        }
        // Bridges.
        for n in nets.values().filter(|n| n.is_bridge()) {
            ensure_bridge(n, opts.mtu).await?;
        }
        // Endpoints: keep the active ones of running containers, release the others.
        let running: std::collections::HashSet<String> = {
            let map = self
                .containers
                .map
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.values()
                .filter(|c| c.rec().state.running)
                .map(|c| c.id.clone())
                .collect()
        };
        let mut eps = BTreeMap::new();
        for row in self.store.endpoints()? {
            let Ok(mut ep) = serde_json::from_str::<EpRec>(&row.record) else {
                continue;
            };
            if ep.active.is_some() && !running.contains(&row.container_id) {
                ep.active = None;
                self.store.put_endpoint(&EndpointRow {
                    container_id: row.container_id.clone(),
                    network_id: row.network_id.clone(),
                    ip: None,
                    record: serde_json::to_string(&ep).expect("json"),
                })?;
            }
            eps.insert((row.container_id, row.network_id), ep);
        }
        let mut ipams = HashMap::new();
        for n in nets.values().filter(|n| n.is_bridge()) {
            if let Some(sub) = n.subnet {
                let mut ipam = Ipam::new(sub, n.gateway, n.ip_range).map_err(net_err)?;
                for ((cid, nid), ep) in &eps {
                    if nid == &n.id {
                        if let Some(a) = &ep.active {
                            if let Err(e) = ipam.allocate_specific(a.ip, cid) {
                                tracing::warn!(container = %cid, ip = %a.ip, error = %e, "endpoint address not re-allocated");
                            }
                        }
                    }
                }
                ipams.insert(n.id.clone(), ipam);
            }
        }
        {
            let mut st = self.networks.st();
            st.nets = nets;
            st.eps = eps;
            st.ipams = ipams;
        }
        if opts.iptables {
            let backend = self.choose_backend().await?;
            let _ = self.networks.backend.set(backend);
        }
        self.apply_rules(false).await?;
        Ok(())
    }

    /// The packet filter for this run: `--firewall-backend`, else nftables when usable, else
    /// iptables. The choice is recorded in `<exec-root>/firewall-backend` (its lifetime is the
    /// kernel's, like the rules); when the previous run of this exec root used the other backend
    /// — or, with no record, when iptables is chosen (an earlier pier only knew nftables) —
    /// pier's state there is removed, so only one backend ever holds pier's rules.
    async fn choose_backend(self: &Arc<Self>) -> Result<Backend> {
        let table = self.networks.opts.table();
        let forced = self.networks.opts.firewall;
        let record = self.opts.exec_root.join("firewall-backend");
        super::blocking(move || {
            let backend = match forced {
                Some(b) => b,
                None => Backend::detect(&table).map_err(net_err)?,
            };
            let previous = std::fs::read_to_string(&record)
                .ok()
                .and_then(|s| s.trim().parse::<Backend>().ok());
            let stale = match previous {
                Some(p) if p != backend => Some(p),
                None if backend == Backend::Iptables => Some(Backend::Nftables),
                _ => None,
            };
            if let Some(other) = stale {
                if let Err(e) = pier_network::firewall::remove(other, &table) {
                    tracing::debug!(backend = %other, error = %e, "no stale packet-filter state removed");
                }
            }
            if previous != Some(backend) {
                std::fs::write(&record, backend.as_str()).map_err(|e| {
                    EngineError::System(format!("write {}: {e}", record.display()))
                })?;
            }
            tracing::info!(backend = %backend, "packet filter");
            Ok(backend)
        })
        .await
    }

    /// Rewrites pier's packet filter from the records through the chosen backend (no-op with
    /// `--iptables=false`); `hot` on a container's start/exit path (see
    /// [`pier_network::nft::RuleSet::apply`]). With no bridge network at all, pier's table or
    /// chains are removed instead.
    pub(crate) async fn apply_rules(self: &Arc<Self>, hot: bool) -> Result<()> {
        let opts = &self.networks.opts;
        if !opts.enabled || !opts.iptables {
            return Ok(());
        }
        let Some(backend) = self.networks.backend() else {
            return Ok(());
        };
        let e = self.clone();
        super::blocking(move || {
            let _g = e
                .networks
                .nft_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let rs = e.ruleset();
            rs.apply_with(backend, hot).map_err(net_err)
        })
        .await
    }

    fn ruleset(&self) -> RuleSet {
        let st = self.networks.st();
        let mut rs = RuleSet::new(&self.networks.opts.table());
        for n in st.nets.values().filter(|n| n.is_bridge()) {
            if let Some(sub) = n.subnet {
                let mut r = NetworkRules::new(&n.bridge, sub);
                r.internal = n.internal;
                r.masquerade = n
                    .options
                    .get("com.docker.network.bridge.enable_ip_masquerade")
                    .is_none_or(|v| v != "false");
                rs.networks.push(r);
            }
        }
        for ep in st.eps.values() {
            if let Some(a) = &ep.active {
                for p in &a.ports {
                    rs.ports.push(pier_network::firewall::PortMapping {
                        host_ip: p.host_ip,
                        host_port: p.host_port,
                        container_ip: a.ip,
                        container_port: p.container_port,
                        proto: p.proto,
                    });
                }
            }
        }
        rs
    }

    /// Writes an endpoint row (record and address) to the store.
    pub(crate) fn save_endpoint(&self, cid: &str, nid: &str, ep: &EpRec) -> Result<bool> {
        Ok(self.store.put_endpoint(&EndpointRow {
            container_id: cid.to_string(),
            network_id: nid.to_string(),
            ip: ep.active.as_ref().map(|a| a.ip.to_string()),
            record: serde_json::to_string(ep).expect("json"),
        })?)
    }
}

/// Creates (if missing) a network's bridge with its gateway, MTU and `route_localnet`.
pub(crate) async fn ensure_bridge(n: &NetRec, default_mtu: u32) -> Result<()> {
    let (Some(sub), Some(gw)) = (n.subnet, n.gateway) else {
        return Ok(());
    };
    let mtu = n
        .options
        .get("com.docker.network.driver.mtu")
        .and_then(|m| m.parse().ok())
        .unwrap_or(default_mtu);
    let cidr = Ipv4Net::new(gw, sub.prefix).map_err(net_err)?;
    Bridge::ensure(&n.bridge, cidr, mtu)
        .await
        .map_err(net_err)?;
    pier_network::set_route_localnet(&n.bridge, true).map_err(net_err)?;
    Ok(())
}
