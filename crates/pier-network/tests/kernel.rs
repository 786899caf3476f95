//! Real-kernel tests (root). Every test owns its bridge(s) (`pt<pid%1000><n>`), a /24 carved from
//! 10.213.0.0/16, its netns (`ip netns add`) and its nft table or iptables chains (`PIER-t<pid><n>-*`); Drop guards remove them even when an
//! assertion fails. Only loopback and the tests' own namespace addresses are ever contacted.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use pier_network::dns::{listen_in_netns, DnsTable, Resolver, EMBEDDED_DNS};
use pier_network::firewall::Backend;
use pier_network::nft::{list_table_json, remove_table, NetworkRules, PortMapping, Proto, RuleSet};
use pier_network::{
    attach, detach, set_route_localnet, setup_loopback, AttachRequest, Bridge, Ipam, Ipv4Net, Netns,
};

fn pid3() -> u32 {
    std::process::id() % 1000
}

/// A /24 per (process, test number) inside 10.213.0.0/16.
fn subnet(n: u32) -> Ipv4Net {
    assert!(n < 12);
    let third = (std::process::id() % 20) * 12 + n + 1;
    format!("10.213.{third}.0/24").parse().unwrap()
}

fn run(cmd: &[&str]) -> std::process::Output {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

struct NetnsGuard(String);
impl NetnsGuard {
    fn new(name: String) -> Self {
        let out = run(&["ip", "netns", "add", &name]);
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        NetnsGuard(name)
    }
    fn netns(&self) -> Netns {
        Netns::Path(format!("/run/netns/{}", self.0).into())
    }
    fn exec(&self, cmd: &[&str]) -> std::process::Output {
        let mut full = vec!["ip", "netns", "exec", &self.0];
        full.extend_from_slice(cmd);
        run(&full)
    }
}
impl Drop for NetnsGuard {
    fn drop(&mut self) {
        run(&["ip", "netns", "del", &self.0]);
    }
}

struct LinkGuard(String);
impl Drop for LinkGuard {
    fn drop(&mut self) {
        if run(&["ip", "link", "show", &self.0]).status.success() {
            run(&["ip", "link", "del", &self.0]);
        }
    }
}

struct TableGuard(String);
impl Drop for TableGuard {
    fn drop(&mut self) {
        let _ = remove_table(&self.0);
    }
}

/// Removes pier's iptables chains named after a test's state name.
struct ChainsGuard(String);
impl Drop for ChainsGuard {
    fn drop(&mut self) {
        let _ = pier_network::iptables::remove(&self.0);
    }
}

fn link_exists(name: &str) -> bool {
    run(&["ip", "link", "show", name]).status.success()
}

fn ping(ns: &NetnsGuard, ip: Ipv4Addr) -> bool {
    ns.exec(&["/usr/bin/busybox", "ping", "-c1", "-W2", &ip.to_string()])
        .status
        .success()
}

/// Neither namespace reaches the other across two pier bridges (either backend's filter).
fn assert_bridges_isolated(a: &NetnsGuard, ip_a: Ipv4Addr, b: &NetnsGuard, ip_b: Ipv4Addr) {
    assert!(!ping(a, ip_b), "a → b must be dropped between pier bridges");
    assert!(!ping(b, ip_a), "b → a must be dropped between pier bridges");
}

#[tokio::test]
async fn bridge_ensure_is_idempotent_and_remove_cleans_up() {
    let name = format!("pt{}a", pid3());
    let _g = LinkGuard(name.clone());
    let sub = subnet(0);
    let gw = Ipv4Net::new(sub.first_host(), sub.prefix).unwrap();
    let b = Bridge::ensure(&name, gw, 1500).await.unwrap();
    assert_eq!(b.gateway, gw);
    let b2 = Bridge::ensure(&name, gw, 1500).await.unwrap();
    assert_eq!(b.index, b2.index, "second ensure reuses the bridge");
    let out = String::from_utf8(run(&["ip", "-o", "addr", "show", "dev", &name]).stdout).unwrap();
    assert_eq!(out.matches(&format!("inet {gw} ")).count(), 1, "{out}");
    let link = String::from_utf8(run(&["ip", "-o", "link", "show", &name]).stdout).unwrap();
    assert!(link.contains(",UP") && link.contains("mtu 1500"), "{link}");
    assert!(Bridge::remove(&name).await.unwrap());
    assert!(!link_exists(&name));
    assert!(!Bridge::remove(&name).await.unwrap());
    assert!(pier_network::ip_forward_enabled().is_ok());
}

#[tokio::test]
async fn two_namespaces_on_a_bridge_ping_each_other() {
    let br = format!("pt{}b", pid3());
    let _g = LinkGuard(br.clone());
    let sub = subnet(1);
    let mut ipam = Ipam::new(sub, None, None).unwrap();
    let gw = ipam.gateway();
    Bridge::ensure(&br, Ipv4Net::new(gw, sub.prefix).unwrap(), 1500)
        .await
        .unwrap();
    let ns1 = NetnsGuard::new(format!("pn{}b1", std::process::id()));
    let ns2 = NetnsGuard::new(format!("pn{}b2", std::process::id()));
    let ip1 = ipam.allocate("c1").unwrap();
    let ip2 = ipam.allocate("c2").unwrap();
    let ep1 = attach(&AttachRequest::new(
        ns1.netns(),
        &br,
        ip1,
        sub.prefix,
        Some(gw),
    ))
    .await
    .unwrap();
    let _v1 = LinkGuard(ep1.host_ifname.clone());
    let mut req2 = AttachRequest::new(ns2.netns(), &br, ip2, sub.prefix, Some(gw));
    req2.mac = Some([0x02, 0x42, 0xaa, 0xbb, 0xcc, 0xdd]);
    req2.mtu = 1400;
    let ep2 = attach(&req2).await.unwrap();
    let _v2 = LinkGuard(ep2.host_ifname.clone());

    assert!(ep1.host_ifname.starts_with("veth") && ep1.host_ifname.len() == 11);
    let master =
        String::from_utf8(run(&["ip", "-o", "link", "show", &ep1.host_ifname]).stdout).unwrap();
    assert!(master.contains(&format!("master {br}")), "{master}");
    let eth0 = String::from_utf8(
        ns2.exec(&["ip", "-o", "addr", "show", "dev", "eth0"])
            .stdout,
    )
    .unwrap();
    assert!(eth0.contains(&format!("inet {ip2}/24")), "{eth0}");
    let link = String::from_utf8(ns2.exec(&["ip", "-o", "link", "show", "eth0"]).stdout).unwrap();
    assert!(
        link.contains("02:42:aa:bb:cc:dd") && link.contains("mtu 1400"),
        "{link}"
    );
    let route = String::from_utf8(ns1.exec(&["ip", "route", "show", "default"]).stdout).unwrap();
    assert!(
        route.contains(&format!("default via {gw} dev eth0")),
        "{route}"
    );

    assert!(ping(&ns1, ip2), "ns1 → ns2");
    assert!(ping(&ns2, ip1), "ns2 → ns1");
    assert!(ping(&ns1, gw), "ns1 → gateway");
    assert!(ping(&ns1, Ipv4Addr::LOCALHOST), "lo is up");

    let ports = pier_network::bridge_ports(&br).await.unwrap();
    let mut want = vec![ep1.host_ifname.clone(), ep2.host_ifname.clone()];
    want.sort();
    assert_eq!(ports, want);
    let nets = pier_network::host_ipv4_networks().await.unwrap();
    assert!(nets.contains(&sub), "{nets:?}");
    assert!(nets.contains(&"127.0.0.0/8".parse().unwrap()), "{nets:?}");
    assert!(detach(&ep1).await.unwrap());
    assert!(!link_exists(&ep1.host_ifname));
    assert!(
        !ns1.exec(&["ip", "link", "show", "eth0"]).status.success(),
        "peer gone with the pair"
    );
    assert!(!detach(&ep1).await.unwrap(), "detach is idempotent");

    // attach to a missing bridge fails and leaves no veth behind
    let before = run(&["ip", "-o", "link", "show", "type", "veth"]).stdout;
    let bad = AttachRequest::new(ns1.netns(), "ptnosuchbr", ip1, 24, None);
    assert!(attach(&bad).await.is_err());
    assert_eq!(
        run(&["ip", "-o", "link", "show", "type", "veth"])
            .stdout
            .len(),
        before.len()
    );
}

#[tokio::test]
async fn loopback_only_namespace() {
    let ns = NetnsGuard::new(format!("pn{}c", std::process::id()));
    assert!(!ping(&ns, Ipv4Addr::LOCALHOST), "lo starts down");
    setup_loopback(&ns.netns()).await.unwrap();
    assert!(ping(&ns, Ipv4Addr::LOCALHOST));
}

#[tokio::test]
async fn published_port_reaches_container_from_host_and_localhost() {
    let br = format!("pt{}d", pid3());
    let table = format!("pier-t{}d", std::process::id());
    let _g = LinkGuard(br.clone());
    let _t = TableGuard(table.clone());
    let sub = subnet(2);
    let mut ipam = Ipam::new(sub, None, None).unwrap();
    let gw = ipam.gateway();
    Bridge::ensure(&br, Ipv4Net::new(gw, sub.prefix).unwrap(), 1500)
        .await
        .unwrap();
    set_route_localnet(&br, true).unwrap();
    let ns = NetnsGuard::new(format!("pn{}d", std::process::id()));
    let ip = ipam.allocate("web").unwrap();
    let ep = attach(&AttachRequest::new(
        ns.netns(),
        &br,
        ip,
        sub.prefix,
        Some(gw),
    ))
    .await
    .unwrap();
    let _v = LinkGuard(ep.host_ifname.clone());

    // the "container": a TCP server bound inside the netns, answering a greeting per connection
    let listener = ns
        .netns()
        .bind_tcp("0.0.0.0:8080".parse().unwrap())
        .unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let peer = s
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let _ = s.write_all(format!("hello from pier, you are {peer}\n").as_bytes());
        }
    });

    let host_port =
        pier_network::ports::pick_host_port(Ipv4Addr::UNSPECIFIED, Proto::Tcp, &[]).unwrap();
    let mut rs = RuleSet::new(&table);
    rs.networks.push(NetworkRules::new(&br, sub));
    rs.ports.push(PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED,
        host_port,
        container_ip: ip,
        container_port: 8080,
        proto: Proto::Tcp,
    });
    // The cold path (the `nft` binary, unless a test before loaded libnftables), then the hot
    // path (in-process through libnftables):
    // re-applying replaces, never duplicates, and both paths give the same table.
    rs.apply(false).unwrap();
    rs.apply(true).unwrap();

    for target in [Ipv4Addr::LOCALHOST, gw] {
        let addr = SocketAddr::from((target, host_port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        assert!(buf.starts_with("hello from pier"), "{addr}: {buf:?}");
        // localhost traffic is masqueraded to the gateway (route_localnet + 127/8 masquerade)
        assert!(buf.contains(&format!("you are {gw}")), "{addr}: {buf:?}");
    }

    // another container on the same bridge, and the container itself (hairpin), via the host port
    let ns2 = NetnsGuard::new(format!("pn{}d2", std::process::id()));
    let ip2 = ipam.allocate("client").unwrap();
    let ep2 = attach(&AttachRequest::new(
        ns2.netns(),
        &br,
        ip2,
        sub.prefix,
        Some(gw),
    ))
    .await
    .unwrap();
    let _v2 = LinkGuard(ep2.host_ifname.clone());
    let greet_from = |ns: Netns| {
        ns.run(move || {
            let addr = SocketAddr::from((gw, host_port));
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                .map_err(|e| pier_network::NetError::Dns(format!("connect {addr}: {e}")))?;
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            Ok(buf)
        })
        .unwrap()
    };
    let buf = greet_from(ns2.netns());
    assert!(
        buf.starts_with("hello from pier") && buf.contains(&format!("you are {gw}")),
        "{buf:?}"
    );
    let buf = greet_from(ns.netns());
    assert!(buf.starts_with("hello from pier"), "hairpin: {buf:?}");

    // the published port is now "allocated" for pier's own bookkeeping
    let taken = [(Ipv4Addr::UNSPECIFIED, host_port, Proto::Tcp)];
    let e = pier_network::ports::check_port_available(
        Ipv4Addr::UNSPECIFIED,
        host_port,
        Proto::Tcp,
        &taken,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Bind for 0.0.0.0:{host_port} failed: port is already allocated")
    );

    let json = list_table_json(&table).unwrap().expect("table exists");
    let rules: Vec<&serde_json::Value> = json["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule"))
        .collect();
    let masq: Vec<_> = rules
        .iter()
        .filter(|r| {
            let e = r["expr"].to_string();
            e.contains("\"masquerade\"")
                && e.contains(&sub.network().to_string())
                && e.contains("!=")
        })
        .collect();
    assert_eq!(
        masq.len(),
        1,
        "one outbound masquerade rule for the subnet: {json}"
    );
    let dnat = rules
        .iter()
        .filter(|r| r["expr"].to_string().contains("{\"dnat\":"))
        .count();
    assert_eq!(dnat, 1, "one DNAT rule after two applies: {json}");

    assert!(remove_table(&table).unwrap());
    assert!(
        list_table_json(&table).unwrap().is_none(),
        "table removal leaves nothing"
    );
    assert!(!remove_table(&table).unwrap());
    let tables = String::from_utf8(run(&["nft", "list", "tables"]).stdout).unwrap();
    assert!(!tables.contains(&table), "{tables}");
    // with the rules gone the port no longer answers
    assert!(TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, host_port)),
        Duration::from_secs(1)
    )
    .is_err());
    detach(&ep).await.unwrap();
}

#[tokio::test]
async fn bridges_are_isolated_and_internal_has_no_route_out() {
    let (bra, brb, bri) = (
        format!("pt{}ea", pid3()),
        format!("pt{}eb", pid3()),
        format!("pt{}ei", pid3()),
    );
    let table = format!("pier-t{}e", std::process::id());
    let _g = (
        LinkGuard(bra.clone()),
        LinkGuard(brb.clone()),
        LinkGuard(bri.clone()),
    );
    let _t = TableGuard(table.clone());
    let (sa, sb, si) = (subnet(3), subnet(4), subnet(5));
    let (nsa, nsb, nsi) = (
        NetnsGuard::new(format!("pn{}ea", std::process::id())),
        NetnsGuard::new(format!("pn{}eb", std::process::id())),
        NetnsGuard::new(format!("pn{}ei", std::process::id())),
    );
    let mut eps = Vec::new();
    for (br, sub, ns, internal) in [
        (&bra, sa, &nsa, false),
        (&brb, sb, &nsb, false),
        (&bri, si, &nsi, true),
    ] {
        let gw = sub.first_host();
        Bridge::ensure(br, Ipv4Net::new(gw, 24).unwrap(), 1500)
            .await
            .unwrap();
        let ip = Ipv4Addr::from(u32::from(gw) + 1);
        let route = if internal { None } else { Some(gw) };
        let ep = attach(&AttachRequest::new(ns.netns(), br, ip, 24, route))
            .await
            .unwrap();
        eps.push((LinkGuard(ep.host_ifname.clone()), ip));
    }
    let (ipa, ipb) = (eps[0].1, eps[1].1);
    // Routed between bridges by the host before pier's rules exist (ip_forward is on here).
    let forwarding = pier_network::ip_forward_enabled().unwrap();
    if forwarding {
        assert!(ping(&nsa, ipb), "a → b routed without rules");
    }
    let mut rs = RuleSet::new(&table);
    rs.networks.push(NetworkRules::new(&bra, sa));
    rs.networks.push(NetworkRules::new(&brb, sb));
    let mut internal = NetworkRules::new(&bri, si);
    internal.internal = true;
    rs.networks.push(internal);
    rs.apply(true).unwrap();
    assert_bridges_isolated(&nsa, ipa, &nsb, ipb);
    assert!(ping(&nsa, sa.first_host()), "own gateway still reachable");
    // internal: no default route at all
    let route = String::from_utf8(nsi.exec(&["ip", "route", "show", "default"]).stdout).unwrap();
    assert!(route.trim().is_empty(), "{route}");
    assert!(!ping(&nsi, ipa));
    // the internal subnet gets no outbound masquerade, the others do
    let json = list_table_json(&table).unwrap().unwrap();
    let rules: Vec<String> = json["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule"))
        .map(|r| r.to_string())
        .collect();
    let outbound_masq = |sub: Ipv4Net| {
        rules
            .iter()
            .filter(|r| {
                r.contains("masquerade")
                    && r.contains("\"!=\"")
                    && r.contains(&sub.network().to_string())
            })
            .count()
    };
    assert_eq!(
        (outbound_masq(sa), outbound_masq(sb), outbound_masq(si)),
        (1, 1, 0),
        "{json}"
    );
    remove_table(&table).unwrap();
    if forwarding {
        assert!(ping(&nsa, ipb), "a → b again once pier's table is gone");
    }
}

#[tokio::test]
async fn embedded_dns_answers_inside_the_namespace() {
    let ns = NetnsGuard::new(format!("pn{}f", std::process::id()));
    setup_loopback(&ns.netns()).await.unwrap();
    let table = DnsTable::new();
    table.add("netf", "web", "10.213.250.7".parse().unwrap());
    table.add("netf", "web-alias", "10.213.250.7".parse().unwrap());
    // a fake upstream on the HOST's loopback: reachable only because forwarding happens from
    // pierd's namespace, as with systemd-resolved's 127.0.0.53
    let upstream = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let up_task = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, peer)) = upstream.recv_from(&mut buf).await else {
                return;
            };
            let q = pier_network::dns::parse_question(&buf[..n]).unwrap();
            let ips: Vec<Ipv4Addr> = if q.name == "upstream.example" && q.qtype == 1 {
                vec!["10.213.251.9".parse().unwrap()]
            } else {
                vec![]
            };
            let rcode = if q.name == "upstream.example" { 0 } else { 3 };
            let resp = pier_network::dns::build_response(&buf[..n], &q, rcode, &ips);
            let _ = upstream.send_to(&resp, peer).await;
        }
    });
    let resolver = Arc::new(Resolver::new(
        table,
        vec!["netf".into()],
        vec![upstream_addr],
    ));
    let task = listen_in_netns(&ns.netns(), EMBEDDED_DNS, resolver).unwrap();
    // nslookup runs on a blocking thread so the listener keeps being served by this runtime.
    let look = |name: &'static str| {
        let nsname = ns.0.clone();
        tokio::task::spawn_blocking(move || {
            let out = run(&[
                "ip",
                "netns",
                "exec",
                &nsname,
                "/usr/bin/busybox",
                "nslookup",
                name,
                "127.0.0.11",
            ]);
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let out = look("web").await.unwrap();
    assert!(out.contains("10.213.250.7"), "{out}");
    let out = look("web-alias").await.unwrap();
    assert!(out.contains("10.213.250.7"), "{out}");
    let out = look("upstream.example").await.unwrap();
    assert!(out.contains("10.213.251.9"), "forwarded: {out}");
    let out = look("nosuchname").await.unwrap();
    assert!(
        out.contains("NXDOMAIN") || out.contains("can't find"),
        "{out}"
    );
    // DNS over TCP at 127.0.0.11:53 inside the namespace (length-framed A query for "web")
    let netns = ns.netns();
    let resp = tokio::task::spawn_blocking(move || {
        netns
            .run(|| {
                let mut s = TcpStream::connect_timeout(&EMBEDDED_DNS, Duration::from_secs(2)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                let q: &[u8] = b"\x00\x15\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03web\x00\x00\x01\x00\x01";
                s.write_all(&q[..2]).unwrap();
                s.write_all(&q[2..]).unwrap();
                let mut len = [0u8; 2];
                s.read_exact(&mut len).unwrap();
                let mut resp = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut resp).unwrap();
                Ok(resp)
            })
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(&resp[..2], b"\xbe\xef");
    assert_eq!(&resp[resp.len() - 4..], &[10, 213, 250, 7], "{resp:?}");
    task.abort();
    up_task.abort();
}

#[tokio::test]
async fn udp_published_port_and_attach_latency() {
    let br = format!("pt{}g", pid3());
    let table = format!("pier-t{}g", std::process::id());
    let _g = LinkGuard(br.clone());
    let _t = TableGuard(table.clone());
    let sub = subnet(6);
    let mut ipam = Ipam::new(sub, None, None).unwrap();
    let gw = ipam.gateway();
    Bridge::ensure(&br, Ipv4Net::new(gw, sub.prefix).unwrap(), 1500)
        .await
        .unwrap();
    set_route_localnet(&br, true).unwrap();
    let ns = NetnsGuard::new(format!("pn{}g", std::process::id()));

    // attach/detach latency: what networking adds to a container start and removal
    let mut times = Vec::new();
    for i in 0..10 {
        let ip = ipam.allocate(&format!("c{i}")).unwrap();
        let t0 = std::time::Instant::now();
        let ep = attach(&AttachRequest::new(
            ns.netns(),
            &br,
            ip,
            sub.prefix,
            Some(gw),
        ))
        .await
        .unwrap();
        let t1 = t0.elapsed();
        let _v = LinkGuard(ep.host_ifname.clone());
        assert!(detach(&ep).await.unwrap());
        times.push((t1, t0.elapsed() - t1));
        ipam.release(ip);
    }
    times.sort();
    eprintln!(
        "attach/detach (median of 10): {:?} / {:?}",
        times[5].0, times[5].1
    );
    assert!(
        times[5].0 < Duration::from_millis(100),
        "attach is slow: {times:?}"
    );

    let ip = ipam.allocate("udp").unwrap();
    let ep = attach(&AttachRequest::new(
        ns.netns(),
        &br,
        ip,
        sub.prefix,
        Some(gw),
    ))
    .await
    .unwrap();
    let _v = LinkGuard(ep.host_ifname.clone());
    let server = ns
        .netns()
        .bind_udp("0.0.0.0:5300".parse().unwrap())
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = server.recv_from(&mut buf) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = server.send_to(&reply, peer);
        }
    });
    let host_port =
        pier_network::ports::pick_host_port(Ipv4Addr::LOCALHOST, Proto::Udp, &[]).unwrap();
    let mut rs = RuleSet::new(&table);
    rs.networks.push(NetworkRules::new(&br, sub));
    rs.ports.push(PortMapping {
        host_ip: Ipv4Addr::LOCALHOST,
        host_port,
        container_ip: ip,
        container_port: 5300,
        proto: Proto::Udp,
    });
    rs.apply(true).unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client.send_to(b"ping", ("127.0.0.1", host_port)).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = client
        .recv_from(&mut buf)
        .expect("udp reply through the published port");
    assert_eq!(&buf[..n], b"echo:ping");
    remove_table(&table).unwrap();
    detach(&ep).await.unwrap();
}

/// A process in its own network namespace (`unshare -n sleep`), killed by PID on drop.
struct NsProcess(std::process::Child);
impl Drop for NsProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn attach_by_pid_and_second_interface() {
    let br = format!("pt{}h", pid3());
    let _g = LinkGuard(br.clone());
    let sub = subnet(7);
    let mut ipam = Ipam::new(sub, None, None).unwrap();
    let gw = ipam.gateway();
    Bridge::ensure(&br, Ipv4Net::new(gw, sub.prefix).unwrap(), 1500)
        .await
        .unwrap();
    let child = Command::new("unshare")
        .args(["-n", "sleep", "60"])
        .spawn()
        .unwrap();
    let proc_ = NsProcess(child);
    let pid = proc_.0.id();
    // wait until the child has its own netns
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    for _ in 0..100 {
        if std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .map(|l| l != own)
            .unwrap_or(false)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let netns = Netns::Pid(pid);
    let ip = ipam.allocate("p").unwrap();
    let ep = attach(&AttachRequest::new(
        netns.clone(),
        &br,
        ip,
        sub.prefix,
        Some(gw),
    ))
    .await
    .unwrap();
    let _v = LinkGuard(ep.host_ifname.clone());
    let mut second = AttachRequest::new(
        netns.clone(),
        &br,
        ipam.allocate("p2").unwrap(),
        sub.prefix,
        None,
    );
    second.ifname = "eth1".into();
    let ep2 = attach(&second).await.unwrap();
    let _v2 = LinkGuard(ep2.host_ifname.clone());
    // the same ifname twice is refused and leaves no extra veth on the host
    let before = run(&["ip", "-o", "link", "show", "master", &br])
        .stdout
        .len();
    let mut dup = AttachRequest::new(
        netns.clone(),
        &br,
        ipam.allocate("p3").unwrap(),
        sub.prefix,
        None,
    );
    dup.ifname = "eth1".into();
    assert!(attach(&dup).await.is_err());
    assert_eq!(
        run(&["ip", "-o", "link", "show", "master", &br])
            .stdout
            .len(),
        before
    );
    let addrs = String::from_utf8(
        run(&[
            "nsenter",
            "-t",
            &pid.to_string(),
            "-n",
            "ip",
            "-o",
            "-4",
            "addr",
            "show",
        ])
        .stdout,
    )
    .unwrap();
    assert!(addrs.contains(&format!("eth0    inet {ip}/24")), "{addrs}");
    assert!(
        addrs.contains(&format!("eth1    inet {}/24", ep2.ip)),
        "{addrs}"
    );
    let out = run(&[
        "nsenter",
        "-t",
        &pid.to_string(),
        "-n",
        "/usr/bin/busybox",
        "ping",
        "-c1",
        "-W2",
        &gw.to_string(),
    ]);
    assert!(out.status.success(), "ping gateway from the pid's netns");
    // the process exits: its netns dies and takes both veth pairs with it; detach reports gone
    drop(proc_);
    let mut gone = false;
    for _ in 0..200 {
        if !link_exists(&ep.host_ifname) && !link_exists(&ep2.host_ifname) {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(gone, "veths go with the namespace");
    assert!(!detach(&ep).await.unwrap());
}

#[tokio::test]
async fn containers_cannot_reach_host_loopback_through_route_localnet() {
    let br = format!("pt{}i", pid3());
    let table = format!("pier-t{}i", std::process::id());
    let _g = LinkGuard(br.clone());
    let _t = TableGuard(table.clone());
    let sub = subnet(8);
    let gw = sub.first_host();
    Bridge::ensure(&br, Ipv4Net::new(gw, 24).unwrap(), 1500)
        .await
        .unwrap();
    set_route_localnet(&br, true).unwrap();
    let ns = NetnsGuard::new(format!("pn{}i", std::process::id()));
    let ip = Ipv4Addr::from(u32::from(gw) + 1);
    let ep = attach(&AttachRequest::new(ns.netns(), &br, ip, 24, Some(gw)))
        .await
        .unwrap();
    let _v = LinkGuard(ep.host_ifname.clone());
    // a "host service" on the host's own loopback (UDP: one datagram proves delivery)
    let host_svc = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    host_svc
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let port = host_svc.local_addr().unwrap().port();
    // a hostile container routes 127.0.0.1 via its gateway instead of its own lo
    for cmd in [
        vec![
            "ip",
            "route",
            "del",
            "table",
            "local",
            "local",
            "127.0.0.1",
            "dev",
            "lo",
        ],
        vec![
            "ip",
            "route",
            "del",
            "table",
            "local",
            "local",
            "127.0.0.0/8",
            "dev",
            "lo",
        ],
        vec![
            "ip",
            "route",
            "add",
            "127.0.0.1/32",
            "via",
            &gw.to_string(),
            "dev",
            "eth0",
        ],
        vec!["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"],
        vec!["sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1"],
    ] {
        let out = ns.exec(&cmd);
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let send_and_check = |ns: Netns, tag: &'static [u8]| {
        ns.run(move || {
            let c = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            c.send_to(tag, SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .unwrap();
            Ok(())
        })
        .unwrap();
        let mut buf = [0u8; 16];
        host_svc
            .recv_from(&mut buf)
            .ok()
            .map(|(n, from)| (buf[..n].to_vec(), from))
    };
    // without pier's table the hole is real (this proves the test can see it)...
    let before = send_and_check(ns.netns(), b"before");
    assert_eq!(
        before.as_ref().map(|b| b.0.as_slice()),
        Some(&b"before"[..]),
        "route_localnet hole not reproduced"
    );
    let mut rs = RuleSet::new(&table);
    rs.networks.push(NetworkRules::new(&br, sub));
    rs.apply(true).unwrap();
    // ...and with the guard chain, the packets are dropped
    let after = send_and_check(ns.netns(), b"after");
    assert!(
        after.is_none(),
        "host loopback reachable from a container: {after:?}"
    );
}

#[tokio::test]
async fn outside_hosts_reach_published_ports_but_not_container_addresses() {
    let br = format!("pt{}j", pid3());
    let table = format!("pier-t{}j", std::process::id());
    let outside_host = format!("pt{}jo", pid3());
    let _g = (LinkGuard(br.clone()), LinkGuard(outside_host.clone()));
    let _t = TableGuard(table.clone());
    let sub = subnet(9);
    let gw = sub.first_host();
    Bridge::ensure(&br, Ipv4Net::new(gw, sub.prefix).unwrap(), 1500)
        .await
        .unwrap();
    let ns = NetnsGuard::new(format!("pn{}j", std::process::id()));
    let ip = Ipv4Addr::from(u32::from(gw) + 1);
    let ep = attach(&AttachRequest::new(
        ns.netns(),
        &br,
        ip,
        sub.prefix,
        Some(gw),
    ))
    .await
    .unwrap();
    let _v = LinkGuard(ep.host_ifname.clone());
    let listener = ns
        .netns()
        .bind_tcp("0.0.0.0:8080".parse().unwrap())
        .unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(b"hi\n");
        }
    });
    // an "outside host": a netns on a plain veth (not a pier bridge), routed to the container
    // subnet through the host, as a machine on the LAN would be
    let out = NetnsGuard::new(format!("pn{}jo", std::process::id()));
    // a private /31 outside every pier subnet (198.18.0.0/15 is reserved for tests like this)
    let third = (std::process::id() % 250) as u8;
    let (h_ip, o_ip) = (
        Ipv4Addr::new(198, 18, third, 0),
        Ipv4Addr::new(198, 18, third, 1),
    );
    for cmd in [
        vec![
            "ip",
            "link",
            "add",
            &outside_host,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &out.0,
        ],
        vec![
            "ip",
            "addr",
            "add",
            &format!("{h_ip}/31"),
            "dev",
            &outside_host,
        ],
        vec!["ip", "link", "set", &outside_host, "up"],
    ] {
        let o = run(&cmd);
        assert!(
            o.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for cmd in [
        vec!["ip", "addr", "add", &format!("{o_ip}/31"), "dev", "eth0"],
        vec!["ip", "link", "set", "eth0", "up"],
        vec![
            "ip",
            "route",
            "add",
            &sub.trunc().to_string(),
            "via",
            &h_ip.to_string(),
        ],
    ] {
        let o = out.exec(&cmd);
        assert!(
            o.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let host_port = pier_network::ports::pick_host_port(h_ip, Proto::Tcp, &[]).unwrap();
    let connect = |target: SocketAddr| {
        out.netns()
            .run(move || {
                Ok(
                    TcpStream::connect_timeout(&target, Duration::from_millis(800)).map(|mut s| {
                        let mut b = String::new();
                        let _ = s.read_to_string(&mut b);
                        b
                    }),
                )
            })
            .unwrap()
    };
    if pier_network::ip_forward_enabled().unwrap() {
        assert!(
            connect(SocketAddr::from((ip, 8080))).is_ok(),
            "direct routing works without pier's rules"
        );
    }
    let mut rs = RuleSet::new(&table);
    rs.networks.push(NetworkRules::new(&br, sub));
    rs.ports.push(PortMapping {
        host_ip: h_ip,
        host_port,
        container_ip: ip,
        container_port: 8080,
        proto: Proto::Tcp,
    });
    rs.apply(true).unwrap();
    let direct = connect(SocketAddr::from((ip, 8080)));
    assert!(
        direct.is_err(),
        "container address reachable directly from outside: {direct:?}"
    );
    let published = connect(SocketAddr::from((h_ip, host_port)));
    assert_eq!(
        published.as_deref().ok(),
        Some("hi\n"),
        "published port from outside: {published:?}"
    );
}

/// A greeting server inside `ns` on `port`: each connection gets "hello from pier, you are
/// <peer address>".
fn greeter(ns: &NetnsGuard, port: u16) {
    let listener = ns
        .netns()
        .bind_tcp(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
        .unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let peer = s
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let _ = s.write_all(format!("hello from pier, you are {peer}\n").as_bytes());
        }
    });
}

fn greeting(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    Ok(buf)
}

#[tokio::test]
async fn iptables_backend_publishes_masquerades_and_isolates() {
    if Command::new("iptables").arg("--version").output().is_err() {
        eprintln!("skipped: no iptables command on this host (scripts/deps installs it)");
        return;
    }
    let (bra, brb) = (format!("pt{}ka", pid3()), format!("pt{}kb", pid3()));
    let table = format!("pier-t{}k", std::process::id());
    let _g = (LinkGuard(bra.clone()), LinkGuard(brb.clone()));
    let _c = ChainsGuard(table.clone());
    let (sa, sb) = (subnet(10), subnet(11));
    let (nsa, nsb) = (
        NetnsGuard::new(format!("pn{}ka", std::process::id())),
        NetnsGuard::new(format!("pn{}kb", std::process::id())),
    );
    let mut eps = Vec::new();
    for (br, sub, ns) in [(&bra, sa, &nsa), (&brb, sb, &nsb)] {
        let gw = sub.first_host();
        Bridge::ensure(br, Ipv4Net::new(gw, 24).unwrap(), 1500)
            .await
            .unwrap();
        set_route_localnet(br, true).unwrap();
        let ip = Ipv4Addr::from(u32::from(gw) + 1);
        let ep = attach(&AttachRequest::new(ns.netns(), br, ip, 24, Some(gw)))
            .await
            .unwrap();
        eps.push((LinkGuard(ep.host_ifname.clone()), ip));
    }
    let (ipa, ipb) = (eps[0].1, eps[1].1);
    greeter(&nsa, 8080);
    let host_port =
        pier_network::ports::pick_host_port(Ipv4Addr::UNSPECIFIED, Proto::Tcp, &[]).unwrap();
    let mut rs = RuleSet::new(&table);
    rs.networks.push(NetworkRules::new(&bra, sa));
    rs.networks.push(NetworkRules::new(&brb, sb));
    rs.ports.push(PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED,
        host_port,
        container_ip: ipa,
        container_port: 8080,
        proto: Proto::Tcp,
    });
    // Applied twice (a restarted pierd): the same chains, one jump per built-in chain.
    rs.apply_with(Backend::Iptables, true).unwrap();
    rs.apply_with(Backend::Iptables, false).unwrap();

    // From the host's 127.0.0.1 (DNAT in nat OUTPUT, route_localnet, 127/8 masquerade) and
    // from the container itself through its gateway (DNAT in nat PREROUTING, hairpin
    // masquerade of DNAT-ed traffic re-entering the bridge).
    let gwa = sa.first_host();
    let buf = greeting(SocketAddr::from((Ipv4Addr::LOCALHOST, host_port))).unwrap();
    assert!(
        buf.starts_with("hello from pier") && buf.contains(&format!("you are {gwa}")),
        "{buf:?}"
    );
    let buf = nsa
        .netns()
        .run(move || {
            greeting(SocketAddr::from((gwa, host_port)))
                .map_err(|e| pier_network::NetError::Dns(e.to_string()))
        })
        .unwrap();
    assert!(
        buf.starts_with("hello from pier") && buf.contains(&format!("you are {gwa}")),
        "hairpin: {buf:?}"
    );

    // A host firewall reload that dropped pier's FORWARD jump: the next apply off the hot path
    // puts it back (once).
    let prefix = pier_network::iptables::chain_prefix(&table).unwrap();
    let fwd = format!("{prefix}-FWD");
    assert!(run(&["iptables", "-w", "-D", "FORWARD", "-j", &fwd])
        .status
        .success());
    rs.apply_with(Backend::Iptables, false).unwrap();

    let lines = pier_network::iptables::list(&table).unwrap();
    let count = |pred: &dyn Fn(&str) -> bool| lines.iter().filter(|l| pred(l)).count();
    for (t, builtin, chain) in [
        ("raw", "PREROUTING", "GUARD"),
        ("nat", "PREROUTING", "PRE"),
        ("nat", "OUTPUT", "OUT"),
        ("nat", "POSTROUTING", "POST"),
        ("filter", "FORWARD", "FWD"),
    ] {
        let jump = format!("{t} -A {builtin} -j {prefix}-{chain}");
        assert_eq!(count(&|l| l == jump), 1, "{jump}: {lines:#?}");
    }
    assert_eq!(
        count(&|l| l.contains(&format!(
            "--dport {host_port} -j DNAT --to-destination {ipa}:8080"
        ))),
        1,
        "{lines:#?}"
    );
    for sub in [sa, sb] {
        assert_eq!(
            count(&|l| l.contains(&format!("-s {sub} ! -o")) && l.ends_with("-j MASQUERADE")),
            1,
            "outbound masquerade of {sub}: {lines:#?}"
        );
    }
    let tables = String::from_utf8(run(&["nft", "list", "tables"]).stdout).unwrap_or_default();
    assert!(!tables.contains(&format!("table ip {table}\n")), "{tables}");

    // Isolation: a → b is dropped between pier bridges; the own gateway still answers.
    if pier_network::ip_forward_enabled().unwrap() {
        assert_bridges_isolated(&nsa, ipa, &nsb, ipb);
    }
    assert!(ping(&nsa, sa.first_host()), "own gateway reachable");

    assert!(pier_network::firewall::remove(Backend::Iptables, &table).unwrap());
    let left = pier_network::iptables::list(&table).unwrap();
    assert!(left.is_empty(), "{left:#?}");
    assert!(!pier_network::firewall::remove(Backend::Iptables, &table).unwrap());
    assert!(greeting(SocketAddr::from((Ipv4Addr::LOCALHOST, host_port))).is_err());
    // An empty set removes instead of creating.
    rs.apply_with(Backend::Iptables, false).unwrap();
    assert!(!pier_network::iptables::list(&table).unwrap().is_empty());
    RuleSet::new(&table)
        .apply_with(Backend::Iptables, false)
        .unwrap();
    assert!(pier_network::iptables::list(&table).unwrap().is_empty());
}

#[tokio::test]
async fn nftables_detection_and_an_empty_set_removing_the_table() {
    let table = format!("pier-t{}l", std::process::id());
    let _t = TableGuard(table.clone());
    // nftables is installed here (scripts/deps): detected, and the probe leaves no table.
    assert_eq!(Backend::detect(&table).unwrap(), Backend::Nftables);
    assert!(list_table_json(&format!("{table}-probe"))
        .unwrap()
        .is_none());
    assert!(list_table_json(&table).unwrap().is_none());
    let mut rs = RuleSet::new(&table);
    rs.networks
        .push(NetworkRules::new(&format!("pt{}l", pid3()), subnet(0)));
    rs.apply_with(Backend::Nftables, false).unwrap();
    assert!(list_table_json(&table).unwrap().is_some());
    // No network left: the table goes instead of staying empty.
    RuleSet::new(&table)
        .apply_with(Backend::Nftables, true)
        .unwrap();
    assert!(list_table_json(&table).unwrap().is_none());
}
