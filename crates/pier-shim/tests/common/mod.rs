//! Test helpers: a busybox bundle in a temp dir, a pier-shim started on it, clients of its
//! socket, and a guard that removes everything (delete op, then kill by pid, runtime delete,
//! cgroup, dirs) whatever the test's outcome.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const SHIM: &str = env!("CARGO_BIN_EXE_pier-shim");

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Root and busybox are required; tests print a skip line otherwise.
pub fn can_run() -> bool {
    if nix::unistd::geteuid().is_root() && Path::new("/usr/bin/busybox").exists() {
        return true;
    }
    eprintln!("skip: needs root and /usr/bin/busybox");
    false
}

/// pier-runc next to pier-shim (built by `cargo build --release -p pier-runtime`).
pub fn pier_runc() -> Option<PathBuf> {
    let p = Path::new(SHIM).parent()?.join("pier-runc");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skip: {} not built", p.display());
        None
    }
}

pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub id: String,
    pub cgroup: String,
    pub config: Value,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("pier-shim-")
            .tempdir()
            .unwrap();
        pier_testkit::bundle::busybox_rootfs(&dir.path().join("bundle/rootfs")).unwrap();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let id = format!("s{}-{}", std::process::id(), n);
        let cgroup = format!("/pier-shim-test-{id}");
        let config = pier_testkit::bundle::test_config(
            pier_runtime::spec::default_spec(false),
            args,
            &cgroup,
        );
        Bundle {
            dir,
            id,
            cgroup,
            config,
        }
    }

    pub fn tty(mut self) -> Bundle {
        self.config["process"]["terminal"] = json!(true);
        self
    }

    /// Without a pid namespace (so the init is not a namespace's pid 1 and default signal
    /// actions apply to it).
    pub fn no_pid_ns(mut self) -> Bundle {
        let ns = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
        self
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("runtime")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    pub fn sock(&self) -> PathBuf {
        self.state_dir().join("shim.sock")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("container.log")
    }

    pub fn write_config(&self) {
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Run pier-shim; returns its handshake, its exit status and the guard.
    pub fn start_shim(self, extra: &[&str]) -> (Value, std::process::ExitStatus, Guard) {
        self.write_config();
        let mut c = Command::new(SHIM);
        c.arg("--id")
            .arg(&self.id)
            .arg("--bundle")
            .arg(self.bundle())
            .arg("--runtime-root")
            .arg(self.root())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--log-path")
            .arg(self.log_path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = c.spawn().unwrap();
        let starter = child.id() as i32;
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: Value =
            serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("handshake {text:?}: {e}"));
        let guard = Guard {
            shim_pid: v["pid"].as_i64().map(|p| p as i32),
            init_pid: v["init_pid"].as_i64().map(|p| p as i32),
            starter,
            b: self,
        };
        (v, out.status, guard)
    }

    /// Cgroup dirs of this container in every v1 hierarchy (or the v2 dir).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let rel = self.cgroup.trim_start_matches('/');
        if pier_runtime::cgroups::is_pure_v2() {
            return vec![Path::new("/sys/fs/cgroup").join(rel)];
        }
        std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|e| e.path().join(rel))
            .collect()
    }
}

/// Owns a started shim and its container; cleans up on drop.
pub struct Guard {
    pub b: Bundle,
    pub shim_pid: Option<i32>,
    pub init_pid: Option<i32>,
    pub starter: i32,
}

pub fn alive(pid: i32) -> bool {
    // A zombie is not alive for our purposes.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let rest = &s[s.rfind(')').unwrap() + 2..];
            !rest.starts_with('Z') && !rest.starts_with('X')
        }
        Err(_) => false,
    }
}

impl Guard {
    pub fn sock(&self) -> PathBuf {
        self.b.sock()
    }

    pub fn req(&self, v: Value) -> Value {
        request(&self.sock(), &v)
    }

    pub fn ok(&self, v: Value) {
        let r = self.req(v.clone());
        assert_eq!(r["ok"], true, "{v} -> {r}");
    }

    pub fn start(&self) {
        self.ok(json!({"op": "start"}));
    }

    pub fn wait(&self) -> Value {
        self.req(json!({"op": "wait"}))
    }

    pub fn log(&self) -> Vec<Value> {
        read_log(&self.b.log_path())
    }

    /// Delete the container through the shim and check the shim is gone and nothing is left
    /// but exit.json.
    pub fn delete_and_check(&mut self) {
        let r = self.req(json!({"op": "delete"}));
        assert_eq!(r["ok"], true, "delete: {r}");
        let pid = self.shim_pid.unwrap();
        let t = Instant::now();
        while alive(pid) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(pid), "shim still running after delete");
        let left: Vec<String> = std::fs::read_dir(self.b.state_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["exit.json".to_string()]);
        assert!(
            !self.b.root().join(&self.b.id).exists(),
            "runtime state left"
        );
        for d in self.b.cgroup_dirs() {
            assert!(!d.exists(), "cgroup {} left", d.display());
        }
        self.shim_pid = None;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pid) = self.shim_pid {
            if alive(pid) && self.sock().exists() {
                // Stop the container, then let the shim delete it.
                let _ = try_request(
                    &self.sock(),
                    &json!({"op": "kill", "signal": 9, "all": true}),
                );
                let _ = try_request(&self.sock(), &json!({"op": "wait"}));
                let _ = try_request(&self.sock(), &json!({"op": "delete"}));
            }
            if alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if let Some(pid) = self.init_pid {
            if alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = pier_runtime::container::delete(&self.b.root(), &self.b.id, true);
        for d in self.b.cgroup_dirs() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn try_request(sock: &Path, v: &Value) -> std::io::Result<Value> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("{v}\n").as_bytes())?;
    let line = read_line(&mut s)?;
    serde_json::from_slice(&line).map_err(std::io::Error::other)
}

/// One request, its reply.
pub fn request(sock: &Path, v: &Value) -> Value {
    try_request(sock, v).unwrap_or_else(|e| panic!("request {v}: {e}"))
}

/// Read one line byte by byte (so nothing of a following stream is consumed). A read with a
/// receive timeout fails with EINTR instead of restarting when the process was stopped or frozen
/// meanwhile (`sock_intr_errno`): it is read again (CI saw it once in `oom_kill_is_reported`).
pub fn read_line(s: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => return Ok(out),
            Ok(_) if b[0] == b'\n' => return Ok(out),
            Ok(_) => out.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Send a request that turns into a stream; returns the reply and the connection.
pub fn stream(sock: &Path, v: &Value) -> (Value, UnixStream) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("{v}\n").as_bytes()).unwrap();
    let line = read_line(&mut s).unwrap();
    (serde_json::from_slice(&line).unwrap(), s)
}

/// Read multiplexed frames until EOF: (stdout, stderr).
pub fn demux_all(s: &mut UnixStream) -> (Vec<u8>, Vec<u8>) {
    let mut out = (Vec::new(), Vec::new());
    while let Some((id, data)) = read_frame(s) {
        match id {
            1 => out.0.extend(data),
            2 => out.1.extend(data),
            x => panic!("bad stream id {x}"),
        }
    }
    out
}

pub fn read_frame(s: &mut UnixStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 8];
    if s.read_exact(&mut h).is_err() {
        return None;
    }
    assert_eq!(&h[1..4], &[0, 0, 0]);
    let n = u32::from_be_bytes(h[4..8].try_into().unwrap()) as usize;
    let mut data = vec![0u8; n];
    s.read_exact(&mut data).unwrap();
    Some((h[0], data))
}

/// Read raw bytes until `needle` appears (or panic after the timeout).
pub fn read_until(s: &mut UnixStream, acc: &mut Vec<u8>, needle: &str) {
    let t = Instant::now();
    let mut b = [0u8; 4096];
    while !String::from_utf8_lossy(acc).contains(needle) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no {needle:?} in {:?}",
            String::from_utf8_lossy(acc)
        );
        match s.read(&mut b) {
            Ok(0) => panic!("EOF before {needle:?}: {:?}", String::from_utf8_lossy(acc)),
            Ok(n) => acc.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

pub fn read_log(p: &Path) -> Vec<Value> {
    let f = match std::fs::File::open(p) {
        Ok(f) => f,
        Err(_) => return Vec::new(),
    };
    std::io::BufReader::new(f)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

/// An OCI process for exec.
pub fn process(args: &[&str], tty: bool) -> Value {
    json!({
        "terminal": tty,
        "args": args,
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "env": ["PATH=/bin:/usr/bin", "TERM=xterm"],
    })
}
