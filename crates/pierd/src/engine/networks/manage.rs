//! The `/networks` verbs: create (driver bridge; IPAM subnet/gateway/ip-range, internal,
//! attachable, labels, options incl. the bridge name; an overlapping subnet is docker's 400, a
//! duplicate name its 409), list with docker's filters, inspect (with the attached containers),
//! remove (predefined networks and networks with active endpoints are docker's 403), prune, and
//! connect/disconnect of running or stopped containers. Each publishes docker's network event.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use pier_network::{Ipam, Ipv4Net};
use serde_json::{json, Value};

use super::{ensure_bridge, net_err, new_id, EpRec, NetRec};
use crate::engine::{Engine, EngineError, Result};

impl Engine {
    fn network_event(&self, net: &NetRec, action: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), net.name.clone());
        attrs.insert("type".to_string(), net.driver.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("network", action, &net.id, attrs);
    }

    fn require_networking(&self) -> Result<()> {
        if self.networks.opts.enabled {
            Ok(())
        } else {
            Err(EngineError::NotImplemented(
                "networking is disabled in this pierd".into(),
            ))
        }
    }

    /// `POST /networks/create`: the new network's ID.
    pub async fn create_network(self: &Arc<Self>, body: Value) -> Result<String> {
        self.require_networking()?;
        let name = body["Name"].as_str().unwrap_or("").to_string();
        if name.is_empty() {
            return Err(EngineError::InvalidParameter(
                "invalid network name: network name must not be empty".into(),
            ));
        }
        let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(EngineError::InvalidParameter(format!(
                "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let driver = match body["Driver"].as_str().unwrap_or("") {
            "" | "bridge" => "bridge",
            d => {
                return Err(EngineError::NotImplemented(format!(
                    "pier does not implement the {d:?} network driver (use bridge)"
                )))
            }
        };
        if body["EnableIPv6"].as_bool().unwrap_or(false) {
            return Err(EngineError::NotImplemented(
                "pier does not implement IPv6 networks yet".into(),
            ));
        }
        let mut options: BTreeMap<String, String> = BTreeMap::new();
        if let Some(o) = body["Options"].as_object() {
            for (k, v) in o {
                options.insert(k.clone(), v.as_str().unwrap_or("").to_string());
            }
        }
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        if let Some(o) = body["Labels"].as_object() {
            for (k, v) in o {
                labels.insert(k.clone(), v.as_str().unwrap_or("").to_string());
            }
        }
        let cfg = body["IPAM"]["Config"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|c| !c["Subnet"].as_str().unwrap_or("").contains(':'))
            })
            .cloned()
            .unwrap_or(Value::Null);
        let parse_net = |k: &str| -> Result<Option<Ipv4Net>> {
            match cfg[k].as_str().filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => s.parse::<Ipv4Net>().map(Some).map_err(|_| {
                    EngineError::InvalidParameter(format!("invalid CIDR address: {s}"))
                }),
            }
        };
        let subnet = parse_net("Subnet")?;
        let ip_range = parse_net("IPRange")?;
        let gateway = match cfg["Gateway"].as_str().filter(|s| !s.is_empty()) {
            None => None,
            Some(g) => Some(g.parse::<Ipv4Addr>().map_err(|_| {
                EngineError::InvalidParameter(format!("invalid gateway address: {g}"))
            })?),
        };
        if subnet.is_none() && (gateway.is_some() || ip_range.is_some()) {
            return Err(EngineError::InvalidParameter(
                "invalid pool request: a gateway or ip-range needs a subnet".into(),
            ));
        }
        let id = new_id();
        let host_nets = pier_network::host_ipv4_networks().await.map_err(net_err)?;
        let rec = {
            let st = self.networks.st();
            if st.nets.values().any(|n| n.name == name) {
                return Err(EngineError::Conflict(format!(
                    "network with name {name} already exists"
                )));
            }
            let used: Vec<Ipv4Net> = st.nets.values().filter_map(|n| n.subnet).collect();
            let subnet = match subnet {
                Some(s) => {
                    pier_network::check_overlap(&s.trunc(), used.iter()).map_err(|e| {
                        EngineError::InvalidParameter(format!("invalid pool request: {e}"))
                    })?;
                    s.trunc()
                }
                None => {
                    let mut all = used.clone();
                    all.extend(host_nets.iter().map(|h| h.trunc()));
                    self.networks
                        .opts
                        .pools
                        .iter()
                        .find_map(|(p, size)| pier_network::next_free_subnet(p, *size, &all))
                        .ok_or_else(|| {
                            EngineError::System(
                                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                            )
                        })?
                }
            };
            // Validates gateway and range against the subnet.
            Ipam::new(subnet, gateway, ip_range).map_err(net_err)?;
            let bridge = options
                .get("com.docker.network.bridge.name")
                .cloned()
                .unwrap_or_else(|| format!("br-{}", &id[..12]));
            if bridge.is_empty() || bridge.len() > 15 {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid bridge name {bridge:?} (1-15 bytes)"
                )));
            }
            if st.nets.values().any(|n| n.bridge == bridge) {
                return Err(EngineError::Conflict(format!(
                    "bridge name {bridge} is already used by another network"
                )));
            }
            NetRec {
                id: id.clone(),
                name: name.clone(),
                driver: driver.into(),
                created: super::super::containers::now_rfc3339(),
                bridge,
                subnet: Some(subnet),
                gateway: Some(gateway.unwrap_or_else(|| subnet.first_host())),
                ip_range,
                internal: body["Internal"].as_bool().unwrap_or(false),
                attachable: body["Attachable"].as_bool().unwrap_or(false),
                labels,
                options,
                default_bridge: false,
            }
        };
        let text = serde_json::to_string(&rec).expect("json");
        if !self.store.insert_network(&id, &name, &text)? {
            return Err(EngineError::Conflict(format!(
                "network with name {name} already exists"
            )));
        }
        if let Err(e) = ensure_bridge(&rec, self.networks.opts.mtu).await {
            let _ = pier_network::Bridge::remove(&rec.bridge).await;
            let _ = self.store.delete_network(&id);
            return Err(e);
        }
        {
            let mut st = self.networks.st();
            let ipam = Ipam::new(rec.subnet.expect("subnet"), rec.gateway, rec.ip_range)
                .map_err(net_err)?;
            st.ipams.insert(id.clone(), ipam);
            st.nets.insert(id.clone(), rec.clone());
        }
        self.apply_rules(false).await?;
        self.network_event(&rec, "create", &[]);
        Ok(id)
    }

    fn network_json(&self, n: &NetRec, with_containers: bool) -> Value {
        let mut containers = serde_json::Map::new();
        if with_containers {
            let st = self.networks.st();
            for ((cid, nid), ep) in &st.eps {
                if nid != &n.id {
                    continue;
                }
                let Some(a) = &ep.active else { continue };
                let name = self
                    .container(cid)
                    .map(|c| c.rec().name.trim_start_matches('/').to_string())
                    .unwrap_or_default();
                containers.insert(
                    cid.clone(),
                    json!({"Name": name, "EndpointID": ep.endpoint_id, "MacAddress": a.mac,
                        "IPv4Address": format!("{}/{}", a.ip, a.prefix), "IPv6Address": ""}),
                );
            }
        }
        let config: Vec<Value> = match n.subnet {
            Some(s) => {
                let mut c = json!({"Subnet": s.trunc().to_string()});
                if let Some(r) = n.ip_range {
                    c["IPRange"] = json!(r.to_string());
                }
                if let Some(g) = n.gateway {
                    c["Gateway"] = json!(g.to_string());
                }
                vec![c]
            }
            None => Vec::new(),
        };
        json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": n.driver,
            "EnableIPv4": true,
            "EnableIPv6": false,
            "IPAM": {"Driver": "default", "Options": if n.default_bridge { Value::Null } else { json!({}) }, "Config": config},
            "Internal": n.internal,
            "Attachable": n.attachable,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": n.options,
            "Labels": n.labels,
        })
    }

    /// `GET /networks/{id}`.
    pub fn inspect_network(&self, name: &str) -> Result<Value> {
        self.require_networking()?;
        let n = self.networks.st().find(name)?;
        Ok(self.network_json(&n, true))
    }

    fn in_use(&self, nid: &str, active_only: bool) -> Option<(String, String)> {
        let st = self.networks.st();
        st.eps
            .iter()
            .find(|((_, n), ep)| n == nid && (!active_only || ep.active.is_some()))
            .map(|((c, _), _)| {
                let name = self
                    .container(c)
                    .map(|x| x.rec().name.trim_start_matches('/').to_string())
                    .unwrap_or_default();
                (name, c[..12.min(c.len())].to_string())
            })
    }

    /// `GET /networks`: docker's filters name (substring), id (prefix), driver, label, type
    /// (custom/builtin), dangling, scope.
    pub fn list_networks(&self, filters: &BTreeMap<String, Vec<String>>) -> Result<Vec<Value>> {
        self.require_networking()?;
        for k in filters.keys() {
            if !matches!(
                k.as_str(),
                "name" | "id" | "driver" | "label" | "type" | "dangling" | "scope"
            ) {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid filter '{k}'"
                )));
            }
        }
        let nets: Vec<NetRec> = self.networks.st().nets.values().cloned().collect();
        let mut out = Vec::new();
        for n in nets {
            let any = |k: &str, f: &dyn Fn(&str) -> bool| {
                filters.get(k).is_none_or(|v| v.iter().any(|x| f(x)))
            };
            if !any("name", &|x| n.name.contains(x)) || !any("id", &|x| n.id.starts_with(x)) {
                continue;
            }
            if !any("driver", &|x| n.driver == x) || !any("scope", &|x| x == "local") {
                continue;
            }
            if !any("type", &|x| match x {
                "custom" => !n.predefined(),
                "builtin" => n.predefined(),
                _ => false,
            }) {
                continue;
            }
            if let Some(ls) = filters.get("label") {
                if !ls.iter().all(|want| match want.split_once('=') {
                    Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
                    None => n.labels.contains_key(want),
                }) {
                    continue;
                }
            }
            if let Some(d) = filters.get("dangling") {
                let want = d.iter().any(|x| x == "true" || x == "1");
                let dangling = !n.predefined() && self.in_use(&n.id, false).is_none();
                if want != dangling {
                    continue;
                }
            }
            out.push(self.network_json(&n, false));
        }
        Ok(out)
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove_network(self: &Arc<Self>, name: &str) -> Result<()> {
        self.require_networking()?;
        let n = self.networks.st().find(name)?;
        if n.predefined() {
            return Err(EngineError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        if let Some((cname, cid)) = self.in_use(&n.id, true) {
            return Err(EngineError::Forbidden(format!(
                "error while removing network: network {} has active endpoints (name:\"{cname}\" id:\"{cid}\")",
                n.name
            )));
        }
        self.store.delete_network(&n.id)?;
        {
            let mut st = self.networks.st();
            st.nets.remove(&n.id);
            st.ipams.remove(&n.id);
            st.eps.retain(|(_, nid), _| nid != &n.id);
        }
        self.networks.dns.remove_network(&n.id);
        self.apply_rules(false).await?;
        if n.is_bridge() {
            pier_network::Bridge::remove(&n.bridge)
                .await
                .map_err(net_err)?;
        }
        self.network_event(&n, "destroy", &[]);
        Ok(())
    }

    /// `POST /networks/prune`: removes user networks no container uses; their names.
    pub async fn prune_networks(
        self: &Arc<Self>,
        filters: &BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<String>> {
        self.require_networking()?;
        let nets: Vec<NetRec> = self.networks.st().nets.values().cloned().collect();
        let mut out = Vec::new();
        for n in nets {
            if n.predefined() || self.in_use(&n.id, false).is_some() {
                continue;
            }
            if let Some(ls) = filters.get("label") {
                if !ls.iter().all(|want| match want.split_once('=') {
                    Some((k, v)) => n.labels.get(k).is_some_and(|x| x == v),
                    None => n.labels.contains_key(want),
                }) {
                    continue;
                }
            }
            if self.remove_network(&n.id).await.is_ok() {
                out.push(n.name.clone());
            }
        }
        Ok(out)
    }

    /// `POST /networks/{id}/connect`.
    pub async fn connect_network(self: &Arc<Self>, name: &str, body: &Value) -> Result<()> {
        self.require_networking()?;
        let net = self.networks.st().find(name)?;
        let cname = body["Container"].as_str().unwrap_or("");
        let c = self.container(cname)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if super::endpoints::container_mode(&rec.host_config).is_some() {
            return Err(EngineError::Forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network".into(),
            ));
        }
        let mode = rec.host_config["NetworkMode"].as_str().unwrap_or("");
        if !net.is_bridge() || mode == "host" || mode == "none" {
            return Err(EngineError::Forbidden(
                "container cannot be disconnected from host network or connected to host network"
                    .into(),
            ));
        }
        let seq = {
            let st = self.networks.st();
            if st.eps.contains_key(&(rec.id.clone(), net.id.clone())) {
                return Err(EngineError::Forbidden(format!(
                    "endpoint with name {} already exists in network {}",
                    rec.name.trim_start_matches('/'),
                    net.name
                )));
            }
            st.next_seq(&rec.id)
        };
        let ep: EpRec = super::endpoints::ep_from_config(&net, &body["EndpointConfig"], seq)?;
        self.save_endpoint(&rec.id, &net.id, &ep)?;
        self.networks
            .st()
            .eps
            .insert((rec.id.clone(), net.id.clone()), ep);
        if rec.state.running {
            let live = async {
                self.net_prepare(&rec).await?;
                self.net_attach(&rec, rec.state.pid).await?;
                self.start_dns(&rec, rec.state.pid)
            };
            if let Err(e) = live.await {
                self.net_release_where(&rec.id, Some(&net.id)).await;
                self.networks
                    .st()
                    .eps
                    .remove(&(rec.id.clone(), net.id.clone()));
                let _ = self.store.delete_endpoint(&rec.id, &net.id);
                return Err(e);
            }
        }
        self.network_event(&net, "connect", &[("container", rec.id.clone())]);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(self: &Arc<Self>, name: &str, body: &Value) -> Result<()> {
        self.require_networking()?;
        let net = self.networks.st().find(name)?;
        let cname = body["Container"].as_str().unwrap_or("");
        let c = match self.container(cname) {
            Ok(c) => c,
            Err(e) => {
                if body["Force"].as_bool().unwrap_or(false) {
                    return Ok(());
                }
                return Err(e);
            }
        };
        let rec = c.snapshot();
        let key = (rec.id.clone(), net.id.clone());
        if !self.networks.st().eps.contains_key(&key) {
            return Err(EngineError::Forbidden(format!(
                "container {} is not connected to network {}",
                rec.id, net.name
            )));
        }
        self.net_release_where(&rec.id, Some(&net.id)).await;
        self.networks.st().eps.remove(&key);
        self.store.delete_endpoint(&rec.id, &net.id)?;
        if rec.state.running {
            let _ = self.start_dns(&rec, rec.state.pid);
        }
        self.network_event(&net, "disconnect", &[("container", rec.id.clone())]);
        Ok(())
    }
}
