//! [`RefDockerd`]: the reference engine tests and benchmarks compare pier with — Debian's real
//! dockerd with its own containerd, confined to one temp directory: own data root, exec root,
//! pidfile, sockets, containerd namespaces and cgroup parent (`/<tag>`, cgroupfs driver), no
//! default bridge, no iptables, no IP forwarding or masquerading. User-defined networks the tests
//! create are real bridges; teardown removes them through the daemon before stopping it.
//!
//! Teardown ([`RefDockerd::teardown`], also run on drop): containers (`rm -f`), custom networks,
//! dockerd then containerd (SIGTERM by PID, SIGKILL after a grace), any process still mentioning
//! the directory or living in the cgroup parent (by PID), mounts under the directory (deepest
//! first), the cgroup parent in every hierarchy, the directory. It returns what it had to force.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cli::which;

/// The binaries [`RefDockerd`] needs.
const NEEDED: [&str; 5] = [
    "dockerd",
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "docker",
];

/// Why a reference dockerd cannot run here (not root, a binary missing), or None.
pub fn refdockerd_skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root".into());
    }
    NEEDED
        .iter()
        .find(|b| which(b).is_none())
        .map(|b| format!("{b} not installed"))
}

/// A running confined containerd + dockerd pair (see the module docs).
pub struct RefDockerd {
    dir: PathBuf,
    sock: PathBuf,
    docker_config: PathBuf,
    cgroup_parent: String,
    containerd: Option<Child>,
    dockerd: Option<Child>,
    torn_down: bool,
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return false,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                return true;
            }
        }
    }
}

/// The last lines of a log file, for start errors.
fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl RefDockerd {
    /// Start containerd and dockerd under `$TMPDIR/<tag>` (`tag` must be unique: it also names
    /// the cgroup parent and containerd namespaces), with `extra` dockerd arguments (e.g.
    /// `--add-runtime pier=/path`). Waits until `docker version` answers.
    pub fn start(tag: &str, extra: &[&str]) -> Result<RefDockerd, String> {
        let dir = std::env::temp_dir().join(tag);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let mut d = RefDockerd {
            sock: dir.join("docker.sock"),
            docker_config: dir.join("docker-config"),
            cgroup_parent: tag.to_string(),
            dir,
            containerd: None,
            dockerd: None,
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
        d.containerd = Some(
            Command::new("containerd")
                .arg("--config")
                .arg(&ctr_cfg)
                .args(["--log-level", "warn"])
                .stdin(Stdio::null())
                .stdout(clog.try_clone().map_err(|e| e.to_string())?)
                .stderr(clog)
                .spawn()
                .map_err(|e| format!("spawn containerd: {e}"))?,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ctr_sock.exists() {
            let dead = d
                .containerd
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
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
        d.dockerd = Some(
            Command::new("dockerd")
                .arg("--config-file")
                .arg(&cfg)
                .arg("-H")
                .arg(d.host())
                .arg("--data-root")
                .arg(d.dir.join("data"))
                .arg("--exec-root")
                .arg(d.dir.join("exec"))
                .arg("--pidfile")
                .arg(d.dir.join("dockerd.pid"))
                .arg("--containerd")
                .arg(&ctr_sock)
                .args(["--containerd-namespace", tag])
                .args(["--containerd-plugins-namespace", &format!("{tag}-plugins")])
                .args([
                    "--bridge=none",
                    "--iptables=false",
                    "--ip6tables=false",
                    "--ip-forward=false",
                    "--ip-masq=false",
                    "--exec-opt",
                    "native.cgroupdriver=cgroupfs",
                    "--storage-driver",
                    "overlay2",
                    "--log-level",
                    "warn",
                ])
                .arg("--cgroup-parent")
                .arg(format!("/{tag}"))
                .args(extra)
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .spawn()
                .map_err(|e| format!("spawn dockerd: {e}"))?,
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if d.dockerd
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
                .is_some()
            {
                return Err(format!("dockerd exited: {}", tail(&logp)));
            }
            if d.sock.exists() {
                let ok = d
                    .docker()
                    .arg("version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if ok {
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

    /// The daemon's directory (data root `data/`, exec root `exec/`, `dockerd.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `unix:///…/docker.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// The unique cgroup parent (relative to each hierarchy's root).
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// The real docker CLI pointed at this daemon, with a private config dir.
    pub fn docker(&self) -> Command {
        let mut c = Command::new(which("docker").unwrap_or_else(|| "docker".into()));
        c.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.docker_config)
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_API_VERSION");
        c
    }

    /// `docker import` of a rootfs tar as `reference`.
    pub fn import(&self, tar: &Path, reference: &str) -> Result<(), String> {
        let o = self
            .docker()
            .arg("import")
            .arg(tar)
            .arg(reference)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }

    fn docker_words(&self, args: &[&str]) -> Vec<String> {
        self.docker()
            .args(args)
            .stderr(Stdio::null())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Tear everything down (see the module docs); returns what had to be forced.
    pub fn teardown(&mut self) -> Vec<String> {
        if self.torn_down {
            return Vec::new();
        }
        self.torn_down = true;
        let mut problems = Vec::new();
        if self.dockerd.is_some() && self.sock.exists() {
            let ids = self.docker_words(&["ps", "-aq"]);
            if !ids.is_empty() {
                let ok = self
                    .docker()
                    .args(["rm", "-f"])
                    .args(&ids)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if !ok {
                    problems.push("docker rm -f failed".into());
                }
            }
            let nets = self.docker_words(&["network", "ls", "-q", "--filter", "type=custom"]);
            if !nets.is_empty() {
                let ok = self
                    .docker()
                    .args(["network", "rm"])
                    .args(&nets)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if !ok {
                    problems.push("docker network rm failed".into());
                }
            }
        }
        for (name, child) in [
            ("dockerd", self.dockerd.take()),
            ("containerd", self.containerd.take()),
        ] {
            if let Some(mut ch) = child {
                let _ = kill(Pid::from_raw(ch.id() as i32), Signal::SIGTERM);
                if wait_timeout(&mut ch, Duration::from_secs(20)) {
                    problems.push(format!("{name} needed SIGKILL"));
                }
            }
        }
        let dir = self.dir.to_string_lossy().into_owned();
        let left = our_processes(&dir, &self.cgroup_parent);
        for (pid, cmd) in &left {
            problems.push(format!("process {pid} left behind: {cmd}"));
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(300));
        }
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
        let unified = Path::new("/sys/fs/cgroup").join(&self.cgroup_parent);
        if unified.is_dir() {
            remove_cgroup_tree(&unified);
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            problems.push(format!("remove {}: {e}", self.dir.display()));
        }
        for (pid, cmd) in our_processes(&dir, &self.cgroup_parent) {
            problems.push(format!("process {pid} still alive after cleanup: {cmd}"));
        }
        problems
    }
}

impl Drop for RefDockerd {
    fn drop(&mut self) {
        for p in self.teardown() {
            eprintln!("refdockerd cleanup: {p}");
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

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}
