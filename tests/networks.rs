//! Networking through pierd with the real docker CLI: the default bridge (address, route,
//! hosts/resolv.conf, inspect), published ports (TCP from 127.0.0.1 and the host's own address,
//! UDP, `docker port`, a port in use), user networks (DNS by name and alias, isolation,
//! `--internal`, connect/disconnect live, overlapping subnets, `--link` as a DNS alias of the
//! linking container only), legacy links on the default bridge, IPAM and the nft table across a
//! `kill -9` of pierd, run/rm cycles that must leave nothing behind, and the iptables backend
//! (`--firewall-backend iptables`). Every daemon has its own bridge, subnet, pool and nft table
//! or iptables chains (pier-testkit), removed when it drops.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use pier_e2e::{docker, env_with_busybox, env_with_busybox_opts, Env};
use pier_testkit::DaemonOpts;
use serde_json::Value;

fn inspect(env: &Env, name: &str) -> Value {
    let out = docker(&env.d, &["inspect", name]).ok().to_string();
    serde_json::from_str::<Value>(&out).expect("inspect JSON")[0].clone()
}

/// A TCP port free on the host right now.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The host's first non-loopback IPv4 address not on a bridge of ours.
fn host_address() -> Option<Ipv4Addr> {
    let out = Command::new("ip")
        .args(["-j", "-4", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array()?.iter().find_map(|l| {
        let name = l["ifname"].as_str()?;
        if name.starts_with("pk") || name.starts_with("br-") || name.starts_with("docker") {
            return None;
        }
        l["addr_info"].as_array()?[0]["local"]
            .as_str()?
            .parse()
            .ok()
    })
}

/// GET / over a raw TCP connection; retried until `deadline` (the server may still be starting).
fn http_get(addr: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match r {
            Ok(body) if body.contains("200 OK") => return Ok(body),
            other if Instant::now() > deadline => return Err(format!("{other:?}")),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn httpd(env: &Env, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    docker(&env.d, &args).ok();
}

fn nft_table(env: &Env) -> String {
    let out = Command::new("nft")
        .args(["list", "table", "ip", &env.d.nft_table()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn veths_on(br: &str) -> Vec<String> {
    pier_testkit::daemon::links_on(br)
}

#[test]
fn default_bridge_publishes_ports_on_loopback_and_host_address() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let port = free_port();
    httpd(
        &env,
        "web",
        &["-p", &format!("{port}:80"), "--expose", "443"],
    );
    let body = http_get(&format!("127.0.0.1:{port}")).expect("published port on 127.0.0.1");
    assert!(body.contains("hello-from-"), "{body}");
    // nftables is usable here, so it is chosen without --firewall-backend.
    assert_eq!(env.d.firewall_backend().as_deref(), Some("nftables"));
    let info = env.d.api("GET", "/info", None).json();
    assert_eq!(info["FirewallBackend"]["Driver"], "nftables", "{info}");
    if let Some(ip) = host_address() {
        let body = http_get(&format!("{ip}:{port}")).expect("published port on the host address");
        assert!(body.contains("hello-from-"), "{body}");
    }
    let v = inspect(&env, "web");
    let ns = &v["NetworkSettings"];
    let prefix = env.d.bridge_subnet_prefix();
    let ip = ns["IPAddress"].as_str().unwrap();
    assert!(ip.starts_with(&prefix), "{ns}");
    assert_eq!(ns["Gateway"], format!("{prefix}1"));
    assert_eq!(ns["IPPrefixLen"], 24);
    assert_eq!(
        ns["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string(),
        "{ns}"
    );
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostIp"], "0.0.0.0");
    assert!(ns["Ports"]["443/tcp"].is_null(), "{ns}");
    let b = &ns["Networks"]["bridge"];
    assert_eq!(b["IPAddress"], ip);
    assert_eq!(b["MacAddress"], ns["MacAddress"]);
    assert!(b["NetworkID"].as_str().unwrap().len() == 64, "{b}");
    assert!(b["EndpointID"].as_str().unwrap().len() == 64, "{b}");
    // docker port and ps.
    let p = docker(&env.d, &["port", "web"]).ok().to_string();
    assert_eq!(p, format!("80/tcp -> 0.0.0.0:{port}\n"));
    let ps = docker(&env.d, &["ps", "--format", "{{.Ports}}"])
        .ok()
        .to_string();
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    // Inside: eth0 with the address, a default route via the gateway, docker's files.
    let r = docker(
        &env.d,
        &[
            "exec",
            "web",
            "sh",
            "-c",
            "ip -4 addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf",
        ],
    );
    let out = r.ok().to_string();
    assert!(out.contains(&format!("inet {ip}/24")), "{out}");
    assert!(
        out.contains(&format!("default via {prefix}1 dev eth0")),
        "{out}"
    );
    let hostname = v["Config"]["Hostname"].as_str().unwrap();
    assert!(out.contains(&format!("{ip}\t{hostname}")), "{out}");
    assert!(out.contains("nameserver "), "{out}");
    // Another container reaches it through the bridge, and through the published port.
    let r = docker(
        &env.d,
        &[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-qO-",
            &format!("http://{ip}/"),
        ],
    );
    assert!(r.stdout.contains("hello-from-"), "{r}");
    // A second container asking for the same host port fails with docker's message and is not
    // left running.
    let r = docker(
        &env.d,
        &[
            "run",
            "-d",
            "--name",
            "clash",
            "-p",
            &format!("{port}:80"),
            "busybox",
            "sleep",
            "60",
        ],
    );
    assert_ne!(r.code, Some(0), "{r}");
    assert!(
        r.stderr.contains(&format!(
            "Bind for 0.0.0.0:{port} failed: port is already allocated"
        )),
        "{r}"
    );
    assert_eq!(inspect(&env, "clash")["State"]["Running"], false);
    // A port bound by another process on the host.
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let busy = l.local_addr().unwrap().port();
    let r = docker(
        &env.d,
        &[
            "run",
            "-d",
            "-p",
            &format!("{busy}:80"),
            "busybox",
            "sleep",
            "60",
        ],
    );
    assert_ne!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("port is already allocated"), "{r}");
    drop(l);
    // Stop: the rule and the veth go.
    docker(&env.d, &["rm", "-f", "web", "clash"]).ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while nft_table(&env).contains(&format!("dport {port}")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = nft_table(&env);
    assert!(!t.contains(&format!("dport {port}")), "{t}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !veths_on(&env.d.bridge()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(veths_on(&env.d.bridge()), Vec::<String>::new());
}

/// Active endpoint rows (IP allocations) in the daemon's store.
fn allocations(env: &Env) -> usize {
    let out = Command::new("sqlite3")
        .arg(env.d.data_root().join("pier.db"))
        .arg("SELECT count(*) FROM endpoints WHERE ip IS NOT NULL")
        .output()
        .expect("sqlite3");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn ip_of(env: &Env, name: &str, net: &str) -> String {
    inspect(env, name)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn user_networks_resolve_names_and_are_isolated() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let d = &env.d;
    let id = docker(d, &["network", "create", "--label", "k=v", "n1"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    docker(d, &["network", "create", "n2"]).ok();
    // Duplicate name: docker's 409 text.
    let r = docker(d, &["network", "create", "n1"]);
    assert!(
        r.stderr.contains("network with name n1 already exists"),
        "{r}"
    );
    // Overlapping subnet: 400 with docker's text.
    let sub = inspect(&env, "n1")["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_string();
    let r = docker(d, &["network", "create", "--subnet", &sub, "n3"]);
    assert_ne!(r.code, Some(0));
    assert!(
        r.stderr
            .contains("Pool overlaps with other one on this address space"),
        "{r}"
    );
    let ls = docker(d, &["network", "ls", "--format", "{{.Name}} {{.Driver}}"])
        .ok()
        .to_string();
    for want in [
        "bridge bridge",
        "host host",
        "none null",
        "n1 bridge",
        "n2 bridge",
    ] {
        assert!(ls.lines().any(|l| l == want), "{ls}");
    }
    let ls = docker(d, &["network", "ls", "-q", "--filter", "label=k=v"])
        .ok()
        .to_string();
    assert_eq!(ls.trim(), &id[..12]);
    httpd(&env, "srv", &["--network", "n1", "--network-alias", "web"]);
    let srv_ip = ip_of(&env, "srv", "n1");
    let ps = docker(
        d,
        &["ps", "--filter", "network=n1", "--format", "{{.Names}}"],
    )
    .ok()
    .to_string();
    assert_eq!(ps, "srv\n");
    let v = inspect(&env, "srv");
    let ep = &v["NetworkSettings"]["Networks"]["n1"];
    assert_eq!(ep["Aliases"][0], "web", "{ep}");
    assert!(
        ep["DNSNames"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "srv"),
        "{ep}"
    );
    let net = inspect(&env, "n1");
    assert_eq!(
        net["Containers"][v["Id"].as_str().unwrap()]["Name"],
        "srv",
        "{net}"
    );
    // By name and by alias, through the embedded DNS (resolv.conf points at 127.0.0.11).
    let r = docker(d, &["run", "--rm", "--network", "n1", "busybox", "sh", "-c",
        "cat /etc/resolv.conf; ping -c1 -W2 srv >/dev/null && echo PING-OK; wget -qO- http://srv/; wget -qO- http://web/"]);
    assert!(r.stdout.contains("nameserver 127.0.0.11"), "{r}");
    assert!(r.stdout.contains("PING-OK"), "{r}");
    assert_eq!(r.stdout.matches("hello-from-").count(), 2, "{r}");
    // Not across networks: no name, no route through the filter.
    let r = docker(d, &["run", "--rm", "--network", "n2", "busybox", "sh", "-c",
        &format!("timeout 3 wget -qO- http://srv/ && echo NAME-REACHED; timeout 3 wget -qO- http://{srv_ip}/ && echo IP-REACHED; echo TRIED")]);
    // (Not `wget -T`: this busybox's wget segfaults with it before connecting.)
    assert!(
        r.stdout.contains("TRIED") && !r.stdout.contains("REACHED"),
        "{r}"
    );
    // In use: 403 with docker's text; predefined networks cannot go.
    let r = docker(d, &["network", "rm", "n1"]);
    assert!(r.stderr.contains("has active endpoints"), "{r}");
    let r = docker(d, &["network", "rm", "bridge"]);
    assert!(
        r.stderr
            .contains("bridge is a pre-defined network and cannot be removed"),
        "{r}"
    );
    docker(d, &["rm", "-f", "srv"]).ok();
    docker(d, &["network", "rm", "n1"]).ok();
    let r = docker(d, &["network", "inspect", "n1"]);
    assert!(r.stderr.contains("network n1 not found"), "{r}");
    let pruned = docker(d, &["network", "prune", "-f"]).ok().to_string();
    assert!(pruned.contains("n2"), "{pruned}");
    let ls = docker(d, &["network", "ls", "--format", "{{.Name}}"])
        .ok()
        .to_string();
    assert_eq!(ls.lines().count(), 3, "{ls}");
}

#[test]
fn internal_networks_have_no_outbound_route() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let d = &env.d;
    // A subnet inside this daemon's own pool, so cleanup finds its bridge even on failure.
    let base = d.address_pool().trim_end_matches(".0/24").to_string();
    let (subnet, gw, ip) = (
        format!("{base}.240/28"),
        format!("{base}.241"),
        format!("{base}.249"),
    );
    docker(
        d,
        &[
            "network",
            "create",
            "--internal",
            "--subnet",
            &subnet,
            "--gateway",
            &gw,
            "nint",
        ],
    )
    .ok();
    let net = inspect(&env, "nint");
    assert_eq!(net["Internal"], true);
    assert_eq!(net["IPAM"]["Config"][0]["Gateway"], gw.as_str());
    let host = host_address()
        .map(|a| a.to_string())
        .unwrap_or("192.0.2.1".into());
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--network",
            "nint",
            "--ip",
            &ip,
            "busybox",
            "sh",
            "-c",
            &format!("ip -4 addr show eth0; ip route; ip route get {host} 2>&1; true"),
        ],
    );
    assert!(r.stdout.contains(&format!("inet {ip}/28")), "{r}");
    assert!(!r.stdout.contains("default"), "{r}");
    assert!(r.stdout.contains("unreachable"), "{r}");
    // The default bridge has one.
    let r = docker(d, &["run", "--rm", "busybox", "ip", "route"]);
    assert!(r.stdout.contains("default via"), "{r}");
    // --ip only on user networks, as docker.
    let r = docker(d, &["run", "--rm", "--ip", "10.1.1.1", "busybox", "true"]);
    assert!(
        r.stderr
            .contains("user specified IP address is supported on user defined networks only"),
        "{r}"
    );
    docker(d, &["network", "rm", "nint"]).ok();
}

/// An HTTP GET of `peer` with busybox nc (busybox's static wget crashes on some failures).
const HTTP_GET_PEER: &str =
    "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 peer 80 | grep hello-from- || false";

#[test]
fn connect_and_disconnect_while_running() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let d = &env.d;
    docker(d, &["network", "create", "na"]).ok();
    docker(d, &["network", "create", "nb"]).ok();
    httpd(&env, "peer", &["--network", "nb"]);
    docker(
        d,
        &[
            "run",
            "-d",
            "--name",
            "cx",
            "--network",
            "na",
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    let r = docker(
        d,
        &[
            "exec",
            "cx",
            "sh",
            "-c",
            &format!("{HTTP_GET_PEER} || echo NOPE"),
        ],
    );
    assert!(r.stdout.contains("NOPE"), "{r}");
    docker(d, &["network", "connect", "--alias", "cc", "nb", "cx"]).ok();
    let v = inspect(&env, "cx");
    let nets = v["NetworkSettings"]["Networks"].as_object().unwrap();
    assert!(nets.contains_key("na") && nets.contains_key("nb"), "{v}");
    let nb_ip = nets["nb"]["IPAddress"].as_str().unwrap().to_string();
    let r = docker(
        d,
        &[
            "exec",
            "cx",
            "sh",
            "-c",
            &format!("ip -4 addr show eth1; {HTTP_GET_PEER}"),
        ],
    );
    assert!(r.stdout.contains(&format!("inet {nb_ip}/")), "{r}");
    assert!(r.stdout.contains("hello-from-"), "{r}");
    // The peer resolves the connected container by its alias.
    let r = docker(d, &["exec", "peer", "ping", "-c1", "-W2", "cc"]);
    assert_eq!(r.code, Some(0), "{r}");
    let r = docker(d, &["network", "connect", "nb", "cx"]);
    assert!(r.stderr.contains("already exists in network nb"), "{r}");
    docker(d, &["network", "disconnect", "nb", "cx"]).ok();
    let r = docker(
        d,
        &[
            "exec",
            "cx",
            "sh",
            "-c",
            &format!("ip link show eth1 2>&1; {HTTP_GET_PEER} || echo NOPE"),
        ],
    );
    assert!(r.stdout.contains("NOPE"), "{r}");
    assert!(!inspect(&env, "cx")["NetworkSettings"]["Networks"]
        .as_object()
        .unwrap()
        .contains_key("nb"));
    let r = docker(d, &["network", "disconnect", "nb", "cx"]);
    assert!(r.stderr.contains("is not connected to network nb"), "{r}");
    // A failed live connect (address taken) leaves the running endpoints alone.
    let peer_ip = ip_of(&env, "peer", "nb");
    let na_ip = ip_of(&env, "cx", "na");
    let r = docker(d, &["network", "connect", "--ip", &peer_ip, "nb", "cx"]);
    assert_ne!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("Address already in use"), "{r}");
    let r = docker(d, &["exec", "cx", "ip", "-4", "addr", "show", "eth0"]);
    assert!(r.stdout.contains(&format!("inet {na_ip}/")), "{r}");
    assert_eq!(ip_of(&env, "cx", "na"), na_ip);
    // Events for the network verbs.
    // Until a moment after now: `--until` has second granularity.
    let until = (std::time::SystemTime::now() + Duration::from_secs(2))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let ev = docker(
        d,
        &[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "type=network",
            "--format",
            "{{.Action}}",
        ],
    )
    .ok()
    .to_string();
    for a in ["create", "connect", "disconnect"] {
        assert!(ev.lines().any(|l| l == a), "{ev}");
    }
}

/// Whether a hosts file has `name` among the names of any entry.
fn hosts_has_name(hosts: &str, name: &str) -> bool {
    hosts
        .lines()
        .any(|l| l.split_whitespace().skip(1).any(|w| w == name))
}

#[test]
fn links_on_user_networks_are_dns_aliases_of_the_linking_container() {
    let Some(mut env) = env_with_busybox() else {
        return;
    };
    let d = &env.d;
    docker(d, &["network", "create", "n1"]).ok();
    docker(d, &["network", "create", "n2"]).ok();
    httpd(&env, "srv", &["--network", "n1"]);
    let srv_ip = ip_of(&env, "srv", "n1");
    // The linking container reaches srv by the alias through the embedded DNS; /etc/hosts has no
    // entry for it. A link to a container that does not exist is accepted (docker's too) and
    // resolves nothing.
    let r = docker(
        d,
        &[
            "run", "--rm", "--network", "n1", "--link", "srv:db", "--link", "nope:bar", "busybox",
            "sh", "-c",
            "cat /etc/hosts; echo ==; nslookup db 127.0.0.11; wget -qO- http://db/; nslookup bar 127.0.0.11 >/dev/null 2>&1 || echo BAR-UNRESOLVED",
        ],
    );
    assert_eq!(r.code, Some(0), "{r}");
    let (hosts, rest) = r.stdout.split_once("==").expect("two parts");
    assert!(!hosts_has_name(hosts, "db"), "{r}");
    assert!(!hosts.contains(&srv_ip), "{r}");
    assert!(rest.contains(&format!("Address: {srv_ip}")), "{r}");
    assert!(rest.contains("hello-from-"), "{r}");
    assert!(rest.contains("BAR-UNRESOLVED"), "{r}");
    // Another container on the network does not resolve the alias.
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--network",
            "n1",
            "busybox",
            "sh",
            "-c",
            "nslookup db 127.0.0.11 || echo NO-DB; nslookup srv.n1 127.0.0.11",
        ],
    );
    assert!(r.stdout.contains("NO-DB"), "{r}");
    assert!(
        r.stdout.contains(&format!("Address: {srv_ip}")),
        "name.network: {r}"
    );
    // Inspect keeps the endpoint's links as given.
    docker(
        d,
        &[
            "create",
            "--name",
            "linker",
            "--network",
            "n1",
            "--link",
            "srv:db",
            "busybox",
        ],
    )
    .ok();
    let v = inspect(&env, "linker");
    assert_eq!(
        v["NetworkSettings"]["Networks"]["n1"]["Links"],
        serde_json::json!(["srv:db"]),
        "{v}"
    );
    assert!(
        v["HostConfig"]["Links"].is_null(),
        "docker shows legacy links only: {v}"
    );
    // `network connect --link` on a running container: its alias on that network only.
    docker(
        d,
        &[
            "run",
            "-d",
            "--name",
            "cx",
            "--network",
            "n2",
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    let r = docker(
        d,
        &[
            "exec",
            "cx",
            "sh",
            "-c",
            "nslookup db2 127.0.0.11 || echo NO-DB2",
        ],
    );
    assert!(r.stdout.contains("NO-DB2"), "{r}");
    docker(d, &["network", "connect", "--link", "srv:db2", "n1", "cx"]).ok();
    let r = docker(
        d,
        &[
            "exec",
            "cx",
            "sh",
            "-c",
            "cat /etc/hosts; echo ==; nslookup db2 127.0.0.11; wget -qO- http://db2/",
        ],
    );
    let (hosts, rest) = r.stdout.split_once("==").expect("two parts");
    assert!(!hosts_has_name(hosts, "db2"), "{r}");
    assert!(rest.contains(&format!("Address: {srv_ip}")), "{r}");
    assert!(rest.contains("hello-from-"), "{r}");
    assert_eq!(
        inspect(&env, "cx")["NetworkSettings"]["Networks"]["n1"]["Links"],
        serde_json::json!(["srv:db2"])
    );
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--network",
            "n1",
            "busybox",
            "sh",
            "-c",
            "nslookup db2 127.0.0.11 || echo NO-DB2",
        ],
    );
    assert!(r.stdout.contains("NO-DB2"), "{r}");
    // A restarted pierd serves the alias again (links are in the endpoint rows).
    env.d.kill9();
    env.d.start_again();
    let d = &env.d;
    let r = docker(d, &["exec", "cx", "sh", "-c", "nslookup db2 127.0.0.11"]);
    assert!(r.stdout.contains(&format!("Address: {srv_ip}")), "{r}");
    // The target leaving the network takes the alias with it.
    docker(d, &["network", "disconnect", "n1", "srv"]).ok();
    let r = docker(
        d,
        &[
            "exec",
            "cx",
            "sh",
            "-c",
            "nslookup db2 127.0.0.11 || echo NO-DB2",
        ],
    );
    assert!(r.stdout.contains("NO-DB2"), "{r}");
    docker(d, &["rm", "-f", "srv", "cx", "linker"]).ok();
    docker(d, &["network", "rm", "n1", "n2"]).ok();
}

#[test]
fn legacy_links_on_the_default_bridge_are_hosts_entries() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let d = &env.d;
    docker(
        d,
        &[
            "run",
            "-d",
            "--name",
            "bsrv",
            "--hostname",
            "bhost",
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    let ip = ip_of(&env, "bsrv", "bridge");
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--link",
            "bsrv:bdb",
            "busybox",
            "cat",
            "/etc/hosts",
        ],
    );
    assert!(r.stdout.contains(&format!("{ip}\tbdb bhost bsrv\n")), "{r}");
    docker(
        d,
        &[
            "create", "--name", "blinker", "--link", "bsrv:bdb", "busybox",
        ],
    )
    .ok();
    assert_eq!(
        inspect(&env, "blinker")["HostConfig"]["Links"],
        serde_json::json!(["/bsrv:/blinker/bdb"])
    );
    // The link is a second name of its target (docker's registerLinks): `ps` lists it with
    // --no-trunc, and shows the target's own name alone by default.
    let names = |extra: &[&str]| {
        let mut args = vec!["ps", "--filter", "name=^bsrv$", "--format", "{{.Names}}"];
        args.extend_from_slice(extra);
        docker(d, &args).stdout.trim().to_string()
    };
    assert_eq!(names(&["--no-trunc"]), "blinker/bdb,bsrv");
    assert_eq!(names(&[]), "bsrv");
    // docker's errors: a target that does not exist (create), one not on the default bridge and
    // one not running (start).
    let r = docker(d, &["run", "--rm", "--link", "nope:x", "busybox", "true"]);
    assert!(
        r.stderr
            .contains("could not get container for nope: No such container: nope"),
        "{r}"
    );
    docker(d, &["network", "create", "nb1"]).ok();
    docker(
        d,
        &[
            "run",
            "-d",
            "--name",
            "usrv",
            "--network",
            "nb1",
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    let r = docker(d, &["run", "--rm", "--link", "usrv:x", "busybox", "true"]);
    assert!(
        r.stderr
            .contains("Cannot link to /usrv, as it does not belong to the default network"),
        "{r}"
    );
    docker(d, &["create", "--name", "stopped", "busybox", "true"]).ok();
    let r = docker(
        d,
        &["run", "--rm", "--link", "stopped:y", "busybox", "true"],
    );
    assert!(
        r.stderr
            .contains("Cannot link to a non running container: /stopped AS /"),
        "{r}"
    );
    docker(d, &["rm", "-f", "bsrv", "usrv", "stopped", "blinker"]).ok();
    docker(d, &["network", "rm", "nb1"]).ok();
}

#[test]
fn run_flags_hosts_dns_container_mode_and_mac() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let d = &env.d;
    let gw = format!("{}1", d.bridge_subnet_prefix());
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--hostname",
            "h1",
            "--add-host",
            "gw:host-gateway",
            "--add-host",
            "db:10.1.2.3",
            "--dns",
            "10.9.9.9",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:3",
            "--mac-address",
            "02:42:aa:bb:cc:dd",
            "busybox",
            "sh",
            "-c",
            "hostname; cat /etc/hosts /etc/resolv.conf; ip link show eth0",
        ],
    );
    let out = r.ok().to_string();
    assert!(out.starts_with("h1\n"), "{out}");
    assert!(out.contains(&format!("{gw}\tgw\n")), "{out}");
    assert!(out.contains("10.1.2.3\tdb\n"), "{out}");
    assert!(
        out.contains("nameserver 10.9.9.9\nsearch example.test\noptions ndots:3\n"),
        "{out}"
    );
    assert!(out.contains("02:42:aa:bb:cc:dd"), "{out}");
    // container:<name> shares the other container's namespace.
    docker(
        d,
        &["run", "-d", "--name", "base", "busybox", "sleep", "300"],
    )
    .ok();
    let ip = ip_of(&env, "base", "bridge");
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--network",
            "container:base",
            "busybox",
            "ip",
            "-4",
            "addr",
            "show",
            "eth0",
        ],
    );
    assert!(r.stdout.contains(&format!("inet {ip}/24")), "{r}");
    // An unknown network is dockerd's 404 at create (the CLI then tries a pull, as with dockerd).
    let r = d.api(
        "POST",
        "/v1.50/containers/create",
        Some(br#"{"Image":"busybox","HostConfig":{"NetworkMode":"nosuch"}}"#),
    );
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("network nosuch not found"),
        "{}",
        r.text()
    );
    // -P publishes the exposed ports on random host ports; docker port shows them.
    docker(
        d,
        &[
            "run", "-d", "--name", "pub", "-P", "--expose", "80", "--expose", "81/udp", "busybox",
            "sleep", "300",
        ],
    )
    .ok();
    let p = docker(d, &["port", "pub"]).ok().to_string();
    assert_eq!(p.lines().count(), 2, "{p}");
    assert!(
        p.contains("80/tcp -> 0.0.0.0:") && p.contains("81/udp -> 0.0.0.0:"),
        "{p}"
    );
}

/// The container's UDP `NoPorts` counter: datagrams that reached its namespace for a port
/// nothing listens on (busybox has no UDP server applet, so this is what proves delivery).
fn udp_noports(env: &Env, name: &str) -> u64 {
    let snmp = docker(&env.d, &["exec", name, "cat", "/proc/net/snmp"])
        .ok()
        .to_string();
    let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
    let keys: Vec<&str> = udp[0].split_whitespace().collect();
    let vals: Vec<&str> = udp[1].split_whitespace().collect();
    let i = keys.iter().position(|k| *k == "NoPorts").unwrap();
    vals[i].parse().unwrap()
}

#[test]
fn udp_publish() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let port = std::net::UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    docker(
        &env.d,
        &[
            "run",
            "-d",
            "--name",
            "udp1",
            "-p",
            &format!("127.0.0.1:{port}:9999/udp"),
            "busybox",
            "sleep",
            "300",
        ],
    )
    .ok();
    let p = docker(&env.d, &["port", "udp1", "9999/udp"])
        .ok()
        .to_string();
    assert_eq!(p, format!("127.0.0.1:{port}\n"));
    let before = udp_noports(&env, "udp1");
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        s.send_to(b"datagram\n", ("127.0.0.1", port)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while udp_noports(&env, "udp1") < before + 3 {
        assert!(
            Instant::now() < deadline,
            "the datagrams did not reach the container"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kill_9_of_pierd_keeps_ports_and_addresses() {
    let Some(mut env) = env_with_busybox() else {
        return;
    };
    let port = free_port();
    httpd(&env, "web", &["-p", &format!("{port}:80")]);
    http_get(&format!("127.0.0.1:{port}")).expect("published port");
    let web_ip = ip_of(&env, "web", "bridge");
    let before = nft_table(&env);
    assert!(
        before.contains(&format!("tcp dport {port} dnat to {web_ip}:80")),
        "{before}"
    );
    env.d.kill9();
    // pierd is gone: the kernel keeps serving the port.
    http_get(&format!("127.0.0.1:{port}")).expect("port answers while pierd is down");
    env.d.start_again();
    let after = nft_table(&env);
    assert_eq!(before, after, "the rule set changed across the restart");
    http_get(&format!("127.0.0.1:{port}")).expect("port answers after the restart");
    // A new container gets a different address; the old one keeps its own.
    docker(
        &env.d,
        &["run", "-d", "--name", "second", "busybox", "sleep", "300"],
    )
    .ok();
    let second_ip = ip_of(&env, "second", "bridge");
    assert_ne!(second_ip, web_ip);
    assert_eq!(ip_of(&env, "web", "bridge"), web_ip);
    assert_eq!(allocations(&env), 2);
    // A container that died while pierd was down gives its address back at the restart.
    env.d.kill9();
    let pid = inspect_pid(&env, "second");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    std::thread::sleep(Duration::from_millis(300));
    env.d.start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    while allocations(&env) != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(allocations(&env), 1);
    assert_eq!(nft_table(&env), before);
}

/// The container's init PID from the store (pierd may be down).
fn inspect_pid(env: &Env, name: &str) -> i32 {
    let out = Command::new("sqlite3")
        .arg(env.d.data_root().join("pier.db"))
        .arg(format!(
            "SELECT json_extract(record, '$.state.Pid') FROM containers WHERE name = '/{name}'"
        ))
        .output()
        .expect("sqlite3");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn run_rm_cycles_with_published_ports_leave_nothing_behind() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let port = free_port();
    for i in 0..200 {
        let r = docker(
            &env.d,
            &[
                "run",
                "--rm",
                "-p",
                &format!("{port}:80"),
                "busybox",
                "true",
            ],
        );
        assert_eq!(r.code, Some(0), "cycle {i}: {r}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !veths_on(&env.d.bridge()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(veths_on(&env.d.bridge()), Vec::<String>::new());
    assert_eq!(allocations(&env), 0);
    // The rules are rewritten off the exit path: wait for the last rewrite.
    while nft_table(&env).contains("dnat to") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let t = nft_table(&env);
    assert!(!t.contains("dnat to"), "{t}");
    let ps = docker(&env.d, &["ps", "-aq"]).ok().to_string();
    assert_eq!(ps, "");
}

/// The daemon's own iptables chains and the jumps into them, as `"<table> <iptables-save line>"`.
fn own_iptables(env: &Env) -> Vec<String> {
    pier_network::iptables::list(&env.d.nft_table()).expect("iptables-save")
}

/// Each built-in chain pier hooks into jumps to its chain exactly once.
fn assert_one_jump_each(env: &Env, lines: &[String]) {
    let prefix = pier_network::iptables::chain_prefix(&env.d.nft_table()).unwrap();
    for (table, builtin, chain) in [
        ("raw", "PREROUTING", "GUARD"),
        ("nat", "PREROUTING", "PRE"),
        ("nat", "OUTPUT", "OUT"),
        ("nat", "POSTROUTING", "POST"),
        ("filter", "FORWARD", "FWD"),
    ] {
        let jump = format!("{table} -A {builtin} -j {prefix}-{chain}");
        assert_eq!(
            lines.iter().filter(|l| **l == jump).count(),
            1,
            "{jump}: {lines:#?}"
        );
    }
}

/// A daemon forced onto the iptables backend, or None after a SKIP line (no iptables command,
/// or the usual daemon prerequisites missing).
fn env_with_iptables() -> Option<Env> {
    let has_iptables = Command::new("iptables")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_iptables {
        println!("SKIP: no iptables command on this host (scripts/deps installs it)");
        return None;
    }
    let opts = DaemonOpts::default()
        .arg("--firewall-backend")
        .arg("iptables");
    env_with_busybox_opts(opts)
}

#[test]
fn iptables_backend_publishes_ports_and_cleans_up() {
    let Some(mut env) = env_with_iptables() else {
        return;
    };
    assert_eq!(env.d.firewall_backend().as_deref(), Some("iptables"));
    let info = env.d.api("GET", "/info", None).json();
    assert_eq!(info["FirewallBackend"]["Driver"], "iptables", "{info}");
    // The docker CLI reads the field.
    docker(&env.d, &["info"]).ok();

    let port = free_port();
    httpd(&env, "web", &["-p", &format!("127.0.0.1:{port}:80")]);
    let body = http_get(&format!("127.0.0.1:{port}")).expect("published port on 127.0.0.1");
    assert!(body.contains("hello-from-"), "{body}");
    let web_ip = ip_of(&env, "web", "bridge");
    let before = own_iptables(&env);
    let dnat = format!(
        "-d 127.0.0.1/32 -p tcp -m tcp --dport {port} -j DNAT --to-destination {web_ip}:80"
    );
    assert_eq!(
        before.iter().filter(|l| l.ends_with(&dnat)).count(),
        1,
        "{before:#?}"
    );
    let masquerade = format!(
        "-s {}0/24 ! -o {} -j MASQUERADE",
        env.d.bridge_subnet_prefix(),
        env.d.bridge()
    );
    assert_eq!(
        before.iter().filter(|l| l.ends_with(&masquerade)).count(),
        1,
        "{before:#?}"
    );
    assert_one_jump_each(&env, &before);
    assert!(
        nft_table(&env).is_empty(),
        "no nft table with the iptables backend"
    );

    // kill -9 and a new pierd: the kernel keeps serving, the restart rewrites the same chains
    // and adds no second jump.
    env.d.kill9();
    http_get(&format!("127.0.0.1:{port}")).expect("port answers while pierd is down");
    env.d.start_again();
    http_get(&format!("127.0.0.1:{port}")).expect("port answers after the restart");
    let mut after = own_iptables(&env);
    assert_one_jump_each(&env, &after);
    let mut sorted = before.clone();
    sorted.sort();
    after.sort();
    assert_eq!(sorted, after, "the chains changed across the restart");

    // Another backend at the next start: pier's state moves, never exists in both.
    let switch = |env: &mut Env, backend: &str| {
        env.d.kill9();
        let args = &mut env.d.opts_mut().args;
        let at = args.iter().position(|a| a == "--firewall-backend").unwrap();
        args[at + 1] = backend.to_string();
        env.d.start_again();
        assert_eq!(env.d.firewall_backend().as_deref(), Some(backend));
        http_get(&format!("127.0.0.1:{port}")).expect("port answers after the switch");
    };
    switch(&mut env, "nftables");
    let left = own_iptables(&env);
    assert!(left.is_empty(), "{left:#?}");
    let table = nft_table(&env);
    assert!(
        table.contains(&format!("tcp dport {port} dnat to {web_ip}:80")),
        "{table}"
    );
    switch(&mut env, "iptables");
    assert!(nft_table(&env).is_empty(), "{}", nft_table(&env));
    let mut back = own_iptables(&env);
    back.sort();
    assert_eq!(back, after);

    // The rules are rewritten just after the exit (off its path): wait for it.
    docker(&env.d, &["rm", "-f", "web"]).ok();
    let prefix = pier_network::iptables::chain_prefix(&env.d.nft_table()).unwrap();
    let dnat_rules = || -> Vec<String> {
        own_iptables(&env)
            .into_iter()
            .filter(|l| l.starts_with(&format!("nat -A {prefix}-DNAT ")))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dnat_rules().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(dnat_rules().is_empty(), "{:#?}", dnat_rules());
    assert!(nft_table(&env).is_empty());

    // The testkit's cleanup (what a failing test relies on) leaves none of the daemon's chains.
    env.d.stop(Duration::from_secs(10));
    env.d.remove_network_state();
    let left = own_iptables(&env);
    assert!(left.is_empty(), "{left:#?}");
}

#[test]
fn iptables_backend_isolates_user_networks() {
    let Some(env) = env_with_iptables() else {
        return;
    };
    let d = &env.d;
    let mut bridges = Vec::new();
    for n in ["n1", "n2"] {
        let id = docker(d, &["network", "create", n]).ok().trim().to_string();
        bridges.push(format!("br-{}", &id[..12]));
    }
    httpd(&env, "srv", &["--network", "n1"]);
    let srv_ip = ip_of(&env, "srv", "n1");
    let lines = own_iptables(&env);
    let prefix = pier_network::iptables::chain_prefix(&d.nft_table()).unwrap();
    let drop = format!(
        "filter -A {prefix}-FWD -i {} -o {} -j DROP",
        bridges[1], bridges[0]
    );
    assert!(lines.contains(&drop), "{drop}: {lines:#?}");
    // Same network: by name and address; the other network: neither.
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--network",
            "n1",
            "busybox",
            "sh",
            "-c",
            &format!("wget -qO- http://{srv_ip}/"),
        ],
    );
    assert!(r.stdout.contains("hello-from-"), "{r}");
    let r = docker(
        d,
        &[
            "run",
            "--rm",
            "--network",
            "n2",
            "busybox",
            "sh",
            "-c",
            &format!("timeout 3 wget -qO- http://{srv_ip}/ && echo IP-REACHED; echo TRIED"),
        ],
    );
    assert!(
        r.stdout.contains("TRIED") && !r.stdout.contains("REACHED"),
        "{r}"
    );
    // A removed network takes its rules along.
    docker(d, &["rm", "-f", "srv"]).ok();
    for n in ["n1", "n2"] {
        docker(d, &["network", "rm", n]).ok();
    }
    let lines = own_iptables(&env);
    for b in &bridges {
        assert!(
            !lines.iter().any(|l| l.contains(b.as_str())),
            "{b}: {lines:#?}"
        );
    }
    assert_one_jump_each(&env, &lines);
}
