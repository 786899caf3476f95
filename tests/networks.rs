//! Networking through pierd with the real docker CLI: the default bridge (address, route,
//! hosts/resolv.conf, inspect), published ports (TCP from 127.0.0.1 and the host's own address,
//! UDP, `docker port`, a port in use), user networks (DNS by name and alias, isolation,
//! `--internal`, connect/disconnect live, overlapping subnets), IPAM and the nft table across a
//! `kill -9` of pierd, and run/rm cycles that must leave nothing behind. Every daemon has its
//! own bridge, subnet, pool and nft table (pier-testkit), removed when it drops.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use pier_e2e::{docker, setup, skip_docker, Env};
use pier_testkit::fixtures;
use serde_json::Value;

fn env_with_busybox() -> Option<Env> {
    if skip_docker() {
        return None;
    }
    let env = setup()?;
    let img = fixtures::busybox(&env.reg);
    docker(&env.d, &["pull", &img.reference()]).ok();
    docker(&env.d, &["tag", &img.reference(), "busybox"]).ok();
    Some(env)
}

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
    let t = nft_table(&env);
    assert!(!t.contains(&format!("dport {port}")), "{t}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !veths_on(&env.d.bridge()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(veths_on(&env.d.bridge()), Vec::<String>::new());
}
