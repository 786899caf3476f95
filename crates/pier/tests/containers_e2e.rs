//! `pier`'s container commands against a real dockerd, side by side with the real `docker` CLI on the
//! same daemon: every case must print the same bytes (docker's "docker" spelled "pier" in usage
//! texts) and exit with the same status. Each test starts its own reference dockerd (testkit's
//! `RefDockerd`: own containerd, root, sockets, cgroup parent, no default bridge or iptables) which
//! cleans up on drop; networks the tests create are bridges on private 10.147.x.0/24 subnets and
//! published ports bind 127.0.0.1 only. Without root, `dockerd`, `containerd` or the docker CLI it
//! prints a SKIP line.

use pier_testkit::compare::{cli_run as run, Cmp};
use pier_testkit::RefDockerd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A reference dockerd (testkit's [`RefDockerd`]) with `busybox:latest` imported from the host's
/// static busybox; None (after a SKIP line) when it cannot run here.
fn start(tag: &str) -> Option<RefDockerd> {
    if let Some(why) = pier_testkit::refdockerd_skip_reason() {
        println!("SKIP: {why}");
        return None;
    }
    if !Path::new("/usr/bin/busybox").exists() {
        println!("SKIP: /usr/bin/busybox not installed");
        return None;
    }
    let d = RefDockerd::start(&format!("pier-{tag}-{}", std::process::id()), &[])
        .expect("reference dockerd");
    let rootfs = d.dir().join("bb");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for l in [
        "sh", "echo", "cat", "sleep", "true", "false", "ls", "env", "id", "pwd", "hostname", "ps",
    ] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(l)).unwrap();
    }
    let tar = d.dir().join("bb.tar");
    assert!(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    d.import(&tar, "busybox:latest").expect("import busybox");
    Some(d)
}

fn chrono_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn container_commands_match_docker() {
    let Some(d) = start("ctr-e2e") else { return };
    let pier = env!("CARGO_BIN_EXE_pier");
    let host = d.host();
    let mut c = Cmp::new(host.clone(), pier);
    let since = (chrono_secs() - 1).to_string();

    // run: output, streams, exit codes, errors (each CLI makes its own container)
    c.same(&["run", "--rm", "busybox", "echo", "hello"]);
    c.same(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    c.same(&["run", "--rm", "busybox", "nonexist"]);
    c.same(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/bin",
        "-u",
        "1:2",
        "busybox",
        "sh",
        "-c",
        "echo $A; pwd; id -u; id -g",
    ]);
    c.same(&[
        "run",
        "--rm",
        "--entrypoint",
        "echo",
        "busybox",
        "via",
        "entrypoint",
    ]);
    c.same(&["run", "--rm", "-m", "x", "busybox", "true"]);
    c.same(&[
        "run",
        "--rm",
        "--restart",
        "on-failure:x",
        "busybox",
        "true",
    ]);
    c.same(&["run", "--rm", "--cpus", "abc", "busybox", "true"]);
    c.same(&["run", "-d", "-a", "stdout", "busybox"]);
    c.same(&["run", "--rm", "nosuch/image:tag", "true"]);
    c.pair(
        &["run", "-i", "--rm", "busybox", "cat"],
        &["run", "-i", "--rm", "busybox", "cat"],
        Some("piped\n"),
    );

    // create / start -a / lifecycle on named containers, one per CLI, compared through their names
    for (bin, n) in [("docker", "d"), (pier, "p")] {
        let name = format!("{n}1");
        let (code, out, err) = run(
            bin,
            &host,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "-l",
                "k=v",
                "busybox",
                "sh",
                "-c",
                "echo l0; echo l1; echo l2; sleep 1000",
            ],
            None,
        );
        assert_eq!(code, Some(0), "{bin} run -d: {err}");
        assert_eq!(
            out.trim().len(),
            64,
            "{bin} run -d prints the full id: {out}"
        );
        let (code, out, err) = run(
            bin,
            &host,
            &[
                "create",
                "--name",
                &format!("{n}2"),
                "busybox",
                "sh",
                "-c",
                "echo created; echo to-stderr >&2; exit 7",
            ],
            None,
        );
        assert_eq!(code, Some(0), "{bin} create: {err}");
        assert_eq!(out.trim().len(), 64);
    }
    std::thread::sleep(Duration::from_millis(500));
    for (dn, pn) in [("d1", "p1"), ("d2", "p2")] {
        c.pair(&["logs", dn], &["logs", pn], None);
        c.pair(
            &["logs", "--tail", "1", dn],
            &["logs", "--tail", "1", pn],
            None,
        );
        c.pair(
            &["inspect", "-f", "{{.State.Status}} {{.Config.Labels}}", dn],
            &["inspect", "-f", "{{.State.Status}} {{.Config.Labels}}", pn],
            None,
        );
    }
    c.pair(&["start", "-a", "d2"], &["start", "-a", "p2"], None);
    c.pair(&["wait", "d2"], &["wait", "p2"], None);
    c.pair(
        &["exec", "d1", "echo", "in"],
        &["exec", "p1", "echo", "in"],
        None,
    );
    c.pair(
        &["exec", "d1", "sh", "-c", "exit 4"],
        &["exec", "p1", "sh", "-c", "exit 4"],
        None,
    );
    c.pair(
        &["exec", "d1", "nonexist"],
        &["exec", "p1", "nonexist"],
        None,
    );
    c.pair(&["exec", "d2", "true"], &["exec", "p2", "true"], None);
    c.pair(&["top", "d1"], &["top", "p1"], None);
    c.pair(&["port", "d1"], &["port", "p1"], None);
    c.pair(&["port", "d1", "80"], &["port", "p1", "80"], None);
    c.pair(&["pause", "d1"], &["pause", "p1"], None);
    c.pair(&["unpause", "d1"], &["unpause", "p1"], None);
    c.pair(
        &["update", "--memory", "64m", "d1"],
        &["update", "--memory", "64m", "p1"],
        None,
    );
    c.pair(
        &["update", "--memory", "x", "d1"],
        &["update", "--memory", "x", "p1"],
        None,
    );
    c.pair(&["rename", "d2", "d3"], &["rename", "p2", "p3"], None);
    // listings see both CLIs' containers; compare columns that do not depend on timing
    let stable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Names}}\t{{.Labels}}";
    c.same(&["ps", "-a", "--format", stable]);
    c.same(&["ps", "-aq"]);
    c.same(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Command}} {{.State}}",
    ]);
    c.same(&[
        "ps",
        "-a",
        "--filter",
        "label=k=v",
        "--format",
        "{{.Names}}",
    ]);
    c.same(&["ps", "-n", "2", "--format", "{{.Names}}"]);
    c.same(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]);
    // the default table, retried: CREATED/STATUS may tick between the two runs
    for args in [
        &["ps", "-a"][..],
        &["ps", "-a", "--format", "json"],
        &["ps", "-s"],
    ] {
        let mut last = None;
        for _ in 0..3 {
            let d1 = run("docker", &host, args, None);
            let p1 = run(pier, &host, args, None);
            if d1 == p1 {
                last = None;
                break;
            }
            last = Some((d1, p1));
        }
        assert!(last.is_none(), "{args:?} differs: {last:?}");
    }
    c.pair(&["stop", "-t", "1", "d1"], &["stop", "-t", "1", "p1"], None);
    c.pair(
        &["restart", "-t", "1", "d1"],
        &["restart", "-t", "1", "p1"],
        None,
    );
    c.pair(&["kill", "d1"], &["kill", "p1"], None);
    c.pair(&["kill", "d1"], &["kill", "p1"], None);
    c.pair(&["rm", "d1", "d3"], &["rm", "p1", "p3"], None);
    // sig-proxy: without a tty a TERM to the CLI reaches the container
    {
        let mut child = Command::new(pier)
            .env_remove("DOCKER_HOST")
            .args(["-H", &host, "run", "--rm", "busybox", "sh", "-c"])
            .arg("trap 'echo got TERM; exit 9' TERM; echo ready; while true; do sleep 0.1; done")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 6];
        use std::io::Read;
        out.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ready\n");
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "got TERM\n");
        assert_eq!(child.wait().unwrap().code(), Some(9));
    }
    // events over the whole test so far, pretty and templated
    let until = (chrono_secs() + 1).to_string();
    std::thread::sleep(Duration::from_millis(1100));
    c.same(&["events", "--since", &since, "--until", &until]);
    c.same(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=die",
        "--format",
        "{{.Action}} {{.Actor.Attributes.exitCode}}",
    ]);
    c.same(&[
        "events", "--since", &since, "--until", &until, "--format", "json",
    ]);
    // errors
    for args in [
        &["stop", "nope"][..],
        &["rm", "nope", "nope2"],
        &["kill", "nope"],
        &["logs", "nope"],
        &["wait", "nope"],
        &["rename", "nope", "x"],
        &["exec", "nope", "true"],
        &["start", "nope"],
        &["container", "inspect", "nope"],
        &["pause", "nope"],
        &["top", "nope"],
        &["port", "nope"],
    ] {
        c.same(args);
    }
    let rest = c.failures.join("\n");
    drop(c);
    drop(d);
    assert!(rest.is_empty(), "pier and docker differ:\n{rest}");
}

/// `-p`'s host ports for the docker-made container and pier's (pier's are docker's + 1000), so
/// outputs about one map onto the other by replacing the port numbers.
fn host_ports(base: u32) -> [String; 4] {
    [0, 1, 2, 3].map(|i| (base + i).to_string())
}

#[test]
fn network_commands_match_docker() {
    let Some(d) = start("net-e2e") else { return };
    let pier = env!("CARGO_BIN_EXE_pier");
    let host = d.host();
    let mut c = Cmp::new(host.clone(), pier);
    let x = std::process::id() % 250;
    let base = 40000 + (std::process::id() % 500) * 8;
    let (dp, pp) = (host_ports(base), host_ports(base + 1000));
    let subnet = |n: u32| format!("10.147.{x}.{n}/26");
    let ip = |n: u32| format!("10.147.{x}.{n}");
    let docker_on = |args: &[&str]| -> String {
        let (code, out, err) = run("docker", &host, args, None);
        if code != Some(0) {
            return format!("docker {args:?} failed: {err}");
        }
        out
    };
    let mut checks: Vec<String> = Vec::new();
    let mut check = |want: String, got: String, what: &str| {
        if want != got {
            checks.push(format!("{what}:\n  docker: {want:?}\n  pier:   {got:?}"));
        }
    };

    // create: each CLI its own network; output (the id) and exit code compared, then the result
    let (sd, sp) = (subnet(0), subnet(64));
    let (gd, gp) = (ip(1), ip(65));
    let (rd, rp) = (subnet(32), subnet(96));
    let (wd, wp) = (ip(40), ip(100));
    let create = |n: &str, s: &str, g: &str, r: &str, wrong: &str| {
        vec![
            "network".to_string(),
            "create".into(),
            "--subnet".into(),
            s.into(),
            "--gateway".into(),
            g.into(),
            "--ip-range".into(),
            r.into(),
            "--aux-address".into(),
            format!("res={wrong}"),
            "--label".into(),
            "team=net".into(),
            "-o".into(),
            "com.docker.network.bridge.enable_icc=true".into(),
            "--attachable".into(),
            n.into(),
        ]
    };
    let cd = create("dnet", &sd, &gd, &rd, &wd);
    let cp = create("pnet", &sp, &gp, &rp, &wp);
    let cd: Vec<&str> = cd.iter().map(String::as_str).collect();
    let cp: Vec<&str> = cp.iter().map(String::as_str).collect();
    c.pair(&cd, &cp, None);
    let (sid, sip) = (format!("10.148.{x}.0/26"), format!("10.148.{x}.64/26"));
    c.pair(
        &["network", "create", "--internal", "--subnet", &sid, "dint"],
        &["network", "create", "--internal", "--subnet", &sip, "pint"],
        None,
    );
    // a name taken, bad IPAM input (client-side and daemon-side)
    c.pair(&cd, &cp, None);
    c.same(&["network", "create", "--gateway", "10.1.2.3", "x"]);
    c.same(&[
        "network",
        "create",
        "--subnet",
        "10.9.0.0/24",
        "--gateway",
        "10.8.0.1",
        "x",
    ]);
    c.same(&[
        "network",
        "create",
        "--subnet",
        "10.9.0.0/16",
        "--subnet",
        "10.9.1.0/24",
        "x",
    ]);
    c.same(&["network", "create", "--subnet", "bogus", "x"]);
    c.same(&["network", "create", "--driver", "nosuchdriver", "x"]);
    let tmpl = "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{json .IPAM}} {{json .Labels}} {{json .Options}}";
    for (a, b) in [("dnet", "pnet"), ("dint", "pint")] {
        let want = run(
            "docker",
            &host,
            &["network", "inspect", "-f", tmpl, a],
            None,
        );
        let got = run(
            "docker",
            &host,
            &["network", "inspect", "-f", tmpl, b],
            None,
        );
        let want = (
            want.0,
            want.1
                .replace(a, b)
                .replace(&sid, &sip)
                .replace(&sd, &sp)
                .replace(&gd, &gp)
                .replace(&rd, &rp)
                .replace(&wd, &wp),
            want.2,
        );
        check(
            format!("{want:?}"),
            format!("{got:?}"),
            &format!("network {b} made by pier vs {a} made by docker"),
        );
    }
    // listings and inspect of the same objects
    for args in [
        &["network", "ls"][..],
        &["network", "ls", "-q"],
        &["network", "ls", "--no-trunc"],
        &["network", "list", "--filter", "driver=bridge"],
        &[
            "network",
            "ls",
            "-f",
            "label=team=net",
            "--format",
            "{{.Name}}",
        ],
        &["network", "ls", "--filter", "name=int", "-q"],
        &["network", "ls", "--format", "json"],
        &["network", "ls", "--format", "raw"],
        &[
            "network",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Internal}}\t{{.IPv6}}\t{{.Labels}}\t{{.CreatedAt}}",
        ],
        &["network", "ls", "--filter", "bogus=1"],
        &["network", "ls", "--format", "{{.Nope}}"],
        &["network", "inspect", "dnet", "pnet"],
        &["network", "inspect", "none", "host"],
        &[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{.Id}}",
            "dnet",
            "nope",
        ],
        &["network", "inspect", "--format", "json", "dint"],
        &["network", "inspect", "nope"],
        &["network", "rm", "nope"],
        &["network", "rm", "-f", "nope"],
    ] {
        c.same(args);
    }

    // run -p / --network / --ip / --network-alias: docker's container and pier's, then port and ps
    // (run by both CLIs) over each
    let run_args = |name: &str, net: &str, ipaddr: &str, p: &[String; 4]| -> Vec<String> {
        [
            "run",
            "-d",
            "--name",
            name,
            "--network",
            net,
            "--ip",
            ipaddr,
            "--network-alias",
            "svc",
            "-p",
            &format!("127.0.0.1:{}:80", p[0]),
            "-p",
            &format!("127.0.0.1:{}-{}:90-91", p[1], p[2]),
            "-p",
            &format!("127.0.0.1:{}:81/udp", p[3]),
            "--expose",
            "7000",
            "--hostname",
            "box",
            "busybox",
            "sleep",
            "1000",
        ]
        .map(String::from)
        .to_vec()
    };
    let (ipd, ipp) = (ip(20), ip(84));
    let rdv = run_args("dweb", "dnet", &ipd, &dp);
    let rpv = run_args("pweb", "pnet", &ipp, &pp);
    let rdv: Vec<&str> = rdv.iter().map(String::as_str).collect();
    let rpv: Vec<&str> = rpv.iter().map(String::as_str).collect();
    c.pair(&rdv, &rpv, None);
    let map_ports = |s: String| -> String {
        let mut s = s;
        for (a, b) in dp.iter().zip(&pp) {
            s = s.replace(a.as_str(), b.as_str());
        }
        s.replace("dweb", "pweb")
            .replace("dnet", "pnet")
            .replace(&ipd, &ipp)
            .replace(&gd, &gp)
            .replace(&sd, &sp)
    };
    let ctmpl = "{{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}} {{.HostConfig.NetworkMode}} {{.Config.Hostname}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}} {{$v.Gateway}} {{json $v.IPAMConfig}} {{index $v.Aliases 0}}{{end}} {{json .NetworkSettings.Ports}}";
    let want = map_ports(docker_on(&["inspect", "-f", ctmpl, "dweb"]));
    let got = docker_on(&["inspect", "-f", ctmpl, "pweb"]);
    check(want, got, "run -p/--network/--ip container");
    for n in ["dweb", "pweb"] {
        for args in [
            &["port", n][..],
            &["port", n, "80"],
            &["port", n, "80/tcp"],
            &["port", n, "90"],
            &["port", n, "81/udp"],
            &["port", n, "81"],
            &["port", n, "x"],
            &["port", n, "99999"],
            &["container", "port", n, "7000"],
        ] {
            c.same(args);
        }
    }
    for args in [
        &["ps", "--format", "{{.Names}} {{.Ports}} {{.Networks}}"][..],
        &[
            "ps",
            "--format",
            "table {{.Names}}\t{{.Ports}}\t{{.Networks}}",
        ],
        &["ps", "--filter", "network=dnet", "--format", "{{.Names}}"],
        &["ps", "--filter", "publish=80", "--format", "{{.Names}}"],
        &["ps", "--filter", "expose=7000", "--format", "{{.Names}}"],
    ] {
        c.same(args);
    }
    // a second network: connect with --ip and --alias, disconnect
    c.pair(
        &["network", "create", "--subnet", &subnet(128), "dnet2"],
        &["network", "create", "--subnet", &subnet(192), "pnet2"],
        None,
    );
    let (cd_ip, cp_ip) = (ip(150), ip(214));
    c.pair(
        &[
            "network", "connect", "--ip", &cd_ip, "--alias", "extra", "dnet2", "dweb",
        ],
        &[
            "network", "connect", "--ip", &cp_ip, "--alias", "extra", "pnet2", "pweb",
        ],
        None,
    );
    c.pair(
        &["network", "connect", "dnet2", "dweb"],
        &["network", "connect", "pnet2", "pweb"],
        None,
    );
    let ntmpl = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}/{{$v.IPPrefixLen}} {{end}}";
    let want = docker_on(&["inspect", "-f", ntmpl, "dweb"])
        .replace("dnet2", "pnet2")
        .replace(&cd_ip, &cp_ip)
        .replace("dnet", "pnet")
        .replace(&ipd, &ipp);
    check(
        want,
        docker_on(&["inspect", "-f", ntmpl, "pweb"]),
        "network connect",
    );
    c.same(&["network", "connect", "nope", "dweb"]);
    c.same(&["network", "connect", "dnet2", "nope"]);
    c.same(&["network", "disconnect", "dnet2", "nope"]);
    c.pair(
        &["network", "rm", "dnet2"],
        &["network", "rm", "pnet2"],
        None,
    );
    c.pair(
        &["network", "disconnect", "dnet2", "dweb"],
        &["network", "disconnect", "pnet2", "pweb"],
        None,
    );
    c.pair(
        &["network", "disconnect", "-f", "dnet2", "dweb"],
        &["network", "disconnect", "-f", "pnet2", "pweb"],
        None,
    );

    // create-time network options, compared through the daemon's record of them
    let opts = |n: &str, net: &str| -> Vec<String> {
        [
            "create",
            "--name",
            n,
            "--network",
            net,
            "--dns",
            "10.0.0.53",
            "--dns-search",
            "example.com",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "db:10.1.2.3",
            "--add-host",
            "gw=[10.1.2.4]",
            "--link",
            "dweb:web",
            "-P",
            "--expose",
            "7000-7001/udp",
            "-p",
            "127.0.0.1::8080",
            "busybox",
            "sh",
        ]
        .map(String::from)
        .to_vec()
    };
    let od = opts("dopts", "dnet");
    let op = opts("popts", "pnet");
    let od: Vec<&str> = od.iter().map(String::as_str).collect();
    let op: Vec<&str> = op.iter().map(String::as_str).collect();
    c.pair(&od, &op, None);
    let otmpl = "{{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{json .HostConfig.DnsOptions}} {{json .HostConfig.ExtraHosts}} {{json .HostConfig.Links}} {{.HostConfig.PublishAllPorts}} {{json .Config.ExposedPorts}} {{json .HostConfig.PortBindings}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.MacAddress}} {{json $v.Links}}{{end}}";
    let want = docker_on(&["inspect", "-f", otmpl, "dopts"]).replace("dnet", "pnet");
    check(
        want,
        docker_on(&["inspect", "-f", otmpl, "popts"]),
        "create network options",
    );
    // bad input: client-side checks and the daemon's answers (docker 28 refuses a per-network MAC
    // address below API 1.44, which this reference dockerd speaks)
    for args in [
        &[
            "create",
            "--network",
            "dnet",
            "--mac-address",
            "02:42:0a:93:00:09",
            "busybox",
            "sh",
        ][..],
        &[
            "run",
            "--rm",
            "--mac-address",
            "02:42:0a:93:00:09",
            "busybox",
            "true",
        ],
        &["run", "--rm", "-p", "x", "busybox", "true"],
        &["run", "--rm", "-p", "70000:80", "busybox", "true"],
        &["run", "--rm", "-p", "80/xyz", "busybox", "true"],
        &["run", "--rm", "-p", "8000-8002:80-81", "busybox", "true"],
        &["create", "-p", "1.2.3:80:80", "busybox"],
        &["run", "--rm", "--expose", "1:2", "busybox", "true"],
        &["run", "--rm", "--dns", "x", "busybox", "true"],
        &["run", "--rm", "--add-host", "x", "busybox", "true"],
        &["run", "--rm", "--mac-address", "zz", "busybox", "true"],
        &["run", "--rm", "--network-alias", "a", "busybox", "true"],
        &[
            "run",
            "--rm",
            "--network",
            "dnet",
            "--network",
            "none",
            "busybox",
            "true",
        ],
        &["run", "--rm", "--network", "nope", "busybox", "true"],
        &["create", "--network", "nope", "busybox"],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--ip",
            "10.0.0.9",
            "busybox",
            "true",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "dnet",
            "--ip",
            "10.99.0.9",
            "busybox",
            "true",
        ],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-p",
            "80",
            "busybox",
            "true",
        ],
    ] {
        c.same(args);
    }
    // rm with endpoints still attached, then prune (each CLI once, over the same leftovers)
    c.pair(&["network", "rm", "dnet"], &["network", "rm", "pnet"], None);
    for n in ["dweb", "pweb", "dopts", "popts"] {
        docker_on(&["rm", "-f", n]);
    }
    let prune_set = |bin: &str| -> (Option<i32>, Vec<String>, String) {
        for (n, s) in [("lonely1", 128), ("lonely2", 192)] {
            let s = format!("10.148.{x}.{s}/26");
            docker_on(&["network", "create", "--label", "gone=1", "--subnet", &s, n]);
        }
        let (code, out, err) = run(
            bin,
            &host,
            &["network", "prune", "-f", "--filter", "label=gone"],
            None,
        );
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        lines.sort();
        (code, lines, err)
    };
    let want = prune_set("docker");
    let got = prune_set(pier);
    check(format!("{want:?}"), format!("{got:?}"), "network prune");
    assert!(want.1.contains(&"lonely1".to_string()), "{want:?}");
    let (_, out, _) = run(pier, &host, &["network", "prune"], Some("n\n"));
    assert!(
        out.starts_with("WARNING! This will remove all custom networks"),
        "{out}"
    );
    c.pair(
        &["network", "rm", "dnet", "dint"],
        &["network", "rm", "pnet", "pint"],
        None,
    );
    let mut rest = c.failures.join("\n");
    drop(c);
    drop(d);
    rest.push_str(&checks.join("\n"));
    assert!(rest.is_empty(), "pier and docker differ:\n{rest}");
}
