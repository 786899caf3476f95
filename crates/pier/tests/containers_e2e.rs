//! `pier`'s container commands against a real dockerd, side by side with the real `docker` CLI on the
//! same daemon: every case must print the same bytes (docker's "docker" spelled "pier" in usage
//! texts) and exit with the same status. The test starts its own containerd and dockerd (own root,
//! state, sockets, cgroup parent, no bridge or iptables) under a unique directory and a Drop guard
//! stops both by PID, unmounts what they left under that directory, removes their cgroups and the
//! directory. Without root, `dockerd`, `containerd` or the docker CLI it prints a SKIP line.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    dir: PathBuf,
    sock: String,
    cgroup_parent: String,
    containerd: Option<Child>,
    dockerd: Option<Child>,
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

fn stop(child: &mut Option<Child>, grace: Duration) {
    let Some(mut c) = child.take() else { return };
    if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let end = Instant::now() + grace;
    while Instant::now() < end {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// Remove a cgroup directory tree bottom-up (cgroupfs only allows rmdir of empty groups).
fn remove_cgroup(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Containers first, so their shims and cgroups go away with dockerd's help.
        let _ = Command::new("docker")
            .env("DOCKER_HOST", &self.sock)
            .args(["rm", "-f"])
            .args(
                String::from_utf8_lossy(
                    &Command::new("docker")
                        .env("DOCKER_HOST", &self.sock)
                        .args(["ps", "-aq"])
                        .output()
                        .map(|o| o.stdout)
                        .unwrap_or_default(),
                )
                .split_whitespace(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        stop(&mut self.dockerd, Duration::from_secs(20));
        stop(&mut self.containerd, Duration::from_secs(10));
        // Mounts left under our directory (overlay, shm, netns), deepest first.
        let prefix = self.dir.to_string_lossy().to_string();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = rustix::mount::unmount(m.as_str(), rustix::mount::UnmountFlags::DETACH);
        }
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in rd.flatten() {
                remove_cgroup(&e.path().join(&self.cgroup_parent));
            }
        }
        remove_cgroup(&Path::new("/sys/fs/cgroup").join(&self.cgroup_parent));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start() -> Option<Daemon> {
    if !rustix::process::geteuid().is_root() {
        println!("SKIP: not root");
        return None;
    }
    for b in [
        "dockerd",
        "containerd",
        "runc",
        "containerd-shim-runc-v2",
        "docker",
    ] {
        if !which(b) {
            println!("SKIP: {b} not installed");
            return None;
        }
    }
    if !Path::new("/usr/bin/busybox").exists() {
        println!("SKIP: /usr/bin/busybox not installed");
        return None;
    }
    let tag = format!("pier-ctr-e2e-{}", std::process::id());
    let dir = std::env::temp_dir().join(&tag);
    let cd = dir.join("ctr");
    std::fs::create_dir_all(&cd).unwrap();
    let ctr_sock = cd.join("c.sock");
    let cfg = cd.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{0}/opt\"\n",
            cd.display(),
            ctr_sock.display()
        ),
    )
    .unwrap();
    let sock = format!("unix://{}/d.sock", dir.display());
    let mut d = Daemon {
        dir: dir.clone(),
        sock: sock.clone(),
        cgroup_parent: tag.clone(),
        containerd: None,
        dockerd: None,
    };
    let log = |n: &str| std::fs::File::create(dir.join(n)).unwrap();
    d.containerd = Some(
        Command::new("containerd")
            .arg("--config")
            .arg(&cfg)
            .args(["--log-level", "warn"])
            .stdout(log("containerd.out"))
            .stderr(log("containerd.log"))
            .spawn()
            .unwrap(),
    );
    let end = Instant::now() + Duration::from_secs(30);
    while !ctr_sock.exists() {
        assert!(Instant::now() < end, "containerd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(
        dir.join("daemon.json"),
        format!("{{\"deprecated-key-path\":\"{}/key.json\"}}", dir.display()),
    )
    .unwrap();
    d.dockerd = Some(
        Command::new("dockerd")
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .args(["-H", &sock])
            .arg("--data-root")
            .arg(dir.join("root"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("d.pid"))
            .arg("--containerd")
            .arg(&ctr_sock)
            .args([
                "--containerd-namespace",
                &tag,
                "--containerd-plugins-namespace",
                &format!("{tag}-plugins"),
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
                "--cgroup-parent",
                &format!("/{tag}"),
                "--storage-driver",
                "overlay2",
                "--log-level",
                "warn",
            ])
            .stdout(log("dockerd.out"))
            .stderr(log("dockerd.log"))
            .spawn()
            .unwrap(),
    );
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new("docker")
            .env("DOCKER_HOST", &sock)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            break;
        }
        assert!(
            Instant::now() < end,
            "dockerd did not start: {}",
            std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // busybox:latest from the host's static busybox.
    let rootfs = dir.join("bb");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for l in [
        "sh", "echo", "cat", "sleep", "true", "false", "ls", "env", "id", "pwd", "hostname", "ps",
    ] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(l)).unwrap();
    }
    let tar = dir.join("bb.tar");
    assert!(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    let out = Command::new("docker")
        .env("DOCKER_HOST", &sock)
        .arg("import")
        .arg(&tar)
        .arg("busybox:latest")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(d)
}

fn chrono_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn run(bin: &str, host: &str, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let mut c = Command::new(bin);
    if bin == "docker" {
        c.env("DOCKER_HOST", host).env("DOCKER_CLI_HINTS", "false");
    } else {
        c.env_remove("DOCKER_HOST").arg("-H").arg(host);
    }
    c.args(args).env_remove("DOCKER_API_VERSION");
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    if let Some(s) = stdin {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(s.as_bytes()).unwrap();
    }
    let o = child.wait_with_output().expect("wait");
    let norm = |b: &[u8]| String::from_utf8_lossy(b).replace("docker", "pier");
    (o.status.code(), norm(&o.stdout), norm(&o.stderr))
}

/// Replace 64-hex ids with `<id>`; with `digits`, every run of digits with `N` (pids in `top`).
fn mask(s: &str, digits: bool) -> String {
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

struct Cmp<'a> {
    host: &'a str,
    pier: &'a str,
    failures: Vec<String>,
}

impl Cmp<'_> {
    /// Run `docker_args` with docker and `pier_args` with pier; record any difference.
    fn pair(
        &mut self,
        docker_args: &[&str],
        pier_args: &[&str],
        stdin: Option<&str>,
    ) -> (Option<i32>, String) {
        let mut d = run("docker", self.host, docker_args, stdin);
        let mut p = run(self.pier, self.host, pier_args, stdin);
        // Each CLI acts on its own containers: map docker's names onto pier's, mask ids and pids.
        for o in [&mut d.1, &mut d.2, &mut p.1, &mut p.2] {
            *o = mask(o, docker_args[0] == "top");
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

    fn same(&mut self, args: &[&str]) -> (Option<i32>, String) {
        self.pair(args, args, None)
    }
}

#[test]
fn container_commands_match_docker() {
    let Some(d) = start() else { return };
    let pier = env!("CARGO_BIN_EXE_pier");
    let host = d.sock.clone();
    let mut c = Cmp {
        host: &host,
        pier,
        failures: Vec::new(),
    };
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
