//! The embedded DNS server of user-defined networks (docker answers at 127.0.0.11 inside each
//! container). A [`DnsTable`] (one per daemon, shared) holds the names registered per network:
//! container names, network aliases, short IDs. A [`Resolver`] is one container's view: the
//! networks it is attached to, its own `--link` aliases ([`LinkAlias`], seen by no other
//! container), and the upstream servers (the host's `/etc/resolv.conf`). A name is looked up as
//! libnetwork's sandbox does: first as a link alias (the target's addresses on the link's
//! network), then among the registered names of the networks where it is not a link alias; and
//! `name.network` on the network of that name ([`Resolver::set_network_names`]).
//! [`Resolver::handle`] answers A queries for known names itself (TTL 600, as docker), answers
//! other types for registered names with an empty NOERROR, PTR queries for registered addresses
//! with the address's first registered name, and forwards every other query unchanged
//! to the upstreams; with no upstream it answers NXDOMAIN, when all upstreams fail SERVFAIL.
//!
//! Forwarding sockets are created by the task running the resolver, i.e. in pierd's (the host's)
//! namespace, so host-loopback resolvers such as systemd-resolved's 127.0.0.53 work too.
//! [`listen_in_netns`] binds 127.0.0.11:53 (UDP and TCP) inside a container namespace (a socket created after
//! `setns` on a namespace thread) and serves it on the caller's tokio runtime.
//!
//! Messages are parsed by a small hand parser (header + one question), not hickory-proto: the
//! server only needs the question of a query and builds A answers; forwarded traffic is relayed
//! byte for byte, so a full DNS library would be weight without use.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::error::{io_err, NetError, Result};
use crate::netns::Netns;

const TYPE_A: u16 = 1;
const TYPE_ANY: u16 = 255;
const TYPE_PTR: u16 = 12;
const CLASS_IN: u16 = 1;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_NXDOMAIN: u8 = 3;
const TTL: u32 = 600;

/// Names registered per network, in registration order (the first name of an address is what
/// reverse lookups return, so pierd registers the container name before its aliases). Names are
/// case-insensitive; a name may map to several addresses.
#[derive(Debug, Default)]
pub struct DnsTable {
    inner: RwLock<HashMap<String, Vec<(String, Ipv4Addr)>>>,
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsTable {
    pub fn new() -> Arc<DnsTable> {
        Arc::new(DnsTable::default())
    }

    /// Registers `name` → `ip` on `network` (idempotent).
    pub fn add(&self, network: &str, name: &str, ip: Ipv4Addr) {
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let entries = g.entry(network.to_string()).or_default();
        let entry = (norm(name), ip);
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }

    /// Removes one registration.
    pub fn remove(&self, network: &str, name: &str, ip: Ipv4Addr) {
        let key = norm(name);
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entries) = g.get_mut(network) {
            entries.retain(|(n, i)| !(*n == key && *i == ip));
        }
    }

    /// Removes every name of `ip` on `network` (a container leaving it).
    pub fn remove_ip(&self, network: &str, ip: Ipv4Addr) {
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entries) = g.get_mut(network) {
            entries.retain(|(_, i)| *i != ip);
        }
    }

    /// Drops a whole network.
    pub fn remove_network(&self, network: &str) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(network);
    }

    /// Addresses of `name` on any of `networks` (in network order, no duplicates).
    pub fn lookup(&self, networks: &[String], name: &str) -> Vec<Ipv4Addr> {
        let g = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let key = norm(name);
        let mut out = Vec::new();
        for n in networks {
            for (_, ip) in g.get(n).into_iter().flatten().filter(|(nm, _)| *nm == key) {
                if !out.contains(ip) {
                    out.push(*ip);
                }
            }
        }
        out
    }

    /// The first name registered for `ip` on any of `networks` (reverse lookup).
    pub fn reverse(&self, networks: &[String], ip: Ipv4Addr) -> Option<String> {
        let g = self.inner.read().unwrap_or_else(|e| e.into_inner());
        networks.iter().find_map(|n| {
            g.get(n)
                .into_iter()
                .flatten()
                .find(|(_, i)| *i == ip)
                .map(|(nm, _)| nm.clone())
        })
    }
}

/// The address of an `in-addr.arpa` name (`4.3.2.1.in-addr.arpa` → 1.2.3.4).
pub fn parse_reverse_name(name: &str) -> Option<Ipv4Addr> {
    let rest = norm(name);
    let rest = rest.strip_suffix(".in-addr.arpa")?;
    let parts: Vec<u8> = rest
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (parts.len() == 4).then(|| Ipv4Addr::new(parts[3], parts[2], parts[1], parts[0]))
}

/// Builds a response to `query` with one PTR answer pointing at `target`.
pub fn build_ptr_response(query: &[u8], q: &Question, target: &str) -> Vec<u8> {
    let mut out = build_response(query, q, 0, &[]);
    out[7] = 1; // ancount = 1
    let mut rdata = Vec::new();
    for l in target.split('.').filter(|l| !l.is_empty()) {
        let l = &l.as_bytes()[..l.len().min(63)];
        rdata.push(l.len() as u8);
        rdata.extend_from_slice(l);
    }
    rdata.push(0);
    out.extend_from_slice(&[0xC0, 0x0C]);
    out.extend_from_slice(&TYPE_PTR.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&TTL.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    out
}

/// Upstream servers from resolv.conf text (`nameserver` lines, port 53).
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == "nameserver").then_some(())?;
            let ip: std::net::IpAddr = it.next()?.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// The host's upstream resolvers, from `/etc/resolv.conf` (empty if unreadable).
pub fn host_upstreams() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| upstreams_from_resolv_conf(&t))
        .unwrap_or_default()
}

/// A parsed query: id, flags, the question's name and type, and where the question ends.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    pub flags: u16,
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Byte offset just past the question section.
    pub end: usize,
}

/// Parses the header and first question of a DNS message.
pub fn parse_question(msg: &[u8]) -> Result<Question> {
    let bad = |why: &str| NetError::Dns(format!("malformed query: {why}"));
    if msg.len() < 12 {
        return Err(bad("short header"));
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if qdcount != 1 {
        return Err(bad("qdcount != 1"));
    }
    let mut pos = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *msg.get(pos).ok_or_else(|| bad("name runs past the end"))? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len & 0xC0 != 0 {
            return Err(bad("compressed name in question"));
        }
        let label = msg
            .get(pos..pos + len)
            .ok_or_else(|| bad("label runs past the end"))?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        pos += len;
    }
    let tail = msg.get(pos..pos + 4).ok_or_else(|| bad("no type/class"))?;
    Ok(Question {
        id,
        flags,
        name: labels.join("."),
        qtype: u16::from_be_bytes([tail[0], tail[1]]),
        qclass: u16::from_be_bytes([tail[2], tail[3]]),
        end: pos + 4,
    })
}

/// Builds a response to `query` (whose question is `q`) with `answers` as A records.
pub fn build_response(query: &[u8], q: &Question, rcode: u8, answers: &[Ipv4Addr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.end + answers.len() * 16);
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR=1, opcode and RD copied, RA=1, rcode.
    let flags = 0x8000 | (q.flags & 0x7900) | 0x0080 | u16::from(rcode & 0x0F);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..q.end]);
    for ip in answers {
        out.extend_from_slice(&[0xC0, 0x0C]); // pointer to the question's name
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// A container's `--link target:alias` on one network (docker's endpoint alias): only that
/// container resolves `alias`, to `target`'s addresses on `network`; a target not (or no
/// longer) on that network leaves the alias unresolved there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAlias {
    pub network: String,
    pub alias: String,
    pub target: String,
}

/// One container's resolver (see the module doc).
#[derive(Debug)]
pub struct Resolver {
    table: Arc<DnsTable>,
    networks: RwLock<Vec<String>>,
    links: RwLock<Vec<LinkAlias>>,
    net_names: RwLock<HashMap<String, String>>,
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
}

impl Resolver {
    pub fn new(
        table: Arc<DnsTable>,
        networks: Vec<String>,
        upstreams: Vec<SocketAddr>,
    ) -> Resolver {
        Resolver {
            table,
            networks: RwLock::new(networks),
            links: RwLock::new(Vec::new()),
            net_names: RwLock::new(HashMap::new()),
            upstreams,
            timeout: Duration::from_secs(2),
        }
    }

    /// Per-upstream timeout for forwarded queries (default 2 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Resolver {
        self.timeout = timeout;
        self
    }

    /// Replaces the networks this container resolves on (`network connect/disconnect`).
    pub fn set_networks(&self, networks: Vec<String>) {
        *self.networks.write().unwrap_or_else(|e| e.into_inner()) = networks;
    }

    /// Replaces this container's link aliases (start, `network connect --link`).
    pub fn set_links(&self, links: Vec<LinkAlias>) {
        let links = links
            .into_iter()
            .map(|l| LinkAlias {
                alias: norm(&l.alias),
                ..l
            })
            .collect();
        *self.links.write().unwrap_or_else(|e| e.into_inner()) = links;
    }

    /// Names the networks (ID → name) so that `name.network` queries resolve on that network.
    pub fn set_network_names(&self, names: Vec<(String, String)>) {
        *self.net_names.write().unwrap_or_else(|e| e.into_inner()) = names.into_iter().collect();
    }

    /// The addresses of `name` for this container (libnetwork's `Sandbox.ResolveName`): `a.b.c`
    /// on every network, then `a.b` on network `c`, then `a` on network `b.c`; each as a link
    /// alias first, then among the names registered on the networks where it is not a link alias.
    pub fn resolve(&self, name: &str) -> Vec<Ipv4Addr> {
        let full = norm(name);
        let networks = self.networks.read().unwrap_or_else(|e| e.into_inner());
        let names = self.net_names.read().unwrap_or_else(|e| e.into_inner());
        let mut candidates: Vec<(&str, Option<&str>)> = vec![(&full, None)];
        let mut rest = full.as_str();
        while let Some(i) = rest.rfind('.') {
            candidates.push((&full[..i], Some(&full[i + 1..])));
            rest = &full[..i];
        }
        for (req, net_name) in candidates {
            let nets: Vec<String> = networks
                .iter()
                .filter(|id| {
                    net_name
                        .is_none_or(|nn| names.get(*id).is_some_and(|n| n.eq_ignore_ascii_case(nn)))
                })
                .cloned()
                .collect();
            let ips = self.resolve_on(&nets, req);
            if !ips.is_empty() {
                return ips;
            }
        }
        Vec::new()
    }

    /// `key` (normalized) on `networks`: link aliases first, then plain names.
    fn resolve_on(&self, networks: &[String], key: &str) -> Vec<Ipv4Addr> {
        if networks.is_empty() {
            return Vec::new();
        }
        let links = self.links.read().unwrap_or_else(|e| e.into_inner());
        let is_alias_on = |net: &str| links.iter().any(|l| l.network == net && l.alias == key);
        for net in networks {
            for l in links.iter().filter(|l| l.network == *net && l.alias == key) {
                let ips = self.table.lookup(std::slice::from_ref(net), &l.target);
                if !ips.is_empty() {
                    return ips;
                }
            }
        }
        let plain: Vec<String> = networks
            .iter()
            .filter(|n| !is_alias_on(n))
            .cloned()
            .collect();
        self.table.lookup(&plain, key)
    }

    /// The answer from the registered names, or `None` when the query must be forwarded.
    pub fn answer_locally(&self, query: &[u8]) -> Result<Option<Vec<u8>>> {
        let q = parse_question(query)?;
        let opcode = (q.flags >> 11) & 0xF;
        if opcode != 0 || q.qclass != CLASS_IN {
            return Ok(None);
        }
        if q.qtype == TYPE_PTR {
            let networks = self.networks.read().unwrap_or_else(|e| e.into_inner());
            let name = parse_reverse_name(&q.name).and_then(|ip| self.table.reverse(&networks, ip));
            return Ok(name.map(|n| build_ptr_response(query, &q, &n)));
        }
        let ips = self.resolve(&q.name);
        if ips.is_empty() {
            return Ok(None);
        }
        let answers = if q.qtype == TYPE_A || q.qtype == TYPE_ANY {
            ips
        } else {
            Vec::new()
        };
        Ok(Some(build_response(query, &q, 0, &answers)))
    }

    /// Answers or forwards one query; `None` only for a message that is not a parseable query.
    pub async fn handle(&self, query: &[u8]) -> Option<Vec<u8>> {
        self.handle_via(query, false).await
    }

    /// Like [`Resolver::handle`] for a query that came over TCP: forwarded over TCP too, so
    /// answers too large for UDP (truncated, TC) come back whole.
    pub async fn handle_tcp(&self, query: &[u8]) -> Option<Vec<u8>> {
        self.handle_via(query, true).await
    }

    async fn handle_via(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let q = parse_question(query).ok()?;
        if q.flags & 0x8000 != 0 {
            return None; // a response, not a query
        }
        if let Ok(Some(resp)) = self.answer_locally(query) {
            return Some(resp);
        }
        if self.upstreams.is_empty() {
            return Some(build_response(query, &q, RCODE_NXDOMAIN, &[]));
        }
        for up in &self.upstreams {
            let r = if tcp {
                self.forward_tcp(*up, query).await
            } else {
                self.forward(*up, query, q.id).await
            };
            match r {
                Ok(resp) => return Some(resp),
                Err(e) => tracing::debug!("dns forward to {up}: {e}"),
            }
        }
        Some(build_response(query, &q, RCODE_SERVFAIL, &[]))
    }

    async fn forward_tcp(&self, upstream: SocketAddr, query: &[u8]) -> Result<Vec<u8>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let job = async {
            let mut s = tokio::net::TcpStream::connect(upstream)
                .await
                .map_err(io_err(format!("connect tcp {upstream}")))?;
            let mut framed = (query.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(query);
            s.write_all(&framed)
                .await
                .map_err(io_err(format!("send to {upstream}")))?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len)
                .await
                .map_err(io_err(format!("recv from {upstream}")))?;
            let mut resp = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut resp)
                .await
                .map_err(io_err(format!("recv from {upstream}")))?;
            Ok(resp)
        };
        tokio::time::timeout(self.timeout, job)
            .await
            .map_err(|_| NetError::Dns(format!("{upstream}: timeout")))?
    }

    async fn forward(&self, upstream: SocketAddr, query: &[u8], id: u16) -> Result<Vec<u8>> {
        let bind: SocketAddr = if upstream.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .expect("literal");
        let sock = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(io_err("dns forward socket"))?;
        sock.connect(upstream)
            .await
            .map_err(io_err(format!("connect {upstream}")))?;
        sock.send(query)
            .await
            .map_err(io_err(format!("send to {upstream}")))?;
        let mut buf = vec![0u8; 65535];
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
                .await
                .map_err(|_| NetError::Dns(format!("{upstream}: timeout")))?
                .map_err(io_err(format!("recv from {upstream}")))?;
            if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }
}

/// Serves queries on `sock` until it errors; each query is handled on its own task.
pub async fn serve(sock: tokio::net::UdpSocket, resolver: Arc<Resolver>) -> Result<()> {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = sock.recv_from(&mut buf).await.map_err(io_err("dns recv"))?;
        let query = buf[..n].to_vec();
        let (sock, resolver) = (sock.clone(), resolver.clone());
        tokio::spawn(async move {
            if let Some(resp) = resolver.handle(&query).await {
                let _ = sock.send_to(&resp, peer).await;
            }
        });
    }
}

/// Serves DNS over TCP (2-byte length framing) on `listener`; a connection idle for 10 s is closed.
pub async fn serve_tcp(listener: tokio::net::TcpListener, resolver: Arc<Resolver>) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let (mut conn, _) = listener.accept().await.map_err(io_err("dns accept"))?;
        let resolver = resolver.clone();
        tokio::spawn(async move {
            loop {
                let mut len = [0u8; 2];
                let read =
                    tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut len)).await;
                if !matches!(read, Ok(Ok(_))) {
                    return;
                }
                let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                if conn.read_exact(&mut query).await.is_err() {
                    return;
                }
                let Some(resp) = resolver.handle_tcp(&query).await else {
                    return;
                };
                let mut framed = (resp.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&resp);
                if conn.write_all(&framed).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The address docker's embedded DNS answers on.
pub const EMBEDDED_DNS: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(127, 0, 0, 11),
    53,
));

/// Binds `addr` (normally [`EMBEDDED_DNS`]) for UDP and TCP inside `netns` and serves `resolver` there on the
/// current tokio runtime. `lo` must be up in the namespace ([`crate::setup_loopback`] or
/// [`crate::attach`] do it). Abort the returned task to stop serving.
pub fn listen_in_netns(
    netns: &Netns,
    addr: SocketAddr,
    resolver: Arc<Resolver>,
) -> Result<tokio::task::JoinHandle<Result<()>>> {
    let std_sock = netns.bind_udp(addr)?;
    std_sock
        .set_nonblocking(true)
        .map_err(io_err("dns socket nonblocking"))?;
    let sock = tokio::net::UdpSocket::from_std(std_sock).map_err(io_err("dns socket"))?;
    let std_listener = netns.bind_tcp(addr)?;
    std_listener
        .set_nonblocking(true)
        .map_err(io_err("dns listener nonblocking"))?;
    let listener =
        tokio::net::TcpListener::from_std(std_listener).map_err(io_err("dns listener"))?;
    Ok(tokio::spawn(async move {
        tokio::try_join!(serve(sock, resolver.clone()), serve_tcp(listener, resolver)).map(|_| ())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` of type `qtype`, with an EDNS OPT record as dig/glibc may send.
    pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        for l in name.split('.').filter(|l| !l.is_empty()) {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m
    }

    fn answers(resp: &[u8]) -> (u8, Vec<Ipv4Addr>) {
        let q = parse_question(resp).unwrap();
        let rcode = (q.flags & 0xF) as u8;
        let an = u16::from_be_bytes([resp[6], resp[7]]) as usize;
        let mut pos = q.end;
        let mut ips = Vec::new();
        for _ in 0..an {
            assert_eq!(&resp[pos..pos + 2], &[0xC0, 0x0C]);
            let rdlen = u16::from_be_bytes([resp[pos + 10], resp[pos + 11]]) as usize;
            assert_eq!(rdlen, 4);
            let b = &resp[pos + 12..pos + 16];
            ips.push(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
            pos += 12 + rdlen;
        }
        assert_eq!(pos, resp.len());
        (rcode, ips)
    }

    fn table() -> Arc<DnsTable> {
        let t = DnsTable::new();
        t.add("net1", "web", "10.213.9.2".parse().unwrap());
        t.add("net1", "alias-web", "10.213.9.2".parse().unwrap());
        t.add("net2", "db", "10.213.10.2".parse().unwrap());
        t
    }

    #[tokio::test]
    async fn registered_name_gets_a_record() {
        let r = Resolver::new(table(), vec!["net1".into()], vec![]);
        let resp = r.handle(&query(0x1234, "WEB.", TYPE_A)).await.unwrap();
        assert_eq!(&resp[..2], &[0x12, 0x34]);
        assert_eq!(resp[2] & 0x80, 0x80, "QR bit");
        assert_eq!(answers(&resp), (0, vec!["10.213.9.2".parse().unwrap()]));
        let resp = r.handle(&query(7, "alias-web", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp).1.len(), 1);
        // AAAA for a known name: NOERROR, no answers (no IPv6 on pier networks)
        let resp = r.handle(&query(8, "web", 28)).await.unwrap();
        assert_eq!(answers(&resp), (0, vec![]));
    }

    #[tokio::test]
    async fn other_networks_names_are_not_visible_and_unknown_is_nxdomain() {
        let t = table();
        let r = Resolver::new(t.clone(), vec!["net1".into()], vec![]);
        let resp = r.handle(&query(9, "db", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp), (RCODE_NXDOMAIN, vec![]));
        r.set_networks(vec!["net1".into(), "net2".into()]);
        let resp = r.handle(&query(10, "db", TYPE_A)).await.unwrap();
        assert_eq!(
            answers(&resp).1,
            vec!["10.213.10.2".parse::<Ipv4Addr>().unwrap()]
        );
        t.remove_ip("net2", "10.213.10.2".parse().unwrap());
        let resp = r.handle(&query(11, "db", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp).0, RCODE_NXDOMAIN);
    }

    #[tokio::test]
    async fn link_aliases_are_seen_by_the_linking_container_only() {
        let t = table();
        t.add("net2", "web", "10.213.10.5".parse().unwrap());
        let link = |net: &str, alias: &str, target: &str| LinkAlias {
            network: net.into(),
            alias: alias.into(),
            target: target.into(),
        };
        let me = Resolver::new(t.clone(), vec!["net1".into()], vec![]);
        me.set_links(vec![
            link("net1", "DB", "web"),
            link("net1", "bar", "third"),
        ]);
        let other = Resolver::new(t.clone(), vec!["net1".into()], vec![]);
        let web: Ipv4Addr = "10.213.9.2".parse().unwrap();
        // the alias resolves to the target's address on the link's network, any case
        let resp = me.handle(&query(1, "db.", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp), (0, vec![web]));
        assert_eq!(me.resolve("web"), vec![web], "the target's own name too");
        // another container on the same network does not see it
        let resp = other.handle(&query(2, "db", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp), (RCODE_NXDOMAIN, vec![]));
        // a target that is not on the network: unresolved, until it joins
        assert!(me.resolve("bar").is_empty());
        t.add("net1", "third", "10.213.9.3".parse().unwrap());
        assert_eq!(
            me.resolve("bar"),
            vec!["10.213.9.3".parse::<Ipv4Addr>().unwrap()]
        );
        // an alias shadows a registered name of the same network (docker: alias first, and a
        // name that is an alias on a network is not looked up there as a plain name)
        t.add("net1", "db", "10.213.9.9".parse().unwrap());
        assert_eq!(me.resolve("db"), vec![web]);
        assert_eq!(
            other.resolve("db"),
            vec!["10.213.9.9".parse::<Ipv4Addr>().unwrap()]
        );
        t.remove_ip("net1", web);
        assert!(
            me.resolve("db").is_empty(),
            "target gone: not the plain name"
        );
        // scoped to the link's network: the target's address on another network is not used
        me.set_networks(vec!["net1".into(), "net2".into()]);
        me.set_links(vec![link("net2", "w2", "web")]);
        assert_eq!(
            me.resolve("w2"),
            vec!["10.213.10.5".parse::<Ipv4Addr>().unwrap()]
        );
        me.set_networks(vec!["net1".into()]);
        assert!(me.resolve("w2").is_empty(), "link of a network left");
        // AAAA for a link alias: NOERROR without answers, not forwarded
        me.set_networks(vec!["net1".into(), "net2".into()]);
        let resp = me.handle(&query(3, "w2", 28)).await.unwrap();
        assert_eq!(answers(&resp), (0, vec![]));
    }

    #[tokio::test]
    async fn name_dot_network_resolves_on_that_network() {
        let t = table();
        t.add("net2", "web", "10.213.10.5".parse().unwrap());
        t.add("net1", "a.b", "10.213.9.7".parse().unwrap());
        let r = Resolver::new(t, vec!["net1".into(), "net2".into()], vec![]);
        r.set_network_names(vec![
            ("net1".into(), "front".into()),
            ("net2".into(), "back.end".into()),
        ]);
        r.set_links(vec![LinkAlias {
            network: "net2".into(),
            alias: "w".into(),
            target: "web".into(),
        }]);
        let ip = |s: &str| vec![s.parse::<Ipv4Addr>().unwrap()];
        assert_eq!(r.resolve("web.front"), ip("10.213.9.2"));
        assert_eq!(
            r.resolve("WEB.back.end."),
            ip("10.213.10.5"),
            "dotted network name"
        );
        assert_eq!(
            r.resolve("w.back.end"),
            ip("10.213.10.5"),
            "a link alias too"
        );
        assert!(
            r.resolve("w.front").is_empty(),
            "the alias is not on that network"
        );
        assert_eq!(
            r.resolve("a.b"),
            ip("10.213.9.7"),
            "a dotted name as such first"
        );
        assert!(r.resolve("web.nowhere").is_empty());
        let resp = r.handle(&query(4, "db.front", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp), (RCODE_NXDOMAIN, vec![]));
    }

    #[tokio::test]
    async fn unknown_names_are_forwarded_to_upstream() {
        // a fake upstream on loopback that answers everything with 10.213.99.99
        let up = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, peer) = up.recv_from(&mut buf).await.unwrap();
            let q = parse_question(&buf[..n]).unwrap();
            assert_eq!(q.name, "example.org");
            let resp = build_response(&buf[..n], &q, 0, &["10.213.99.99".parse().unwrap()]);
            up.send_to(&resp, peer).await.unwrap();
        });
        let r = Resolver::new(table(), vec!["net1".into()], vec![up_addr]);
        let resp = r.handle(&query(42, "example.org", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp), (0, vec!["10.213.99.99".parse().unwrap()]));
        server.await.unwrap();
        // an upstream that never answers → SERVFAIL after the timeout
        let dead = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let r = Resolver::new(table(), vec![], vec![dead.local_addr().unwrap()])
            .with_timeout(Duration::from_millis(100));
        let resp = r.handle(&query(43, "example.org", TYPE_A)).await.unwrap();
        assert_eq!(answers(&resp).0, RCODE_SERVFAIL);
    }

    #[tokio::test]
    async fn reverse_lookup_of_a_registered_address() {
        assert_eq!(
            parse_reverse_name("2.9.213.10.in-addr.arpa."),
            Some("10.213.9.2".parse().unwrap())
        );
        assert_eq!(parse_reverse_name("9.213.10.in-addr.arpa"), None);
        let r = Resolver::new(table(), vec!["net1".into()], vec![]);
        let resp = r
            .handle(&query(5, "2.9.213.10.in-addr.arpa", TYPE_PTR))
            .await
            .unwrap();
        let q = parse_question(&resp).unwrap();
        assert_eq!(u16::from_be_bytes([resp[6], resp[7]]), 1);
        let rdata = &resp[q.end + 12..];
        assert_eq!(
            rdata, b"\x03web\x00",
            "first registered name, not the alias"
        );
        // unknown address: not answered locally (NXDOMAIN here since there is no upstream)
        let resp = r
            .handle(&query(6, "9.9.213.10.in-addr.arpa", TYPE_PTR))
            .await
            .unwrap();
        assert_eq!(resp[3] & 0xF, RCODE_NXDOMAIN);
    }

    #[tokio::test]
    async fn tcp_framing_local_answer_and_tcp_forwarding() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // a fake TCP upstream answering 10.213.77.7 for anything
        let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut c, _) = up.accept().await.unwrap();
            let mut len = [0u8; 2];
            c.read_exact(&mut len).await.unwrap();
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            c.read_exact(&mut q).await.unwrap();
            let pq = parse_question(&q).unwrap();
            let resp = build_response(&q, &pq, 0, &["10.213.77.7".parse().unwrap()]);
            let mut f = (resp.len() as u16).to_be_bytes().to_vec();
            f.extend_from_slice(&resp);
            c.write_all(&f).await.unwrap();
        });
        let resolver = Arc::new(Resolver::new(table(), vec!["net1".into()], vec![up_addr]));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(serve_tcp(l, resolver));
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        for (id, name, want) in [
            (1u16, "web", "10.213.9.2"),
            (2, "far.example", "10.213.77.7"),
        ] {
            let q = query(id, name, TYPE_A);
            let mut f = (q.len() as u16).to_be_bytes().to_vec();
            f.extend_from_slice(&q);
            c.write_all(&f).await.unwrap();
            let mut len = [0u8; 2];
            c.read_exact(&mut len).await.unwrap();
            let mut resp = vec![0u8; u16::from_be_bytes(len) as usize];
            c.read_exact(&mut resp).await.unwrap();
            assert_eq!(answers(&resp), (0, vec![want.parse().unwrap()]), "{name}");
        }
        server.abort();
    }

    #[test]
    fn parser_rejects_garbage_and_reads_resolv_conf() {
        assert!(parse_question(&[0; 5]).is_err());
        let mut q = query(1, "a.b", TYPE_A);
        q.truncate(q.len() - 3);
        assert!(parse_question(&q).is_err());
        let ups = upstreams_from_resolv_conf(
            "# c\nnameserver 10.255.255.53\nsearch x\nnameserver fe80::1%eth0\n",
        );
        assert_eq!(
            ups,
            vec![
                "10.255.255.53:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }
}
