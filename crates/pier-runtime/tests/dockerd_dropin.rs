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

use pier_testkit::RefDockerd;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The pier-runc dockerd is given: the workspace's build, or `PIER_RUNC_BIN` (scripts/test
/// runs this suite again against the static build that is installed).
fn pier_runc() -> String {
    std::env::var("PIER_RUNC_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pier-runc").into())
}
const CMD_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The confined reference daemons (testkit's [`RefDockerd`], with pier-runc added as a runtime)
/// and the per-command output files.
struct Daemons {
    r: RefDockerd,
    dir: PathBuf,
    seq: u32,
}

impl Daemons {
    fn start(tag: &str) -> Result<Daemons, String> {
        let r = RefDockerd::start(
            &format!("pier-dropin-{tag}"),
            &["--add-runtime", &format!("pier={}", pier_runc())],
        )?;
        Ok(Daemons {
            dir: r.dir().to_path_buf(),
            r,
            seq: 0,
        })
    }

    fn docker_cmd(&self) -> Command {
        self.r.docker()
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
        self.r.teardown()
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
    if let Some(why) = pier_testkit::refdockerd_skip_reason() {
        eprintln!("SKIP: {why}");
        return;
    }
    if !Path::new("/usr/bin/busybox").exists() {
        eprintln!("SKIP: needs /usr/bin/busybox");
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
            Command::new(pier_runc())
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
