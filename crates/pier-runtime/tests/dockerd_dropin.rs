//! Drop-in proof (issue 3): a real dockerd (Debian's docker.io) with its own containerd, data
//! root, exec root, socket, namespaces and cgroup parent, started with `--add-runtime
//! pier=<pier-runc>`, runs containers with `docker run --runtime pier` through the real docker CLI:
//! plain output, exit codes, an interactive `-it` session over a pty, a memory limit (cgroup file
//! and OOM kill), and `docker exec` / `stop` / `rm` on a detached container. The same echo with the
//! default runtime (runc) is the control, so a failure points at pier-runc and not at the setup.
//! Every docker command runs under a timeout (killed by PID) so a hang fails the test. A guard
//! removes what the test created: containers, daemons (by PID), mounts and cgroups under the unique
//! names, the temp dir — and checks that no process started from the temp dir remains. When
//! dockerd or containerd is not installed (or we are not root) the test prints a SKIP line.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const PIER_RUNC: &str = env!("CARGO_BIN_EXE_pier-runc");
const DOCKER: &str = "/usr/local/bin/docker";
const CMD_TIMEOUT: Duration = Duration::from_secs(60);

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// Result of one command run under a timeout.
struct Out {
    /// Exit code; `None` when killed by a signal or by the timeout.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

impl Out {
    fn describe(&self) -> String {
        format!(
            "code {:?}{}; stdout {:?}; stderr {:?}",
            self.code,
            if self.timed_out { " (TIMED OUT)" } else { "" },
            self.stdout,
            self.stderr
        )
    }
}

/// Wait for `child` until `timeout`; on expiry SIGKILL it by PID and reap it.
fn wait_timeout(child: &mut Child, timeout: Duration) -> (Option<i32>, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return (st.code(), false),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let st = child.wait().ok();
                return (st.and_then(|s| s.code()), true);
            }
        }
    }
}

/// The confined containerd + dockerd pair, and everything needed to tear it down.
struct Daemons {
    dir: PathBuf,
    sock: PathBuf,
    docker_config: PathBuf,
    cgroup_parent: String,
    containerd: Option<Child>,
    dockerd: Option<Child>,
    seq: u32,
    torn_down: bool,
}

impl Daemons {
    fn start(tag: &str) -> Result<Daemons, String> {
        let dir = std::env::temp_dir().join(format!("pier-dropin-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let mut d = Daemons {
            sock: dir.join("docker.sock"),
            docker_config: dir.join("docker-config"),
            cgroup_parent: format!("pier-dropin-{tag}"),
            dir,
            containerd: None,
            dockerd: None,
            seq: 0,
            torn_down: false,
        };
        std::fs::create_dir_all(&d.docker_config).map_err(|e| e.to_string())?;

        let cd = d.dir.join("containerd");
        std::fs::create_dir_all(&cd).map_err(|e| e.to_string())?;
        let ctr_sock = cd.join("containerd.sock");
        let ctr_cfg = cd.join("config.toml");
        let c = cd.display();
        std::fs::write(
            &ctr_cfg,
            format!(
                "version = 2\nroot = \"{c}/root\"\nstate = \"{c}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{s}\"\n[ttrpc]\n  address = \"{s}.ttrpc\"\n\
                 [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n\
                 [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{c}/opt\"\n",
                s = ctr_sock.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let clog = File::create(cd.join("containerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&ctr_cfg)
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(clog.try_clone().map_err(|e| e.to_string())?)
            .stderr(clog)
            .spawn()
            .map_err(|e| format!("spawn containerd: {e}"))?;
        d.containerd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ctr_sock.exists() {
            let dead = d.containerd.as_mut().unwrap().try_wait().ok().flatten();
            if dead.is_some() || Instant::now() > deadline {
                return Err(format!(
                    "containerd did not start: {}",
                    tail(&cd.join("containerd.log"))
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }

        let cfg = d.dir.join("daemon.json");
        std::fs::write(
            &cfg,
            serde_json::json!({ "deprecated-key-path": d.dir.join("key.json") }).to_string(),
        )
        .map_err(|e| e.to_string())?;
        let logp = d.dir.join("dockerd.log");
        let log = File::create(&logp).map_err(|e| e.to_string())?;
        let ns = format!("pier-dropin-{tag}");
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(&cfg)
            .arg("-H")
            .arg(format!("unix://{}", d.sock.display()))
            .arg("--data-root")
            .arg(d.dir.join("data"))
            .arg("--exec-root")
            .arg(d.dir.join("exec"))
            .arg("--pidfile")
            .arg(d.dir.join("dockerd.pid"))
            .arg("--containerd")
            .arg(&ctr_sock)
            .args(["--containerd-namespace", &ns])
            .args(["--containerd-plugins-namespace", &format!("{ns}-plugins")])
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
                "--log-level",
                "warn",
            ])
            .arg("--cgroup-parent")
            .arg(format!("/{}", d.cgroup_parent))
            .arg("--add-runtime")
            .arg(format!("pier={PIER_RUNC}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn dockerd: {e}"))?;
        d.dockerd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if d.dockerd
                .as_mut()
                .unwrap()
                .try_wait()
                .ok()
                .flatten()
                .is_some()
            {
                return Err(format!("dockerd exited: {}", tail(&logp)));
            }
            if d.sock.exists() {
                let o = d.docker(&["version", "--format", "{{.Server.Version}}"], None);
                if o.code == Some(0) {
                    eprintln!("dockerd {} up on {}", o.stdout.trim(), d.sock.display());
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err(format!("dockerd did not answer: {}", tail(&logp)));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(d)
    }

    fn docker_cmd(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY");
        c
    }

    /// Run the docker CLI with `args` (stdin from `stdin_file` or /dev/null) under CMD_TIMEOUT.
    fn docker(&mut self, args: &[&str], stdin_file: Option<&Path>) -> Out {
        self.seq += 1;
        let out_p = self.dir.join(format!("cmd{}.out", self.seq));
        let err_p = self.dir.join(format!("cmd{}.err", self.seq));
        let mut c = self.docker_cmd();
        c.args(args)
            .stdout(File::create(&out_p).unwrap())
            .stderr(File::create(&err_p).unwrap());
        match stdin_file {
            Some(p) => c.stdin(File::open(p).unwrap()),
            None => c.stdin(Stdio::null()),
        };
        let mut child = match c.spawn() {
            Ok(ch) => ch,
            Err(e) => {
                return Out {
                    code: None,
                    stdout: String::new(),
                    stderr: format!("spawn docker: {e}"),
                    timed_out: false,
                }
            }
        };
        let (code, timed_out) = wait_timeout(&mut child, CMD_TIMEOUT);
        Out {
            code,
            stdout: std::fs::read_to_string(&out_p).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_p).unwrap_or_default(),
            timed_out,
        }
    }

    /// `docker run -it` on a pty: wait for the shell prompt, type `line`, collect everything the
    /// session prints until docker exits. Returns (exit code, transcript).
    fn docker_pty(&mut self, args: &[&str], line: &str) -> (Option<i32>, bool, String) {
        let ws = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let dup = |fd: &OwnedFd| fd.as_fd().try_clone_to_owned().expect("dup pty slave");
        let mut c = self.docker_cmd();
        c.args(args)
            .stdin(Stdio::from(dup(&slave)))
            .stdout(Stdio::from(dup(&slave)))
            .stderr(Stdio::from(dup(&slave)));
        let mut child = c.spawn().expect("spawn docker on a pty");
        drop(slave);
        let mut master = File::from(pty.master);
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let reader = {
            let buf = Arc::clone(&buf);
            let mut m = master.try_clone().expect("dup pty master");
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                // ends with EIO once docker (the last holder of the slave) exits
                while let Ok(n) = m.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            })
        };
        let deadline = Instant::now() + CMD_TIMEOUT;
        let mut typed = false;
        let mut result = None;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                result = Some((st.code(), false));
                break;
            }
            if !typed && String::from_utf8_lossy(&buf.lock().unwrap()).contains("# ") {
                let _ = master.write_all(line.as_bytes());
                typed = true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let (code, timed_out) = match result {
            Some(r) => r,
            None => wait_timeout(&mut child, Duration::ZERO),
        };
        // docker has exited, so the reader sees EIO; don't wait forever if a grandchild kept it
        let t = Instant::now();
        while !reader.is_finished() && t.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(master);
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        (code, timed_out, text)
    }

    /// Tear everything down; returns the problems found (leftover processes, mounts, cgroups).
    fn teardown(&mut self) -> Vec<String> {
        if self.torn_down {
            return Vec::new();
        }
        self.torn_down = true;
        let mut problems = Vec::new();
        if self.dockerd.is_some() && self.sock.exists() {
            let ids = self.docker(&["ps", "-aq"], None);
            let ids: Vec<String> = ids.stdout.split_whitespace().map(String::from).collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids.iter().map(String::as_str));
                let o = self.docker(&args, None);
                if o.code != Some(0) {
                    problems.push(format!("docker rm -f: {}", o.describe()));
                }
            }
        }
        for (name, child) in [
            ("dockerd", self.dockerd.take()),
            ("containerd", self.containerd.take()),
        ] {
            if let Some(mut ch) = child {
                let _ = kill(Pid::from_raw(ch.id() as i32), Signal::SIGTERM);
                let (_, killed) = wait_timeout(&mut ch, Duration::from_secs(20));
                if killed {
                    problems.push(format!("{name} needed SIGKILL"));
                }
            }
        }
        // processes still referring to our directory (shims, containers' helpers) or in our cgroups
        let dir = self.dir.to_string_lossy().into_owned();
        let left = our_processes(&dir, &self.cgroup_parent);
        for (pid, cmd) in &left {
            problems.push(format!("process {pid} left behind: {cmd}"));
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
        }
        // mounts under the temp dir, deepest first
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(unescape_mount))
            .filter(|m| m == &dir || m.starts_with(&format!("{dir}/")))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in &mounts {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        // cgroups under the unique parent, in every hierarchy
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let p = h.path().join(&self.cgroup_parent);
                if p.is_dir() {
                    remove_cgroup_tree(&p);
                    if p.exists() {
                        problems.push(format!("cgroup {} could not be removed", p.display()));
                    }
                }
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            problems.push(format!("remove {}: {e}", self.dir.display()));
        }
        let left = our_processes(&dir, &self.cgroup_parent);
        for (pid, cmd) in left {
            problems.push(format!("process {pid} still alive after cleanup: {cmd}"));
        }
        problems
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for p in self.teardown() {
            eprintln!("cleanup: {p}");
        }
    }
}

/// PIDs whose command line mentions `dir` or whose cgroup is under `cgroup_parent`.
fn our_processes(dir: &str, cgroup_parent: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let cg = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
        let in_cg = cg.lines().any(|l| {
            l.contains(&format!(":/{cgroup_parent}/")) || l.ends_with(&format!(":/{cgroup_parent}"))
        });
        if cmd.contains(dir) || in_cg {
            v.push((pid, cmd.trim().to_string()));
        }
    }
    v
}

/// Remove a cgroup directory tree, children first (cgroup dirs hold only pseudo-files).
fn remove_cgroup_tree(p: &Path) {
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    for _ in 0..50 {
        if std::fs::remove_dir(p).is_ok() || !p.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first directory named `name` under `top` (depth-first), not following symlinks.
fn find_dir(top: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(top).ok()?.flatten() {
        if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        if e.file_name() == name {
            return Some(e.path());
        }
        if let Some(p) = find_dir(&e.path(), name) {
            return Some(p);
        }
    }
    None
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A rootfs tar: static busybox with its applet symlinks in /bin, a passwd file, empty mount points.
fn busybox_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).unwrap();
    let list = Command::new("/usr/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.contains('/') {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    let tar = dir.join("busybox.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar of the busybox rootfs failed");
    tar
}

#[test]
fn dockerd_runs_containers_with_pier_runc() {
    let have = ["dockerd", "containerd", "containerd-shim-runc-v2", "runc"]
        .iter()
        .all(|b| which(b).is_some());
    if !have || !Path::new(DOCKER).exists() {
        eprintln!("SKIP: dockerd not installed");
        return;
    }
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/bin/busybox").exists() {
        eprintln!("SKIP: needs root and /usr/bin/busybox");
        return;
    }
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut d = match Daemons::start(&tag) {
        Ok(d) => d,
        Err(e) => panic!("setup: {e}"),
    };
    let tar = busybox_tar(&d.dir.clone());
    let tar_s = tar.to_string_lossy().into_owned();
    let o = d.docker(&["import", "-c", "CMD [\"sh\"]", &tar_s, "busybox"], None);
    assert_eq!(o.code, Some(0), "docker import: {}", o.describe());

    // control: the default runtime (runc) works with this setup
    let o = d.docker(&["run", "--rm", "busybox", "echo", "hi"], None);
    assert!(
        o.code == Some(0) && o.stdout == "hi\n",
        "control run with runc failed, the setup is broken: {}",
        o.describe()
    );

    let mut failures: Vec<String> = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        if ok {
            eprintln!("ok: {what}");
        } else {
            eprintln!("FAIL: {what}: {detail}");
            failures.push(format!("{what}: {detail}"));
        }
    };

    let o = d.docker(
        &["run", "--rm", "--runtime", "pier", "busybox", "echo", "hi"],
        None,
    );
    check(
        "run echo hi",
        o.code == Some(0) && o.stdout == "hi\n",
        o.describe(),
    );

    let o = d.docker(
        &[
            "run",
            "--rm",
            "--runtime",
            "pier",
            "busybox",
            "sh",
            "-c",
            "exit 7",
        ],
        None,
    );
    check("run exit 7", o.code == Some(7), o.describe());

    // the usual per-container settings dockerd puts in the spec
    let o = d.docker(
        &[
            "run",
            "--rm",
            "--runtime",
            "pier",
            "--user",
            "1000:1000",
            "--hostname",
            "pierbox",
            "--read-only",
            "--workdir",
            "/tmp",
            "-e",
            "FOO=bar",
            "busybox",
            "sh",
            "-c",
            "echo $(id -u):$(id -g) $(hostname) $PWD $FOO; touch /x 2>/dev/null && echo writable",
        ],
        None,
    );
    check(
        "run --user --hostname --read-only --workdir -e",
        o.code == Some(1) && o.stdout == "1000:1000 pierbox /tmp bar\n",
        o.describe(),
    );

    let (code, timed_out, text) = d.docker_pty(
        &["run", "-it", "--rm", "--runtime", "pier", "busybox", "sh"],
        "echo $((6*7)); exit\r",
    );
    check(
        "run -it on a pty",
        code == Some(0) && !timed_out && text.contains("42"),
        format!("code {code:?} timed out {timed_out}; transcript {text:?}"),
    );

    let o = d.docker(
        &[
            "run",
            "--rm",
            "--runtime",
            "pier",
            "--memory",
            "32m",
            "busybox",
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
        ],
        None,
    );
    check(
        "--memory 32m limit file",
        o.code == Some(0) && o.stdout.trim() == "33554432",
        o.describe(),
    );

    // dd allocates its 64 MiB block and fills it from /dev/zero: past the 32 MiB limit (no swap
    // is counted: --memory-swap equal to --memory)
    let o = d.docker(
        &[
            "run",
            "--name",
            "hog",
            "--runtime",
            "pier",
            "--memory",
            "32m",
            "--memory-swap",
            "32m",
            "busybox",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ],
        None,
    );
    check(
        "memory hog OOM-killed (exit 137)",
        o.code == Some(137),
        o.describe(),
    );
    let oi = d.docker(&["inspect", "-f", "{{.State.OOMKilled}}", "hog"], None);
    check(
        "inspect State.OOMKilled (containerd saw the OOM event in pier-runc's cgroup)",
        oi.code == Some(0) && oi.stdout.trim() == "true",
        oi.describe(),
    );
    let _ = d.docker(&["rm", "-f", "hog"], None);

    let o = d.docker(
        &["run", "-d", "--runtime", "pier", "busybox", "sleep", "600"],
        None,
    );
    let id = o.stdout.trim().to_string();
    check(
        "run -d sleep 600",
        o.code == Some(0) && !id.is_empty(),
        o.describe(),
    );
    if !id.is_empty() {
        // the container really is pier-runc's: `pier-runc state` (which reads only its own
        // state format) finds it in the root dockerd gives the shim
        // (<exec-root>/runtime-<name>/<namespace>; dockerd 20.10 names it runtime-runc)
        let root = std::fs::read_dir(d.dir.join("exec"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("runtime-"))
            .find_map(|e| find_dir(&e.path(), &id))
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let st = root.as_ref().map(|r| {
            Command::new(PIER_RUNC)
                .arg("--root")
                .arg(r)
                .args(["state", &id])
                .output()
                .unwrap()
        });
        let state: serde_json::Value = st
            .as_ref()
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or_default();
        check(
            "pier-runc state shows the container running",
            state["status"] == "running" && state["pid"].as_i64().unwrap_or(0) > 0,
            format!(
                "root {root:?}; state {state}; stderr {:?}; exec root: {}",
                st.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()),
                String::from_utf8_lossy(
                    &Command::new("find")
                        .arg(d.dir.join("exec"))
                        .args(["-maxdepth", "3"])
                        .output()
                        .unwrap()
                        .stdout
                )
            ),
        );
        let o = d.docker(&["top", &id], None);
        check(
            "top (pier-runc ps)",
            o.code == Some(0) && o.stdout.contains("sleep 600"),
            o.describe(),
        );
        let o = d.docker(&["pause", &id], None);
        let p = d.docker(&["inspect", "-f", "{{.State.Status}}", &id], None);
        check(
            "pause",
            o.code == Some(0) && p.stdout.trim() == "paused",
            format!("{}; inspect {}", o.describe(), p.describe()),
        );
        let o = d.docker(&["unpause", &id], None);
        let p = d.docker(&["inspect", "-f", "{{.State.Status}}", &id], None);
        check(
            "unpause",
            o.code == Some(0) && p.stdout.trim() == "running",
            format!("{}; inspect {}", o.describe(), p.describe()),
        );
        let o = d.docker(&["exec", &id, "echo", "x"], None);
        check(
            "exec echo x",
            o.code == Some(0) && o.stdout == "x\n",
            o.describe(),
        );
        let o = d.docker(&["exec", &id, "sh", "-c", "exit 3"], None);
        check("exec exit 3", o.code == Some(3), o.describe());
        let (code, timed_out, text) =
            d.docker_pty(&["exec", "-it", &id, "sh"], "echo $((6*7)); exit\r");
        check(
            "exec -it on a pty",
            code == Some(0) && !timed_out && text.contains("42"),
            format!("code {code:?} timed out {timed_out}; transcript {text:?}"),
        );
        let o = d.docker(&["stop", "-t", "2", &id], None);
        check("stop", o.code == Some(0), o.describe());
        let o = d.docker(&["inspect", "-f", "{{.State.Running}}", &id], None);
        check(
            "stopped container not running",
            o.code == Some(0) && o.stdout.trim() == "false",
            o.describe(),
        );
        let o = d.docker(&["rm", &id], None);
        check("rm", o.code == Some(0), o.describe());
    }

    let o = d.docker(&["ps", "-aq"], None);
    check(
        "no container left",
        o.code == Some(0) && o.stdout.trim().is_empty(),
        o.describe(),
    );

    let dockerd_log = tail(&d.dir.join("dockerd.log"));
    let problems = d.teardown();
    if !failures.is_empty() {
        eprintln!("dockerd.log tail:\n{dockerd_log}");
    }
    assert!(
        failures.is_empty(),
        "pier-runc under dockerd: {failures:#?}"
    );
    assert!(problems.is_empty(), "cleanup problems: {problems:#?}");
}
