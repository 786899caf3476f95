//! A pierd for one test: its own data root, exec root, socket and pid file in a fresh short
//! dir under /tmp (unix socket paths must stay under 108 bytes).
//!
//! [`Daemon::start`] runs `target/release/pierd` (`PIER_BIN_DIR` overrides the directory) with
//! dockerd's flags and returns once `GET /_ping` answers 200 on the socket. Dropping it sends
//! SIGTERM, waits up to 10 s, then SIGKILL — always to the PID it started and nothing else —
//! then detaches every mount under its dirs (deepest first, from /proc/self/mountinfo) and only
//! then removes the dirs, so a leftover bind mount can never make cleanup delete host files.
//!
//! Networking: every daemon gets its own default bridge (`pk<slot>`), bridge subnet
//! (10.216-219.x.0/24) and address pool for user networks (10.220-223.x.0/24 in /28s), the slot
//! being unique per process and per live daemon; on drop its nft table (`pier-<bridge>`), its
//! iptables chains (`PIER-<bridge>-*`, and the jumps into them) when it used iptables, and every
//! bridge holding an address of its ranges (with their veths) are deleted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::http::{unix_request, Response};

static NET_SLOTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A network slot (0..1024) no live daemon of this process uses and whose bridge is absent.
fn pick_net_slot() -> u32 {
    let base = std::process::id().wrapping_mul(37);
    loop {
        let n = NET_SLOTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slot = base.wrapping_add(n.wrapping_mul(7)) % 1024;
        if !Path::new(&format!("/sys/class/net/{}", slot_bridge(slot))).exists() {
            return slot;
        }
    }
}

fn slot_bridge(slot: u32) -> String {
    format!("pk{slot:03x}")
}

/// Directory holding the release binaries: `PIER_BIN_DIR`, else `<workspace>/target/release`
/// (or `$CARGO_TARGET_DIR/release`).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PIER_BIN_DIR") {
        return d.into();
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("release");
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/release")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release"))
}

/// Path of the pierd binary.
pub fn pierd_bin() -> PathBuf {
    bin_dir().join("pierd")
}

/// Path of the pier CLI binary.
pub fn pier_bin() -> PathBuf {
    bin_dir().join("pier")
}

/// Why daemon tests cannot run here (not root, pierd not built), or None when they can.
/// Tests print `SKIP: <reason>` and return when this is Some.
pub fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root".into());
    }
    if !pierd_bin().is_file() {
        return Some(format!(
            "{} not built (cargo build --release -p pierd -p pier)",
            pierd_bin().display()
        ));
    }
    None
}

/// Options for [`Daemon::start`].
#[derive(Debug, Clone, Default)]
pub struct DaemonOpts {
    /// Extra arguments after the standard ones (e.g. `--insecure-registry`, `--log-level`).
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Another daemon binary than [`pierd_bin`] (testkit self-tests).
    pub bin: Option<PathBuf>,
}

impl DaemonOpts {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
}

/// A running pierd. See the module docs.
pub struct Daemon {
    dir: PathBuf,
    opts: DaemonOpts,
    child: Option<Child>,
    /// How many times the daemon was started (the log is split per start).
    starts: u32,
    /// Selects the bridge name, bridge subnet and address pool (see the module doc).
    net_slot: u32,
}

impl Daemon {
    /// Start a pierd; panics with its log when it does not answer `/_ping` within 30 s.
    pub fn start(opts: DaemonOpts) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("pier-")
            .tempdir_in("/tmp")
            .expect("create daemon temp dir")
            .keep();
        for d in ["root", "exec", "docker-config"] {
            fs::create_dir_all(dir.join(d)).expect("create daemon dirs");
        }
        let mut d = Daemon {
            dir,
            opts,
            child: None,
            starts: 0,
            net_slot: pick_net_slot(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        self.starts += 1;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open daemon log");
        use std::io::Write;
        let _ = writeln!(&log, "=== pier-testkit: start #{} ===", self.starts);
        let _ = fs::remove_file(self.socket());
        let bin = self.opts.bin.clone().unwrap_or_else(pierd_bin);
        let mut cmd = Command::new(&bin);
        cmd.arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--pidfile")
            .arg(self.dir.join("pierd.pid"))
            .arg("--cgroup-parent")
            .arg(self.cgroup_parent())
            .arg("--bridge")
            .arg(self.bridge())
            .arg("--bip")
            .arg(format!("{}1/24", self.bridge_subnet_prefix()))
            .arg("--default-address-pool")
            .arg(format!("base={},size=28", self.address_pool()))
            .args(&self.opts.args)
            .envs(self.opts.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                panic!(
                    "pierd exited during startup ({status}); log:\n{}",
                    self.log()
                );
            }
            if let Ok(r) = unix_request(&self.socket(), "GET", "/_ping", None) {
                if r.status == 200 {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "pierd did not answer /_ping within 30 s; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The per-daemon directory (everything below it is removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `--data-root`
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("root")
    }
    /// `--exec-root`
    pub fn exec_root(&self) -> PathBuf {
        self.dir.join("exec")
    }
    /// `--cgroup-parent`: a cgroup of this daemon's own ("/pier-test-<dir name>").
    pub fn cgroup_parent(&self) -> String {
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        format!("/pier-test-{}", name.unwrap_or_default())
    }
    /// The API socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("pier.sock")
    }
    /// "unix://<socket>"
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
    /// The daemon's default bridge (`--bridge`).
    pub fn bridge(&self) -> String {
        slot_bridge(self.net_slot)
    }
    /// "10.216.7." — the default bridge's /24 without its last byte.
    pub fn bridge_subnet_prefix(&self) -> String {
        format!("10.{}.{}.", 216 + self.net_slot / 256, self.net_slot % 256)
    }
    /// The /24 user networks are carved from (`--default-address-pool`, /28 each).
    pub fn address_pool(&self) -> String {
        format!(
            "10.{}.{}.0/24",
            220 + self.net_slot / 256,
            self.net_slot % 256
        )
    }
    /// pierd's nft table (family ip); also the name its iptables chains derive from.
    pub fn nft_table(&self) -> String {
        format!("pier-{}", self.bridge())
    }
    /// pierd's iptables chains (`PIER-<bridge>-GUARD`, `-PRE`, …) with their iptables table.
    pub fn iptables_chains(&self) -> Vec<(&'static str, String)> {
        pier_network::iptables::chain_names(&self.nft_table()).unwrap_or_default()
    }
    /// The packet filter pierd chose, as it records it in its exec root ("nftables" or
    /// "iptables"; `None` before it chose one or with `--iptables=false`).
    pub fn firewall_backend(&self) -> Option<String> {
        fs::read_to_string(self.exec_root().join("firewall-backend"))
            .ok()
            .map(|s| s.trim().to_string())
    }
    /// Deletes the daemon's nft table, its iptables chains and the jumps into them (when it
    /// used iptables; only chains named after its own bridge) and its bridges (any bridge with
    /// an address in its ranges) with their veths. Idempotent.
    pub fn remove_network_state(&self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.nft_table()])
            .stderr(Stdio::null())
            .status();
        if self.firewall_backend().as_deref() == Some("iptables") {
            if let Err(e) = pier_network::iptables::remove(&self.nft_table()) {
                eprintln!("pier-testkit: iptables chains of {}: {e}", self.bridge());
            }
        }
        let prefixes = [
            self.bridge_subnet_prefix(),
            format!("10.{}.{}.", 220 + self.net_slot / 256, self.net_slot % 256),
        ];
        // User networks may use any subnet and name (`--subnet`, `-o …bridge.name`): their
        // bridges come from the daemon's own store, read after pierd has stopped.
        let mut bridges = bridges_with_addresses(&prefixes);
        bridges.extend(self.user_network_bridges());
        bridges.sort();
        bridges.dedup();
        for br in bridges {
            for port in links_on(&br) {
                let _ = Command::new("ip").args(["link", "del", &port]).status();
            }
            let _ = Command::new("ip").args(["link", "del", &br]).status();
        }
    }
    /// The host bridges of the user-defined networks this daemon's store records (not the
    /// predefined `bridge`, whose bridge [`Daemon::remove_network_state`] finds by address).
    fn user_network_bridges(&self) -> Vec<String> {
        let db = self.data_root().join("pier.db");
        if !db.exists() {
            return Vec::new();
        }
        let Ok(out) = Command::new("sqlite3")
            .arg("-readonly")
            .arg(&db)
            .arg("SELECT json_extract(record, '$.bridge') FROM networks WHERE name <> 'bridge'")
            .stderr(Stdio::null())
            .output()
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|b| !b.is_empty() && *b != "none")
            .map(str::to_string)
            .collect()
    }
    /// A DOCKER_CONFIG dir private to this daemon (never the user's ~/.docker).
    pub fn docker_config(&self) -> PathBuf {
        self.dir.join("docker-config")
    }
    fn log_path(&self) -> PathBuf {
        self.dir.join("pierd.log")
    }
    /// Everything pierd wrote to stdout/stderr (all starts).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    /// PID of the running pierd (panics when it is stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon not running").id()
    }
    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGTERM, wait up to `timeout`, SIGKILL. Returns whether it exited on SIGTERM.
    pub fn stop(&mut self, timeout: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        if !matches!(child.try_wait(), Ok(None)) {
            return true;
        }
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// SIGKILL pierd (no cleanup on its side) and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop (if running) and start again with the same dirs and options.
    pub fn restart(&mut self) {
        self.stop(Duration::from_secs(10));
        self.spawn();
    }

    /// The options of the next start (e.g. another flag for [`Daemon::start_again`]).
    pub fn opts_mut(&mut self) -> &mut DaemonOpts {
        &mut self.opts
    }

    /// Start again after [`Daemon::kill9`] or [`Daemon::stop`].
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// One raw Engine API call (`path` with or without a `/v1.50` prefix); body sent as JSON.
    pub fn api(&self, method: &str, path: &str, body: Option<&[u8]>) -> Response {
        unix_request(&self.socket(), method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", self.socket().display()))
    }

    /// Like [`Daemon::api`] but returns the I/O error (the daemon may be down).
    /// A bodyless API request whose response headers have arrived (see [`crate::http::Pending`]).
    pub fn api_pending(&self, method: &str, path: &str) -> crate::http::Pending {
        crate::http::unix_request_pending(&self.socket(), method, path)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn try_api(&self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<Response> {
        unix_request(&self.socket(), method, path, body)
    }
}

/// Bridges holding an IPv4 address that starts with one of `prefixes` ("10.216.7.").
pub fn bridges_with_addresses(prefixes: &[String]) -> Vec<String> {
    let Ok(out) = Command::new("ip")
        .args(["-j", "-4", "addr", "show", "type", "bridge"])
        .output()
    else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut found = Vec::new();
    for l in v.as_array().cloned().unwrap_or_default() {
        let name = l["ifname"].as_str().unwrap_or("").to_string();
        let hit = l["addr_info"].as_array().is_some_and(|a| {
            a.iter().any(|ai| {
                let local = ai["local"].as_str().unwrap_or("");
                prefixes.iter().any(|p| local.starts_with(p.as_str()))
            })
        });
        if hit && !name.is_empty() {
            found.push(name);
        }
    }
    found
}

/// The links enslaved to bridge `br` (its veths).
pub fn links_on(br: &str) -> Vec<String> {
    let Ok(out) = Command::new("ip")
        .args(["-j", "link", "show", "master", br])
        .output()
    else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|l| l["ifname"].as_str().map(str::to_string))
        .collect()
}

/// Ends what this daemon's containers left running: every pier-shim whose `shim.pid` is in a state dir
/// (`<exec_root>/s/*/`) (checked to be a pier-shim by its command line), every process in the cgroups
/// under `cgroup_parent` (in each hierarchy), then removes those cgroups, deepest first.
pub fn kill_containers(exec_root: &Path, cgroup_parent: &str) {
    if let Ok(rd) = fs::read_dir(exec_root.join("s")) {
        for e in rd.flatten() {
            let Ok(text) = fs::read_to_string(e.path().join("shim.pid")) else {
                continue;
            };
            let Ok(pid) = text.trim().parse::<i32>() else {
                continue;
            };
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains("pier-shim") {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let rel = cgroup_parent.trim_matches('/');
    if rel.is_empty() {
        return;
    }
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup").join(rel)];
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        roots.extend(rd.flatten().map(|e| e.path().join(rel)));
    }
    for _ in 0..50 {
        let mut dirs = Vec::new();
        for r in &roots {
            collect_dirs(r, &mut dirs);
        }
        if dirs.is_empty() {
            return;
        }
        dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for d in &dirs {
            let _ = fs::write(d.join("freezer.state"), "THAWED");
            if let Ok(procs) = fs::read_to_string(d.join("cgroup.procs")) {
                for p in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                }
            }
            let _ = fs::remove_dir(d);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_path_buf());
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Mount points at or under `dir`, deepest first (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detach every mount under `dir` (deepest first), repeating while some remain (stacked
/// mounts), then remove `dir` — but only when nothing is mounted below it any more.
pub fn unmount_and_remove(dir: &Path) {
    for _ in 0..10 {
        let mounts = mounts_under(dir);
        if mounts.is_empty() {
            break;
        }
        for m in mounts {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    if mounts_under(dir).is_empty() {
        let _ = fs::remove_dir_all(dir);
    } else {
        eprintln!(
            "pier-testkit: not removing {}: mounts remain under it",
            dir.display()
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
        if std::thread::panicking() {
            // The test failed: show the end of pierd's log next to the failure.
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!(
                "--- pierd log ({}), last {} lines ---",
                self.log_path().display(),
                tail.len()
            );
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        if std::thread::panicking() && std::env::var_os("PIER_KEEP_DIRS").is_some() {
            eprintln!("pier-testkit: keeping {}", self.dir.display());
            return;
        }
        kill_containers(&self.exec_root(), &self.cgroup_parent());
        self.remove_network_state();
        unmount_and_remove(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b\134c"), r"/tmp/a b\c");
        assert_eq!(unescape_mountinfo(r"/x\04"), r"/x\04");
    }

    const FAKE_PIERD: &str = r#"#!/usr/bin/env python3
import os, signal, socket, sys
a = sys.argv[1:]
path = a[a.index("-H") + 1][len("unix://"):]
open(a[a.index("--pidfile") + 1], "w").write(str(os.getpid()))
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
def term(*_):
    os.unlink(path)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
while True:
    c, _ = s.accept()
    req = c.recv(65536).decode()
    target = req.split(" ")[1]
    st, body = ("200 OK", b"OK") if target == "/_ping" else ("404 Not Found", b'{"message":"page not found"}')
    c.sendall(("HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n" % (st, len(body))).encode() + body)
    c.close()
"#;

    #[test]
    fn daemon_lifecycle_with_a_fake_pierd() {
        use std::os::unix::fs::PermissionsExt;
        if crate::cli::which("python3").is_none() {
            println!("SKIP: python3 not installed");
            return;
        }
        let bin_dir = tempfile::tempdir().unwrap();
        let bin = bin_dir.path().join("fake-pierd");
        fs::write(&bin, FAKE_PIERD).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let mut d = Daemon::start(DaemonOpts {
            bin: Some(bin),
            ..Default::default()
        });
        let dir = d.dir().to_path_buf();
        assert!(d.socket().as_os_str().len() < 108);
        assert!(d.host().starts_with("unix:///tmp/pier-"));
        assert_eq!(d.api("GET", "/_ping", None).text(), "OK");
        assert_eq!(d.api("GET", "/nope", None).status, 404);
        let pid1 = d.pid();
        let pidfile = fs::read_to_string(dir.join("pierd.pid")).unwrap();
        assert_eq!(pidfile.trim(), pid1.to_string());
        d.restart();
        let pid2 = d.pid();
        assert_ne!(pid1, pid2);
        d.kill9();
        assert!(!d.is_running());
        assert!(d.try_api("GET", "/_ping", None).is_err());
        d.start_again();
        assert_eq!(d.api("GET", "/_ping", None).status, 200);
        let pid3 = d.pid();
        assert!(d.log().contains("start #3"));
        drop(d);
        assert!(!dir.exists());
        let alive = fs::read_to_string(format!("/proc/{pid3}/cmdline")).unwrap_or_default();
        assert!(!alive.contains("fake-pierd"), "daemon survived drop");
    }

    #[test]
    fn unmounts_before_removing() {
        if !nix::unistd::geteuid().is_root() {
            println!("SKIP: needs root");
            return;
        }
        let dir = tempfile::Builder::new()
            .prefix("pier-t-")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("precious"), "keep me").unwrap();
        let target = dir.join("m");
        fs::create_dir(&target).unwrap();
        nix::mount::mount(
            Some(src.path()),
            &target,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        assert_eq!(mounts_under(&dir), vec![target.clone()]);
        unmount_and_remove(&dir);
        assert!(!dir.exists());
        assert!(
            src.path().join("precious").exists(),
            "bind source was deleted"
        );
    }
}
