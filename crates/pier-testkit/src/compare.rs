//! Side-by-side runs of the real docker CLI and our `pier` against one daemon (pierd or a
//! reference dockerd), for tests that demand the same bytes and exit status from both.
//!
//! [`cli_run`] runs one CLI (docker via `DOCKER_HOST`, pier via `-H`) and spells "docker" as
//! "pier" in what it printed, so usage texts compare. [`Cmp`] runs a docker command and its pier
//! counterpart (often the same arguments; for commands that create objects, pier's own names),
//! masks 64-hex ids (and with `top`, every number), maps docker's differing arguments onto pier's
//! in docker's output, and records every difference; [`Cmp::finish`] fails with all of them.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Run `bin` (`"docker"` or a pier binary) against `host` with `args` and optional stdin; returns
/// (exit code, stdout, stderr) with "docker" replaced by "pier".
pub fn cli_run(
    bin: &str,
    host: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> (Option<i32>, String, String) {
    let mut c = Command::new(bin);
    if bin == "docker" {
        c.env("DOCKER_HOST", host).env("DOCKER_CLI_HINTS", "false");
    } else {
        c.env_remove("DOCKER_HOST").arg("-H").arg(host);
    }
    c.args(args)
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_CONTEXT");
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn CLI");
    if let Some(s) = stdin {
        use std::io::Write;
        let mut i = child.stdin.take().expect("stdin");
        i.write_all(s.as_bytes()).expect("write stdin");
    }
    let o = child.wait_with_output().expect("wait CLI");
    let norm = |b: &[u8]| String::from_utf8_lossy(b).replace("docker", "pier");
    (o.status.code(), norm(&o.stdout), norm(&o.stderr))
}

/// Replace 64-hex ids with `<id>`; with `digits`, every run of digits with `N`.
pub fn mask(s: &str, digits: bool) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if hex == 64 {
            out.push_str("<id>");
            i += 64;
            continue;
        }
        if digits && chars[i].is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push('N');
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A docker-vs-pier comparison session against one daemon.
pub struct Cmp {
    pub host: String,
    pub pier: PathBuf,
    pub failures: Vec<String>,
}

impl Cmp {
    pub fn new(host: impl Into<String>, pier: impl Into<PathBuf>) -> Cmp {
        Cmp {
            host: host.into(),
            pier: pier.into(),
            failures: Vec::new(),
        }
    }

    /// Run `args` with pier only.
    pub fn pier(&self, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
        cli_run(&self.pier.to_string_lossy(), &self.host, args, stdin)
    }

    /// Run `args` with docker only.
    pub fn docker(&self, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
        cli_run("docker", &self.host, args, stdin)
    }

    /// Run `docker_args` with docker and `pier_args` with pier; record any difference. Returns
    /// pier's exit code and stdout.
    pub fn pair(
        &mut self,
        docker_args: &[&str],
        pier_args: &[&str],
        stdin: Option<&str>,
    ) -> (Option<i32>, String) {
        let mut d = self.docker(docker_args, stdin);
        let mut p = self.pier(pier_args, stdin);
        let digits = docker_args.first() == Some(&"top");
        for o in [&mut d.1, &mut d.2, &mut p.1, &mut p.2] {
            *o = mask(o, digits);
        }
        for (da, pa) in docker_args.iter().zip(pier_args) {
            if da != pa {
                d.1 = d.1.replace(da, pa);
                d.2 = d.2.replace(da, pa);
            }
        }
        if d != p {
            self.failures
                .push(format!("{pier_args:?}:\n  docker: {d:?}\n  pier:   {p:?}"));
        }
        (p.0, p.1)
    }

    /// [`Cmp::pair`] with the same arguments for both.
    pub fn same(&mut self, args: &[&str]) -> (Option<i32>, String) {
        self.pair(args, args, None)
    }

    /// Record a difference found some other way.
    pub fn check(&mut self, what: &str, docker: &str, pier: &str) {
        if docker != pier {
            self.failures
                .push(format!("{what}:\n  docker: {docker:?}\n  pier:   {pier:?}"));
        }
    }

    /// The differences recorded so far, one block each ("" when none).
    pub fn report(&self) -> String {
        self.failures.join("\n")
    }
}

/// A `network rm` result with docker's objects mapped onto pier's (`dnet`→`pnet`, `dweb`→`pweb`) and
/// the short container ids the "has active endpoints (name:… id:…)" message carries masked.
fn rm_result(o: (Option<i32>, String, String)) -> String {
    let short_ids = |s: String| -> String {
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find("id:\"") {
            out.push_str(&rest[..i + 4]);
            rest = &rest[i + 4..];
            let hex = rest.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
            if hex == 12 {
                out.push_str("<short>");
                rest = &rest[12..];
            }
        }
        out.push_str(rest);
        out
    };
    let m = |t: String| {
        mask(
            &short_ids(t.replace("dnet", "pnet").replace("dweb", "pweb")),
            false,
        )
    };
    format!("{:?}", (o.0, m(o.1), m(o.2)))
}

/// `-p`'s host ports for the docker-made container and pier's (pier's are docker's + 1000), so
/// outputs about one map onto the other by replacing the port numbers.
fn host_ports(base: u32) -> [String; 4] {
    [0, 1, 2, 3].map(|i| (base + i).to_string())
}

/// The network scenario both network comparisons run (against a reference dockerd and against
/// pierd): `network create` (IPAM options, a taken name, bad IPAM input), `ls`/`inspect` in every
/// format, `run -d --network --ip --network-alias -p 127.0.0.1:…` then `port`/`ps` over docker's
/// container and pier's, `connect --ip --alias`/`disconnect`, create-time DNS/hosts/links/`-P`
/// options, docker's client-side errors, `rm` with endpoints attached and `prune`. Docker's objects
/// are `d…`, pier's `p…`; user networks take /26s of `a.0/24` and `b.0/24` (e.g. "10.147.7"),
/// published ports `port_base..+4` (docker) and `port_base+1000..` (pier) on 127.0.0.1 only.
/// Differences go to `c.failures`.
pub fn network_scenario(c: &mut Cmp, a: &str, b: &str, port_base: u32) {
    let host = c.host.clone();
    let pier = c.pier.to_string_lossy().to_string();
    let (dp, pp) = (host_ports(port_base), host_ports(port_base + 1000));
    let subnet = |n: u32| format!("{a}.{n}/26");
    let ip = |n: u32| format!("{a}.{n}");
    let docker_on = |args: &[&str]| -> String {
        let (code, out, err) = cli_run("docker", &host, args, None);
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
    let (sid, sip) = (format!("{b}.0/26"), format!("{b}.64/26"));
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
    for (dn, pn) in [("dnet", "pnet"), ("dint", "pint")] {
        let want = cli_run(
            "docker",
            &host,
            &["network", "inspect", "-f", tmpl, dn],
            None,
        );
        let got = cli_run(
            "docker",
            &host,
            &["network", "inspect", "-f", tmpl, pn],
            None,
        );
        let want = (
            want.0,
            want.1
                .replace(dn, pn)
                .replace(&format!("\"{b}.1\""), &format!("\"{b}.65\""))
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
            &format!("network {pn} made by pier vs {dn} made by docker"),
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
    let d = c.docker(&["network", "rm", "dnet2"], None);
    let p = c.pier(&["network", "rm", "pnet2"], None);
    c.check(
        "network rm pnet2 (endpoint attached)",
        &rm_result(d),
        &rm_result(p),
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
    let d = c.docker(&["network", "rm", "dnet"], None);
    let p = c.pier(&["network", "rm", "pnet"], None);
    check(
        rm_result(d),
        rm_result(p),
        "network rm with an endpoint attached",
    );
    for n in ["dweb", "pweb", "dopts", "popts"] {
        docker_on(&["rm", "-f", n]);
    }
    let prune_set = |bin: &str| -> (Option<i32>, Vec<String>, String) {
        for (n, s) in [("lonely1", 128), ("lonely2", 192)] {
            let s = format!("{b}.{s}/26");
            docker_on(&["network", "create", "--label", "gone=1", "--subnet", &s, n]);
        }
        let (code, out, err) = cli_run(
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
    let got = prune_set(&pier);
    check(format!("{want:?}"), format!("{got:?}"), "network prune");
    assert!(want.1.contains(&"lonely1".to_string()), "{want:?}");
    let (_, out, _) = cli_run(&pier, &host, &["network", "prune"], Some("n\n"));
    assert!(
        out.starts_with("WARNING! This will remove all custom networks"),
        "{out}"
    );
    c.pair(
        &["network", "rm", "dnet", "dint"],
        &["network", "rm", "pnet", "pint"],
        None,
    );
    c.failures.extend(checks);
}
