//! Test helpers: a busybox bundle in a temp dir, a private state root, and a guard that deletes
//! the container (and its cgroup) whatever the test's outcome.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The pier-runc under test: the workspace's build, or the binary `PIER_RUNC_BIN` names
/// (scripts/test runs these suites a second time against the static build that is installed).
pub fn bin() -> &'static str {
    static B: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    B.get_or_init(|| {
        std::env::var("PIER_RUNC_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pier-runc").into())
    })
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Root is required (namespaces, cgroups, mounts); tests print a skip line otherwise.
pub fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() && Path::new("/usr/bin/busybox").exists() {
        return true;
    }
    eprintln!("skip: needs root and /usr/bin/busybox");
    false
}

pub struct Bundle {
    pub dir: tempfile::TempDir,
    /// The runtime binary the helpers run (default: the built pier-runc).
    pub bin: PathBuf,
    pub root: PathBuf,
    pub id: String,
    pub cgroup: String,
    pub config: Value,
}

impl Bundle {
    /// A bundle with runc's default config adapted for tests: no terminal, a unique one-level
    /// cgroup path, hostname "pier-test".
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("pier-rt-")
            .tempdir()
            .unwrap();
        pier_testkit::bundle::busybox_rootfs(&dir.path().join("rootfs")).unwrap();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let id = format!("t{}-{}", std::process::id(), n);
        let cgroup = format!("/pier-rt-test-{id}");
        let config = pier_testkit::bundle::test_config(
            pier_runtime::spec::default_spec(false),
            args,
            &cgroup,
        );
        let root = dir.path().join("state");
        Bundle {
            dir,
            bin: PathBuf::from(bin()),
            root,
            id,
            cgroup,
            config,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Copy a dynamically linked host binary into the rootfs at `dest`, with the shared
    /// libraries it needs at the same paths (so it runs inside the container).
    pub fn add_host_binary(&self, src: &Path, dest: &str) {
        let rootfs = self.rootfs();
        let to = rootfs.join(dest.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src, &to).unwrap();
        let ldd = Command::new("ldd").arg(src).output().unwrap();
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            let lib = line
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from);
            if let Some(lib) = lib {
                let to = rootfs.join(lib.strip_prefix("/").unwrap());
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(&lib, &to).unwrap();
            }
        }
    }

    /// Run this test binary inside the container as its command: only the `#[ignore]`d test
    /// `name` (a probe that runs when `env` says it is inside), with the given environment.
    pub fn run_test_inside(&mut self, name: &str, env: &[(&str, String)]) {
        let exe = std::env::current_exe().unwrap();
        self.add_host_binary(&exe, "/probe");
        self.config["process"]["args"] = serde_json::json!([
            "/probe",
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q"
        ]);
        let list = self.config["process"]["env"].as_array_mut().unwrap();
        for (k, v) in env {
            list.push(serde_json::json!(format!("{k}={v}")));
        }
    }

    pub fn write_config(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root);
        c
    }

    /// `pier-runc run` with the current config; stdin closed.
    pub fn run(&self) -> Output {
        self.write_config();
        self.cmd()
            .args(["run", "--bundle"])
            .arg(self.path())
            .arg(&self.id)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `pier-runc create`. The init inherits stdio, so stderr goes to a file (a pipe would stay
    /// open until the container exits); it is returned in `Output::stderr`.
    pub fn create(&self) -> Output {
        self.write_config();
        let log = self.path().join("create.err");
        let f = std::fs::File::create(&log).unwrap();
        let status = self
            .cmd()
            .args(["create", "--bundle"])
            .arg(self.path())
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .status()
            .unwrap();
        Output {
            status,
            stdout: vec![],
            stderr: std::fs::read(&log).unwrap_or_default(),
        }
    }

    pub fn runc(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().unwrap()
    }

    pub fn state(&self) -> Value {
        let o = self.runc(&["state", &self.id]);
        assert!(
            o.status.success(),
            "state: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
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

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(&self.id)
    }

    /// Nothing of the container is left: no state dir, no cgroup, no mount under the bundle.
    pub fn assert_clean(&self) {
        assert!(!self.state_dir().exists(), "state dir left behind");
        for d in self.cgroup_dirs() {
            assert!(!d.exists(), "cgroup {} left behind", d.display());
        }
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mi.contains(&self.path().display().to_string()),
            "mount left behind under {}",
            self.path().display()
        );
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = Command::new(bin())
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        for d in self.cgroup_dirs() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
