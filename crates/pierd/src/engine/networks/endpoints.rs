//! The container side of networking, called by the container service at each step of a
//! container's life:
//! - create ([`Engine::net_on_create`] / [`Engine::net_record`]): `NetworkMode` and
//!   `NetworkingConfig` validated (unknown network → 404, `--ip`/aliases only on user networks,
//!   `container:<x>` must name a container, legacy links must name containers) and one endpoint
//!   row per network recorded;
//! - start, before the shim ([`Engine::net_prepare`]): addresses from IPAM and host ports chosen
//!   (a port in use fails the start before anything runs), rows made active in the store;
//!   [`Engine::net_files`] gives `/etc/hosts` and `/etc/resolv.conf`; [`Engine::net_spec`]
//!   points `container:<x>` at the other container's namespace;
//! - between the shim's create and its `start` ([`Engine::net_attach`]): veths into the init's
//!   namespace, the nft table when ports are published, the embedded DNS for user networks (with
//!   the endpoints' `Links` as this container's own aliases; legacy links of the default bridge
//!   are hosts entries instead, checked at start as docker does);
//! - exit ([`Engine::net_release`]): addresses, ports, DNS names and listener released (the veth
//!   goes with the namespace; it is deleted in the background too); remove
//!   ([`Engine::net_forget`]): rows deleted;
//! - inspect/list ([`Engine::net_settings`], [`Engine::net_summary`]) in docker's shapes.

use std::net::Ipv4Addr;
use std::sync::Arc;

use pier_network::dns::{listen_in_netns, LinkAlias, Resolver, EMBEDDED_DNS};
use pier_network::endpoint::{format_mac, mac_for_ip, parse_mac};
use pier_network::{AttachRequest, Endpoint, Netns};
use serde_json::{json, Value};

use super::ports;
use super::{files, net_err, new_id, Active, EpRec, NetRec, NetState, Published};
use crate::engine::containers::{Ctr, Record};
use crate::engine::{Engine, EngineError, Result};

/// docker's "network X not found" (404).
pub(crate) fn no_such_network(name: &str) -> EngineError {
    EngineError::NoSuchNetwork(name.to_string())
}

impl NetState {
    /// docker's network lookup: full ID, exact name, then a unique ID prefix.
    pub(crate) fn find(&self, name: &str) -> Result<NetRec> {
        if let Some(n) = self.nets.get(name) {
            return Ok(n.clone());
        }
        if let Some(n) = self.nets.values().find(|n| n.name == name) {
            return Ok(n.clone());
        }
        let found: Vec<&NetRec> = self
            .nets
            .values()
            .filter(|n| !name.is_empty() && n.id.starts_with(name))
            .collect();
        match found.len() {
            1 => Ok(found[0].clone()),
            0 => Err(no_such_network(name)),
            _ => Err(EngineError::InvalidParameter(format!(
                "network {name} is ambiguous ({} matches found based on ID prefix)",
                found.len()
            ))),
        }
    }

    /// A container's endpoints in attachment order.
    pub(crate) fn container_eps(&self, cid: &str) -> Vec<(NetRec, EpRec)> {
        let mut v: Vec<(NetRec, EpRec)> = self
            .eps
            .iter()
            .filter(|((c, _), _)| c == cid)
            .filter_map(|((_, nid), ep)| Some((self.nets.get(nid)?.clone(), ep.clone())))
            .collect();
        v.sort_by_key(|(_, ep)| ep.seq);
        v
    }

    pub(crate) fn next_seq(&self, cid: &str) -> u64 {
        self.eps
            .iter()
            .filter(|((c, _), _)| c == cid)
            .map(|(_, e)| e.seq + 1)
            .max()
            .unwrap_or(0)
    }

    /// Every published port of every running container.
    pub(crate) fn taken_ports(&self) -> Vec<(Ipv4Addr, u16, pier_network::nft::Proto)> {
        self.eps
            .values()
            .filter_map(|e| e.active.as_ref())
            .flat_map(|a| a.ports.iter().map(|p| (p.host_ip, p.host_port, p.proto)))
            .collect()
    }
}

/// The endpoint config of `net` in a `NetworkingConfig.EndpointsConfig` entry.
pub(crate) fn ep_from_config(net: &NetRec, v: &Value, seq: u64) -> Result<EpRec> {
    let aliases: Vec<String> = v["Aliases"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let links: Vec<String> = v["Links"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for l in &links {
        files::parse_link(l).map_err(EngineError::InvalidParameter)?;
    }
    let ip = v["IPAMConfig"]["IPv4Address"].as_str().unwrap_or("");
    let req_ip =
        if ip.is_empty() {
            None
        } else {
            Some(ip.parse::<Ipv4Addr>().map_err(|_| {
                EngineError::InvalidParameter(format!("invalid IPv4 address: {ip}"))
            })?)
        };
    let mac = v["MacAddress"].as_str().unwrap_or("");
    let req_mac = if mac.is_empty() {
        None
    } else {
        parse_mac(mac)
            .ok_or_else(|| EngineError::InvalidParameter(format!("invalid MAC address: {mac}")))?;
        Some(mac.to_string())
    };
    if net.default_bridge || !net.is_bridge() {
        if req_ip.is_some() {
            return Err(EngineError::InvalidParameter(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        if !aliases.is_empty() {
            return Err(EngineError::InvalidParameter(
                "network-scoped alias is supported only for containers in user defined networks"
                    .into(),
            ));
        }
    }
    if let (Some(ip), Some(sub)) = (req_ip, net.subnet) {
        if !sub.contains(ip) {
            return Err(EngineError::InvalidParameter(format!(
                "no configured subnet or ip-range contain the IP address {ip}"
            )));
        }
    }
    Ok(EpRec {
        aliases,
        links,
        req_ip,
        req_mac,
        endpoint_id: String::new(),
        seq,
        active: None,
    })
}

fn mode_of(hc: &Value) -> String {
    match hc["NetworkMode"].as_str().unwrap_or("") {
        "" | "default" => "bridge".into(),
        m => m.to_string(),
    }
}

/// Whether the container's network mode names a user network (docker's `IsUserDefined`): its
/// links are then endpoint aliases in the embedded DNS, not legacy links.
fn user_defined_mode(hc: &Value) -> bool {
    !matches!(mode_of(hc).as_str(), "bridge" | "host" | "none") && container_mode(hc).is_none()
}

/// The parseable `HostConfig.Links` of a container as (target, alias).
fn legacy_links(hc: &Value) -> Vec<(String, String)> {
    hc["Links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| files::parse_link(x.as_str()?).ok())
        .collect()
}

/// The container a `container:<x>` mode names.
pub(crate) fn container_mode(hc: &Value) -> Option<String> {
    hc["NetworkMode"]
        .as_str()
        .and_then(|m| m.strip_prefix("container:"))
        .map(str::to_string)
}

impl Engine {
    fn net_enabled(&self) -> bool {
        self.networks.opts.enabled
    }

    /// The container that owns `target`'s network namespace (`container:<x>` followed).
    fn net_owner(&self, target: &str) -> Result<Arc<Ctr>> {
        let mut c = self.container(target)?;
        for _ in 0..8 {
            let Some(next) = container_mode(&c.rec().host_config) else {
                break;
            };
            c = self.container(&next)?;
        }
        Ok(c)
    }

    /// `target`'s owner and its address on the default bridge, if it has one.
    fn bridge_address(&self, target: &str) -> Option<(Arc<Ctr>, Ipv4Addr)> {
        let c = self.net_owner(target).ok()?;
        let id = c.rec().id.clone();
        let ip = self
            .networks
            .st()
            .container_eps(&id)
            .into_iter()
            .find(|(n, _)| n.default_bridge)
            .and_then(|(_, e)| e.active.map(|a| a.ip))?;
        Some((c, ip))
    }

    /// `rec`'s legacy links whose target exists: the target — the owner of its network namespace,
    /// `container:<x>` followed, as docker's `registerLinks` — and the link's name,
    /// `/<rec's name>/<alias>`; none on a user network (its links are endpoint aliases, shown in
    /// `NetworkSettings.Networks.<net>.Links`).
    fn net_legacy_link_targets(&self, rec: &Record) -> Vec<(Arc<Ctr>, String)> {
        if user_defined_mode(&rec.host_config) {
            return Vec::new();
        }
        let me = rec.name.trim_start_matches('/');
        legacy_links(&rec.host_config)
            .into_iter()
            .filter_map(|(target, alias)| {
                Some((self.net_owner(&target).ok()?, format!("/{me}/{alias}")))
            })
            .collect()
    }

    /// `HostConfig.Links` as docker's inspect shows it: `/target:/container/alias`, or null.
    pub(crate) fn net_inspect_links(&self, rec: &Record) -> Value {
        let links: Vec<String> = self
            .net_legacy_link_targets(rec)
            .into_iter()
            .map(|(c, link)| format!("{}:{link}", c.rec().name))
            .collect();
        if links.is_empty() {
            Value::Null
        } else {
            json!(links)
        }
    }

    /// The second names `rec`'s legacy links give their targets: (target id, link name).
    pub(crate) fn net_link_names(&self, rec: &Record) -> Vec<(String, String)> {
        self.net_legacy_link_targets(rec)
            .into_iter()
            .map(|(c, link)| (c.rec().id.clone(), link))
            .collect()
    }

    /// docker's `registerLinks` at create: on the default bridge (not a user network, where links
    /// are DNS aliases and a missing target is allowed) every link names an existing container
    /// that does not use the host's network.
    fn check_legacy_links_on_create(&self, hc: &Value) -> Result<()> {
        let specs = files::strs(&hc["Links"]);
        for l in &specs {
            files::parse_link(l).map_err(EngineError::InvalidParameter)?;
        }
        if user_defined_mode(hc) {
            return Ok(());
        }
        for (target, _) in legacy_links(hc) {
            let c = self.net_owner(&target).map_err(|e| match e {
                EngineError::NoSuchContainer(_) => EngineError::InvalidParameter(format!(
                    "could not get container for {target}: No such container: {target}"
                )),
                e => e,
            })?;
            if mode_of(&c.rec().host_config) == "host" {
                return Err(EngineError::InvalidParameter("conflicting options: host type networking can't be used with links. This would result in undefined behavior".into()));
            }
        }
        Ok(())
    }

    /// docker's start-time checks of legacy links (a container on the default bridge): each
    /// target still there must be running and on the default bridge.
    fn check_legacy_links_on_start(&self, rec: &Record) -> Result<()> {
        let on_default = self
            .networks
            .st()
            .container_eps(&rec.id)
            .iter()
            .any(|(n, _)| n.default_bridge);
        if !on_default || mode_of(&rec.host_config) != "bridge" {
            return Ok(());
        }
        let me = rec.name.trim_start_matches('/');
        for (target, alias) in legacy_links(&rec.host_config) {
            let Ok(c) = self.net_owner(&target) else {
                continue;
            };
            let (id, name, running) = {
                let r = c.rec();
                (r.id.clone(), r.name.clone(), r.state.running)
            };
            if id == rec.id {
                continue;
            }
            if !running {
                return Err(EngineError::System(format!(
                    "Cannot link to a non running container: {name} AS /{me}/{alias}"
                )));
            }
            if self.bridge_address(&target).is_none() {
                return Err(EngineError::System(format!(
                    "Cannot link to {name}, as it does not belong to the default network"
                )));
            }
        }
        Ok(())
    }

    /// Validates the network settings of a create; returns the endpoints to record.
    pub(crate) fn net_on_create(
        &self,
        cfg: &Value,
        hc: &Value,
        netcfg: &Value,
    ) -> Result<Vec<(String, EpRec)>> {
        files::validate_extra_hosts(hc).map_err(EngineError::InvalidParameter)?;
        ports::bindings(cfg, hc)?;
        let mode = mode_of(hc);
        self.check_legacy_links_on_create(hc)?;
        if let Some(other) = container_mode(hc) {
            self.container(&other)?;
            if hc["PortBindings"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
                || hc["PublishAllPorts"].as_bool().unwrap_or(false)
            {
                return Err(EngineError::InvalidParameter(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            return Ok(Vec::new());
        }
        if !self.net_enabled() {
            if !matches!(mode.as_str(), "bridge" | "host" | "none") {
                return Err(no_such_network(&mode));
            }
            return Ok(Vec::new());
        }
        let st = self.networks.st();
        let net = st.find(&mode)?;
        let eps_cfg = netcfg["EndpointsConfig"].as_object();
        let mut out = Vec::new();
        let raw_mode = hc["NetworkMode"].as_str().unwrap_or("");
        let is_first = |k: &str| {
            k == mode
                || k == raw_mode
                || k == net.name
                || k == net.id
                || (net.default_bridge && k == "default")
        };
        let first_cfg = eps_cfg
            .and_then(|m| m.iter().find(|(k, _)| is_first(k)).map(|(_, v)| v.clone()))
            .unwrap_or(Value::Null);
        let mut first = ep_from_config(&net, &first_cfg, 0)?;
        if first.req_mac.is_none() {
            if let Some(m) = cfg["MacAddress"].as_str().filter(|m| !m.is_empty()) {
                parse_mac(m).ok_or_else(|| {
                    EngineError::InvalidParameter(format!("invalid MAC address: {m}"))
                })?;
                first.req_mac = Some(m.to_string());
            }
        }
        out.push((net.id.clone(), first));
        // docker (API ≥ 1.44) accepts more networks at create; they are connected in order.
        if let Some(m) = eps_cfg {
            for (k, v) in m {
                if is_first(k) {
                    continue;
                }
                let other = st.find(k)?;
                if !other.is_bridge() || !net.is_bridge() {
                    return Err(EngineError::InvalidParameter(
                        "Container cannot be connected to network endpoints".into(),
                    ));
                }
                let seq = out.len() as u64;
                out.push((other.id.clone(), ep_from_config(&other, v, seq)?));
            }
        }
        Ok(out)
    }

    /// The `network` filter of `GET /containers/json`: attached to one of `nets` (name or ID
    /// prefix).
    pub(crate) fn net_matches(&self, cid: &str, nets: &[String]) -> bool {
        self.networks.st().container_eps(cid).iter().any(|(n, _)| {
            nets.iter()
                .any(|x| n.name == *x || n.id.starts_with(x.as_str()))
        })
    }

    /// Records the endpoints of a new container.
    pub(crate) fn net_record(&self, cid: &str, eps: Vec<(String, EpRec)>) -> Result<()> {
        for (nid, ep) in eps {
            self.save_endpoint(cid, &nid, &ep)?;
            self.networks.st().eps.insert((cid.to_string(), nid), ep);
        }
        Ok(())
    }

    /// Allocates the container's addresses and host ports and records them (start, before the
    /// shim). On failure nothing stays allocated.
    pub(crate) async fn net_prepare(self: &Arc<Self>, rec: &Record) -> Result<()> {
        if !self.net_enabled() || container_mode(&rec.host_config).is_some() {
            return Ok(());
        }
        let bindings = ports::bindings(&rec.config, &rec.host_config)?;
        let name = rec.name.trim_start_matches('/').to_string();
        let was_active: Vec<String> = self
            .networks
            .st()
            .container_eps(&rec.id)
            .into_iter()
            .filter(|(_, e)| e.active.is_some())
            .map(|(n, _)| n.id)
            .collect();
        if was_active.is_empty() {
            self.check_legacy_links_on_start(rec)?;
        }
        let result = (|| {
            let mut st = self.networks.st();
            let eps = st.container_eps(&rec.id);
            let mut taken = st.taken_ports();
            // Ports go with the first endpoint; a live `connect` adds none.
            let mut ports_done = eps.iter().any(|(_, e)| e.active.is_some());
            let mut used_if: Vec<String> = eps
                .iter()
                .filter_map(|(_, e)| e.active.as_ref().map(|a| a.ifname.clone()))
                .collect();
            for (net, ep) in eps {
                if !net.is_bridge() || ep.active.is_some() {
                    continue;
                }
                let ipam = st.ipams.get_mut(&net.id).ok_or_else(|| {
                    EngineError::System(format!("network {} has no IPAM", net.name))
                })?;
                let ip = match ep.req_ip {
                    Some(ip) => {
                        ipam.allocate_specific(ip, &rec.id).map_err(net_err)?;
                        ip
                    }
                    None => ipam.allocate(&rec.id).map_err(net_err)?,
                };
                let endpoint_id = new_id();
                let published = if !ports_done && !net.internal {
                    ports_done = true;
                    match ports::allocate(&bindings, &mut taken) {
                        Ok(p) => p,
                        Err(e) => {
                            return Err(EngineError::StartFailed(format!(
                                "driver failed programming external connectivity on endpoint {name} ({endpoint_id}): {e}"
                            )))
                        }
                    }
                } else {
                    Vec::new()
                };
                let mac = ep
                    .req_mac
                    .as_deref()
                    .and_then(parse_mac)
                    .unwrap_or_else(|| mac_for_ip(ip));
                let sub = ipam.subnet();
                let mut ep = ep;
                ep.endpoint_id = endpoint_id;
                ep.active = Some(Active {
                    ip,
                    prefix: sub.prefix,
                    gateway: (!net.internal).then(|| ipam.gateway()),
                    mac: format_mac(&mac),
                    host_ifname: String::new(),
                    ifname: {
                        let n = (0..)
                            .map(|i| format!("eth{i}"))
                            .find(|n| !used_if.contains(n))
                            .expect("a free name");
                        used_if.push(n.clone());
                        n
                    },
                    ports: published,
                });
                if !self.save_endpoint(&rec.id, &net.id, &ep)? {
                    return Err(EngineError::InvalidParameter(format!(
                        "Address already in use: {ip}"
                    )));
                }
                st.eps.insert((rec.id.clone(), net.id.clone()), ep);
            }
            Ok(())
        })();
        if let Err(e) = result {
            // Only what this call allocated: a live `connect` keeps the running endpoints.
            let new: Vec<String> = self
                .networks
                .st()
                .container_eps(&rec.id)
                .into_iter()
                .filter(|(n, e)| e.active.is_some() && !was_active.contains(&n.id))
                .map(|(n, _)| n.id)
                .collect();
            for nid in new {
                self.net_release_where(&rec.id, Some(&nid)).await;
            }
            return Err(e);
        }
        Ok(())
    }

    /// `/etc/hosts` and `/etc/resolv.conf` for the container (None: networking disabled or
    /// host mode — the caller keeps its own).
    pub(crate) fn net_files(&self, rec: &Record, hostname: &str) -> Option<(String, String)> {
        let hc = &rec.host_config;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        if let Some(other) = container_mode(hc) {
            let o = self.container(&other).ok()?;
            let dir = self.container_dir(&o.id);
            return Some((
                std::fs::read_to_string(dir.join("hosts")).unwrap_or_default(),
                std::fs::read_to_string(dir.join("resolv.conf")).unwrap_or_default(),
            ));
        }
        if mode_of(hc) == "host" {
            return None;
        }
        let st = self.networks.st();
        let gw = st
            .nets
            .values()
            .find(|n| n.default_bridge)
            .and_then(|n| n.gateway);
        let extra = files::extra_hosts(hc, gw);
        let eps = st.container_eps(&rec.id);
        let ip = eps
            .iter()
            .find_map(|(_, e)| e.active.as_ref().map(|a| a.ip));
        let embedded = eps.iter().any(|(n, _)| n.is_bridge() && !n.default_bridge);
        let on_default = eps
            .iter()
            .any(|(n, e)| n.default_bridge && e.active.is_some());
        drop(st);
        // Legacy links (HostConfig.Links on the default bridge) are hosts entries: "alias
        // hostname [name]" at the target's default-bridge address, as docker's addLegacyLinks.
        // On a user network a link is a DNS alias of this container instead (start_dns).
        let mut links = Vec::new();
        if on_default && mode_of(hc) == "bridge" {
            for (target, alias) in legacy_links(hc) {
                let Some((c, ip)) = self.bridge_address(&target) else {
                    continue;
                };
                let r = c.snapshot();
                if r.id == rec.id {
                    continue;
                }
                let cname = r.name.trim_start_matches('/');
                let mut names = vec![alias.clone()];
                names.push(
                    r.config["Hostname"]
                        .as_str()
                        .unwrap_or(&r.id[..12])
                        .to_string(),
                );
                if alias != cname {
                    names.push(cname.to_string());
                }
                links.push((ip, names.join(" ")));
            }
        }
        if !self.net_enabled() && mode_of(hc) != "none" {
            return None;
        }
        let domain = rec.config["Domainname"].as_str().unwrap_or("");
        Some((
            files::hosts(hostname, domain, ip, &extra, &links),
            files::resolv_conf(&host_resolv, hc, embedded),
        ))
    }

    /// `container:<x>`: the network namespace of the other (running) container.
    pub(crate) fn net_spec(&self, rec: &Record, spec: &mut Value) -> Result<()> {
        let Some(other) = container_mode(&rec.host_config) else {
            return Ok(());
        };
        let o = self.container(&other)?;
        let (running, pid, oid) = {
            let r = o.rec();
            (r.state.running, r.state.pid, r.id.clone())
        };
        if !running || pid <= 0 {
            return Err(EngineError::Conflict(format!(
                "cannot join network namespace of a non running container: container {oid} is exited"
            )));
        }
        if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
            ns.push(json!({"type": "network", "path": format!("/proc/{pid}/ns/net")}));
        }
        Ok(())
    }

    /// Connects the container's active endpoints to its init's namespace (between the shim's
    /// create and start). On failure the caller stops the shim and calls [`Engine::net_release`].
    pub(crate) async fn net_attach(self: &Arc<Self>, rec: &Record, pid: i64) -> Result<()> {
        if !self.net_enabled() || pid <= 0 {
            return Ok(());
        }
        let t0 = std::time::Instant::now();
        let eps = self.networks.st().container_eps(&rec.id);
        let mtu = self.networks.opts.mtu;
        let mut with_ports = false;
        let mut user_nets = Vec::new();
        // One default route: the first network with a gateway has it, as in docker.
        let mut routed = eps.iter().any(|(_, e)| {
            e.active
                .as_ref()
                .is_some_and(|a| !a.host_ifname.is_empty() && a.gateway.is_some())
        });
        for (net, ep) in eps {
            let Some(a) = ep.active.clone() else { continue };
            if !a.host_ifname.is_empty() {
                continue;
            }
            let route = if routed { None } else { a.gateway };
            routed |= route.is_some();
            let mut req =
                AttachRequest::new(Netns::Pid(pid as u32), &net.bridge, a.ip, a.prefix, route);
            req.mac = parse_mac(&a.mac);
            req.mtu = net
                .options
                .get("com.docker.network.driver.mtu")
                .and_then(|m| m.parse().ok())
                .unwrap_or(mtu);
            req.ifname = a.ifname.clone();
            let ep_done = pier_network::attach(&req).await.map_err(net_err)?;
            with_ports |= !a.ports.is_empty();
            if !net.default_bridge {
                user_nets.push((net.clone(), ep.clone(), a.ip));
            }
            let mut st = self.networks.st();
            if let Some(e) = st.eps.get_mut(&(rec.id.clone(), net.id.clone())) {
                if let Some(act) = e.active.as_mut() {
                    act.host_ifname = ep_done.host_ifname.clone();
                }
                let e = e.clone();
                drop(st);
                self.save_endpoint(&rec.id, &net.id, &e)?;
            }
        }
        if with_ports {
            self.apply_rules(true).await?;
        }
        if !user_nets.is_empty() {
            self.register_dns(rec, &user_nets);
            self.start_dns(rec, pid)?;
        }
        tracing::debug!(id = %rec.id, us = t0.elapsed().as_micros() as u64, "endpoints attached");
        Ok(())
    }

    fn dns_names(rec: &Record, ep: &EpRec) -> Vec<String> {
        let mut names = vec![rec.name.trim_start_matches('/').to_string()];
        names.extend(ep.aliases.iter().cloned());
        names.push(rec.id[..12].to_string());
        names
    }

    fn register_dns(&self, rec: &Record, nets: &[(NetRec, EpRec, Ipv4Addr)]) {
        for (net, ep, ip) in nets {
            for n in Self::dns_names(rec, ep) {
                self.networks.dns.add(&net.id, &n, *ip);
            }
        }
    }

    /// Starts (or restarts) the embedded DNS listener in the container's namespace.
    pub(crate) fn start_dns(self: &Arc<Self>, rec: &Record, pid: i64) -> Result<()> {
        let eps: Vec<(NetRec, EpRec)> = self
            .networks
            .st()
            .container_eps(&rec.id)
            .into_iter()
            .filter(|(n, e)| n.is_bridge() && !n.default_bridge && e.active.is_some())
            .collect();
        let nets: Vec<String> = eps.iter().map(|(n, _)| n.id.clone()).collect();
        let names: Vec<(String, String)> = eps
            .iter()
            .map(|(n, _)| (n.id.clone(), n.name.clone()))
            .collect();
        // The endpoint's `Links` (EndpointsConfig / `network connect --link`): this container's
        // own DNS aliases on that network, as libnetwork's CreateOptionAlias.
        let links: Vec<LinkAlias> = eps
            .iter()
            .flat_map(|(n, e)| {
                e.links.iter().filter_map(|l| {
                    let (target, alias) = files::parse_link(l).ok()?;
                    Some(LinkAlias {
                        network: n.id.clone(),
                        alias,
                        target,
                    })
                })
            })
            .collect();
        let mut tasks = self
            .networks
            .dns_tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((r, _)) = tasks.get(&rec.id) {
            r.set_networks(nets);
            r.set_network_names(names);
            r.set_links(links);
            return Ok(());
        }
        if nets.is_empty() {
            return Ok(());
        }
        let resolver = Arc::new(Resolver::new(
            self.networks.dns.clone(),
            nets,
            files::dns_upstreams(&rec.host_config),
        ));
        resolver.set_network_names(names);
        resolver.set_links(links);
        let task = tokio::task::block_in_place(|| {
            listen_in_netns(&Netns::Pid(pid as u32), EMBEDDED_DNS, resolver.clone())
        })
        .map_err(net_err)?;
        let handle = tokio::spawn(async move {
            if let Ok(Err(e)) = task.await {
                tracing::debug!(error = %e, "embedded DNS stopped");
            }
        });
        tasks.insert(rec.id.clone(), (resolver, handle));
        Ok(())
    }

    /// After a pierd restart: the DNS listener and names of a running container.
    pub(crate) fn net_recover(self: &Arc<Self>, rec: &Record) {
        if !self.net_enabled() || !rec.state.running {
            return;
        }
        let user_nets: Vec<(NetRec, EpRec, Ipv4Addr)> = self
            .networks
            .st()
            .container_eps(&rec.id)
            .into_iter()
            .filter(|(n, _)| n.is_bridge() && !n.default_bridge)
            .filter_map(|(n, e)| {
                let ip = e.active.as_ref()?.ip;
                Some((n, e, ip))
            })
            .collect();
        if user_nets.is_empty() {
            return;
        }
        self.register_dns(rec, &user_nets);
        if let Err(e) = self.start_dns(rec, rec.state.pid) {
            tracing::warn!(id = %rec.id, error = %e, "embedded DNS not restarted");
        }
    }

    fn stop_dns(&self, cid: &str) {
        if let Some((_, h)) = self
            .networks
            .dns_tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(cid)
        {
            h.abort();
        }
    }

    /// Releases what the container's endpoints hold while it runs (exit, failed start).
    pub(crate) async fn net_release(self: &Arc<Self>, cid: &str) {
        self.net_release_where(cid, None).await
    }

    /// [`Engine::net_release`] of all the container's endpoints, or of the one on `only`.
    pub(crate) async fn net_release_where(self: &Arc<Self>, cid: &str, only: Option<&str>) {
        if !self.net_enabled() {
            return;
        }
        if only.is_none() {
            self.stop_dns(cid);
        }
        let mut veths = Vec::new();
        let mut had_ports = false;
        {
            let mut st = self.networks.st();
            let keys: Vec<(String, String)> = st
                .eps
                .keys()
                .filter(|(c, n)| c == cid && only.is_none_or(|o| o == n))
                .cloned()
                .collect();
            for k in keys {
                let ep = st.eps.get(&k).cloned().expect("key");
                let Some(a) = ep.active.clone() else { continue };
                if let Some(ipam) = st.ipams.get_mut(&k.1) {
                    ipam.release(a.ip);
                }
                self.networks.dns.remove_ip(&k.1, a.ip);
                had_ports |= !a.ports.is_empty();
                if !a.host_ifname.is_empty() {
                    veths.push(Endpoint {
                        host_ifname: a.host_ifname.clone(),
                        ifname: a.ifname.clone(),
                        bridge: String::new(),
                        ip: a.ip,
                        prefix: a.prefix,
                        gateway: a.gateway,
                        mac: a.mac.clone(),
                    });
                }
                let mut ep = ep;
                ep.active = None;
                ep.endpoint_id.clear();
                // Recorded before the lock is let go: the address is free in the IPAM from here
                // on, and a concurrent start that takes it must find the row released too (the
                // store's UNIQUE (network, ip) index would refuse it otherwise).
                if let Err(e) = self.save_endpoint(cid, &k.1, &ep) {
                    tracing::warn!(%cid, error = %e, "endpoint release not recorded");
                }
                st.eps.insert(k, ep);
            }
        }
        if had_ports {
            // Off the exit path (`run --rm` waits for it): applies are serialized and each
            // renders the state current at its turn, so the last one is always up to date.
            let e = self.clone();
            let cid = cid.to_string();
            tokio::spawn(async move {
                if let Err(err) = e.apply_rules(true).await {
                    tracing::warn!(%cid, error = %err, "packet filter rules not updated");
                }
            });
        }
        if only.is_some() {
            // A live disconnect: the namespace stays, so the pair must go now.
            for v in &veths {
                let _ = pier_network::detach(v).await;
            }
            return;
        }
        if !veths.is_empty() {
            // The pair usually died with the namespace; deleting it costs ~20 ms of kernel time,
            // so it is not awaited.
            tokio::spawn(async move {
                for v in veths {
                    let _ = pier_network::detach(&v).await;
                }
            });
        }
    }

    /// Deletes the container's endpoint rows (remove).
    pub(crate) async fn net_forget(self: &Arc<Self>, cid: &str) {
        self.net_release(cid).await;
        self.networks.st().eps.retain(|(c, _), _| c != cid);
        if let Err(e) = self.store.delete_container_endpoints(cid) {
            tracing::warn!(%cid, error = %e, "endpoint rows not deleted");
        }
    }

    fn endpoint_json(&self, rec: &Record, net: &NetRec, ep: &EpRec) -> Value {
        let a = ep.active.as_ref();
        let user = net.is_bridge() && !net.default_bridge;
        let ipam = if ep.req_ip.is_some() {
            json!({"IPv4Address": ep.req_ip.map(|i| i.to_string()).unwrap_or_default()})
        } else {
            Value::Null
        };
        json!({
            "IPAMConfig": ipam,
            "Links": if ep.links.is_empty() { Value::Null } else { json!(ep.links) },
            "Aliases": if ep.aliases.is_empty() { Value::Null } else { json!(ep.aliases) },
            "MacAddress": a.map(|a| a.mac.clone()).unwrap_or_default(),
            "DriverOpts": null,
            "GwPriority": 0,
            "NetworkID": net.id,
            "EndpointID": a.map(|_| ep.endpoint_id.clone()).unwrap_or_default(),
            "Gateway": a.and_then(|a| a.gateway).map(|g| g.to_string()).unwrap_or_default(),
            "IPAddress": a.map(|a| a.ip.to_string()).unwrap_or_default(),
            "IPPrefixLen": a.map(|a| a.prefix).unwrap_or(0),
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": if user && a.is_some() { json!(Self::dns_names(rec, ep)) } else { Value::Null },
        })
    }

    /// docker's `NetworkSettings` of inspect.
    pub(crate) fn net_settings(&self, rec: &Record) -> Value {
        let st = self.networks.st();
        let eps = st.container_eps(&rec.id);
        drop(st);
        let mut networks = serde_json::Map::new();
        let mut top = json!({"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""});
        let mut published: Vec<Published> = Vec::new();
        for (net, ep) in &eps {
            let v = self.endpoint_json(rec, net, ep);
            if net.default_bridge {
                for k in [
                    "EndpointID",
                    "Gateway",
                    "IPAddress",
                    "IPPrefixLen",
                    "MacAddress",
                ] {
                    top[k] = v[k].clone();
                }
            }
            if let Some(a) = &ep.active {
                published.extend(a.ports.iter().cloned());
            }
            networks.insert(net.name.clone(), v);
        }
        let mode = mode_of(&rec.host_config);
        if eps.is_empty()
            && container_mode(&rec.host_config).is_none()
            && !self.net_enabled()
            && mode != "bridge"
            && mode != "none"
        {
            networks.insert(mode.clone(), json!({
                "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "", "DriverOpts": null,
                "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "DNSNames": null,
            }));
        }
        let running = rec.state.running;
        let ports = if running && mode != "host" && container_mode(&rec.host_config).is_none() {
            ports::settings_ports(&ports::exposed(&rec.config, &rec.host_config), &published)
        } else {
            json!({})
        };
        let sandbox = if running && rec.state.pid > 0 {
            format!("/proc/{}/ns/net", rec.state.pid)
        } else {
            String::new()
        };
        json!({
            "Bridge": "", "SandboxID": if running { rec.id.clone() } else { String::new() },
            "SandboxKey": sandbox, "Ports": ports,
            "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": top["EndpointID"], "Gateway": top["Gateway"],
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": top["IPAddress"], "IPPrefixLen": top["IPPrefixLen"],
            "IPv6Gateway": "", "MacAddress": top["MacAddress"],
            "Networks": networks,
        })
    }

    /// `Ports` and `NetworkSettings` of `GET /containers/json`.
    pub(crate) fn net_summary(&self, rec: &Record) -> (Value, Value) {
        let s = self.net_settings(rec);
        let st = self.networks.st();
        let published: Vec<Published> = st
            .container_eps(&rec.id)
            .into_iter()
            .filter_map(|(_, e)| e.active)
            .flat_map(|a| a.ports)
            .collect();
        drop(st);
        let ports = if rec.state.running {
            ports::summary_ports(&ports::exposed(&rec.config, &rec.host_config), &published)
        } else {
            ports::summary_ports(&ports::exposed(&rec.config, &rec.host_config), &[])
        };
        (ports, json!({"Networks": s["Networks"]}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn net(name: &str, default_bridge: bool) -> NetRec {
        NetRec {
            id: format!("{name}0123456789"),
            name: name.into(),
            driver: "bridge".into(),
            created: String::new(),
            bridge: format!("br-{name}"),
            subnet: Some("10.213.9.0/24".parse().unwrap()),
            gateway: None,
            ip_range: None,
            internal: false,
            attachable: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            default_bridge,
        }
    }

    #[test]
    fn endpoint_config_follows_docker() {
        let user = net("n1", false);
        let ep = ep_from_config(
            &user,
            &json!({"IPAMConfig": {"IPv4Address": "10.213.9.7"}, "Aliases": ["web"], "MacAddress": "02:42:aa:bb:cc:dd"}),
            1,
        )
        .unwrap();
        assert_eq!(ep.req_ip, Some(Ipv4Addr::new(10, 213, 9, 7)));
        assert_eq!(ep.aliases, vec!["web"]);
        assert_eq!(ep.seq, 1);
        let e = ep_from_config(
            &user,
            &json!({"IPAMConfig": {"IPv4Address": "10.1.1.1"}}),
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no configured subnet"), "{e}");
        assert!(ep_from_config(&user, &json!({"MacAddress": "zz"}), 0).is_err());
        let ep = ep_from_config(&user, &json!({"Links": ["srv:db", "other"]}), 0).unwrap();
        assert_eq!(ep.links, vec!["srv:db", "other"]);
        let e = ep_from_config(&user, &json!({"Links": ["a:b:c"]}), 0).unwrap_err();
        assert_eq!(e.to_string(), "bad format for links: a:b:c");
        let bridge = net("bridge", true);
        let e = ep_from_config(&bridge, &json!({"Aliases": ["x"]}), 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "network-scoped alias is supported only for containers in user defined networks"
        );
        let e = ep_from_config(
            &bridge,
            &json!({"IPAMConfig": {"IPv4Address": "10.213.9.7"}}),
            0,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "user specified IP address is supported on user defined networks only"
        );
    }

    #[test]
    fn network_lookup_by_id_name_and_prefix() {
        let mut st = NetState::default();
        for n in [net("alpha", false), net("beta", false)] {
            st.nets.insert(n.id.clone(), n);
        }
        assert_eq!(st.find("alpha").unwrap().name, "alpha");
        assert_eq!(st.find("beta0123456789").unwrap().name, "beta");
        assert_eq!(st.find("bet").unwrap().name, "beta");
        assert_eq!(
            st.find("nope").unwrap_err().to_string(),
            "network nope not found"
        );
    }
}
