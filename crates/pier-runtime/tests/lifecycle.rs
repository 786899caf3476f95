//! The runc verbs end to end with a busybox bundle: run, exit codes, namespaces, hostname,
//! process settings, cgroup limits, create/start/state/kill/delete/list, exec, pause/resume, ps,
//! events, hooks, console socket, user namespaces. Root only (skips otherwise).

mod common;

use common::*;
use serde_json::json;
use std::path::Path;

#[test]
fn run_echo_hi_and_leave_nothing() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["echo", "hi"]);
    let o = b.run();
    assert_eq!(stdout(&o), "hi\n", "stderr: {}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    b.assert_clean();
}

#[test]
fn exit_code_is_the_containers() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "exit 7"]);
    assert_eq!(b.run().status.code(), Some(7));
    // Killed from outside: 128 + SIGKILL.
    let b = Bundle::new(&["sleep", "1000"]);
    b.write_config();
    let mut child = b
        .cmd()
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg(&b.id)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        let o = b.runc(&["state", &b.id]);
        if o.status.success()
            && serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["status"]
                == "running"
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(b.runc(&["kill", &b.id, "9"]).status.success());
    assert_eq!(child.wait().unwrap().code(), Some(137));
    b.assert_clean();
}

#[test]
fn pid_namespace_hostname_and_mounts() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "ps -o pid,args | grep -c . ; ps -o pid | sed -n 2p; hostname; cat /proc/self/cgroup | grep memory; test -c /dev/null && test -c /dev/urandom && test -L /dev/ptmx && echo devs; grep -c ' /sys/fs/cgroup/' /proc/self/mountinfo"]);
    let o = b.run();
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(lines[1].trim(), "1", "{out}");
    assert_eq!(lines[2], "pier-test");
    // cgroup namespace: the container sees its own cgroup as the root.
    assert!(lines[3].ends_with(":memory:/"), "{out}");
    assert_eq!(lines[4], "devs");
}

#[test]
fn process_user_env_cwd_rlimits_caps_nnp() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO; echo $HOME; ulimit -n; grep -E 'CapBnd|NoNewPrivs' /proc/self/status; umask"]);
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 7], "umask": 63});
    b.config["process"]["cwd"] = json!("/work/dir");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        &l[..7],
        &[
            "1000",
            "1000",
            "1000 5 7",
            "/work/dir",
            "bar",
            "/home/user",
            "256"
        ],
        "{out}"
    );
    // CAP_AUDIT_WRITE(29) | CAP_KILL(5) | CAP_NET_BIND_SERVICE(10)
    assert!(l[7].ends_with("0000000020000420"), "{out}");
    assert!(l[8].ends_with('1'), "{out}");
    assert_eq!(l[9], "0077");
}

#[test]
fn memory_limit_lifecycle_and_clean_delete() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["resources"]["memory"] = json!({"limit": 33554432});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 50});
    b.config["linux"]["resources"]["cpu"] =
        json!({"shares": 512, "quota": 50000, "period": 100000});
    let o = b.create();
    assert!(o.status.success(), "create: {}", stderr(&o));
    let st = b.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], json!(b.id));
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    if !pier_runtime::cgroups::is_pure_v2() {
        let rel = b.cgroup.trim_start_matches('/');
        let mem = std::fs::read_to_string(
            Path::new("/sys/fs/cgroup/memory")
                .join(rel)
                .join("memory.limit_in_bytes"),
        )
        .unwrap();
        assert_eq!(mem.trim(), "33554432");
        let pids =
            std::fs::read_to_string(Path::new("/sys/fs/cgroup/pids").join(rel).join("pids.max"))
                .unwrap();
        assert_eq!(pids.trim(), "50");
        let q = std::fs::read_to_string(
            Path::new("/sys/fs/cgroup/cpu")
                .join(rel)
                .join("cpu.cfs_quota_us"),
        )
        .unwrap();
        assert_eq!(q.trim(), "50000");
        let procs = std::fs::read_to_string(
            Path::new("/sys/fs/cgroup/memory")
                .join(rel)
                .join("cgroup.procs"),
        )
        .unwrap();
        assert!(
            procs.lines().any(|l| l.trim() == pid.to_string()),
            "init not in cgroup: {procs}"
        );
    }
    let o = b.runc(&["start", &b.id]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    assert_eq!(b.state()["status"], "running");
    let o = b.runc(&["update", "--memory", "50M", "--pids-limit", "10", &b.id]);
    assert!(o.status.success(), "update: {}", stderr(&o));
    if !pier_runtime::cgroups::is_pure_v2() {
        let rel = b.cgroup.trim_start_matches('/');
        let mem = std::fs::read_to_string(
            Path::new("/sys/fs/cgroup/memory")
                .join(rel)
                .join("memory.limit_in_bytes"),
        )
        .unwrap();
        assert_eq!(mem.trim(), (50 * 1024 * 1024).to_string());
        let pids =
            std::fs::read_to_string(Path::new("/sys/fs/cgroup/pids").join(rel).join("pids.max"))
                .unwrap();
        assert_eq!(pids.trim(), "10");
    }
    let l = b.runc(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&l.stdout).unwrap();
    assert_eq!(list[0]["id"], json!(b.id));
    // Not stopped: delete without --force refuses.
    let o = b.runc(&["delete", &b.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not stopped"), "{}", stderr(&o));
    let o = b.runc(&["kill", &b.id, "KILL"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for _ in 0..200 {
        if b.state()["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(b.state()["status"], "stopped");
    let o = b.runc(&["delete", &b.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    b.assert_clean();
    let o = b.runc(&["state", &b.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("does not exist"));
}

#[test]
fn term_ends_a_created_container() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    assert!(b.create().status.success());
    assert!(b.runc(&["kill", &b.id, "TERM"]).status.success());
    for _ in 0..200 {
        if b.state()["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(b.state()["status"], "stopped");
}

#[test]
fn delete_of_created_container_kills_init() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    assert!(b.create().status.success());
    let pid = b.state()["pid"].as_i64().unwrap() as i32;
    let o = b.runc(&["delete", &b.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(pier_runtime::sys::process_start_time(pid).is_none());
    b.assert_clean();
}

#[test]
fn exec_pause_resume_ps_events() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    assert!(b.create().status.success());
    assert!(b.runc(&["start", &b.id]).status.success());
    let o = b.runc(&["exec", &b.id, "sh", "-c", "echo in; hostname; exit 3"]);
    assert_eq!(stdout(&o), "in\npier-test\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(3));
    let o = b.runc(&[
        "exec",
        "--user",
        "1000:1000",
        "--env",
        "X=y",
        "--cwd",
        "/tmp",
        &b.id,
        "sh",
        "-c",
        "id -u; echo $X; pwd",
    ]);
    assert_eq!(stdout(&o), "1000\ny\n/tmp\n", "{}", stderr(&o));
    let o = b.runc(&["exec", &b.id, "nonexistent-binary"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("executable file not found"),
        "{}",
        stderr(&o)
    );
    let o = b.runc(&["ps", "--format", "json", &b.id]);
    let pids: Vec<i32> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(pids.len(), 1, "{pids:?}");
    assert!(b.runc(&["pause", &b.id]).status.success());
    assert_eq!(b.state()["status"], "paused");
    let o = b.runc(&["exec", &b.id, "true"]);
    assert!(!o.status.success());
    assert!(b.runc(&["resume", &b.id]).status.success());
    assert_eq!(b.state()["status"], "running");
    // The failed exec's process may still be counted for a moment: its helper exits first and
    // it is reaped by whoever inherits it. Within a few seconds only the init remains.
    let stats = || {
        let o = b.runc(&["events", "--stats", &b.id]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let mut ev = stats();
    for _ in 0..50 {
        if ev["data"]["pids"]["current"] == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        ev = stats();
    }
    assert_eq!(ev["type"], "stats");
    assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert_eq!(ev["data"]["pids"]["current"], 1, "{ev}");
    assert!(b.runc(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn hooks_get_state_on_stdin() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("PIER_T=from-process"));
    let out = b.path().join("hooks.log");
    let hook = |name: &str| json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("read s; echo \"{name} $s\" >> {}", out.display())]}]);
    // startContainer runs inside the container: it sees the log through a bind mount.
    let inner = b.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/hooklog", "type": "bind", "source": inner, "options": ["rbind", "rw"]
    }));
    b.config["hooks"] = json!({
        "prestart": hook("prestart"),
        "createRuntime": hook("createRuntime"),
        "createContainer": hook("createContainer"),
        "startContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", "read s; echo \"startContainer $s\" > /hooklog/start"]},
            // Without an env of its own it gets the process's (as runc).
            {"path": "/bin/sh", "args": ["sh", "-c", "echo \"$PIER_T\" > /hooklog/env"]},
            {"path": "/bin/sh", "args": ["sh", "-c", "echo \"$PIER_T\" > /hooklog/env2"], "env": ["X=y"]},
        ],
        "poststart": hook("poststart"),
        "poststop": hook("poststop"),
    });
    // The runtime's own hooks run in its pid namespace, also after it forked the init straight
    // into the container's (one fork: the runtime returns to its namespace for its children).
    let dir = b.path().to_path_buf();
    for name in ["createRuntime", "poststart"] {
        let script = format!(
            "readlink /proc/self/ns/pid > {}/pidns-{name}",
            dir.display()
        );
        b.config["hooks"][name]
            .as_array_mut()
            .unwrap()
            .push(json!({"path": "/bin/sh", "args": ["sh", "-c", script]}));
    }
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = std::fs::read_link("/proc/self/ns/pid").unwrap();
    for name in ["createRuntime", "poststart"] {
        let seen = std::fs::read_to_string(b.path().join(format!("pidns-{name}"))).unwrap();
        assert_eq!(seen.trim_end(), ours.to_str().unwrap(), "{name} hook");
    }
    let start = std::fs::read_to_string(inner.join("start")).unwrap();
    assert!(start.starts_with("startContainer {"), "{start}");
    let env = |f: &str| std::fs::read_to_string(inner.join(f)).unwrap();
    assert_eq!(env("env"), "from-process\n");
    assert_eq!(env("env2"), "\n");
    let log = std::fs::read_to_string(&out).unwrap();
    let names: Vec<&str> = log.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{log}"
    );
    assert!(log.contains(&format!("\"id\":\"{}\"", b.id)));
}

#[test]
fn failing_hook_fails_create_and_cleans_up() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    let o = b.run();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/bin/false"), "{}", stderr(&o));
    b.assert_clean();
}

#[test]
fn console_socket_receives_pty_master() {
    if !is_root() {
        return;
    }
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut b = Bundle::new(&["sh", "-c", "tty; echo ok"]);
    b.config["process"]["terminal"] = json!(true);
    let sock_path = b.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    b.write_config();
    let status = b
        .cmd()
        .args(["create", "--bundle"])
        .arg(b.path())
        .arg("--console-socket")
        .arg(&sock_path)
        .arg(&b.id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let (conn, _) = listener.accept().unwrap();
    let (master, _) = pier_runtime::sys::recv_fd(conn.as_raw_fd()).unwrap();
    assert!(b.runc(&["start", &b.id]).status.success());
    let mut f = std::fs::File::from(master);
    let mut out = String::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
        if out.contains("ok") {
            break;
        }
    }
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn user_namespace_maps_root() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // The rootfs must be reachable by the mapped root.
    std::fs::set_permissions(
        b.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "0");
    let map: Vec<&str> = l[1].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    b.assert_clean();
}

#[test]
fn spec_and_features() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(bin())
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(v["process"]["args"], json!(["sh"]));
    assert_eq!(v["root"]["path"], "rootfs");
    // A second spec refuses to overwrite.
    let o = std::process::Command::new(bin())
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let o = std::process::Command::new(bin())
        .arg("features")
        .output()
        .unwrap();
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("user")));
}

#[test]
fn seccomp_without_no_new_privileges() {
    if !is_root() {
        return;
    }
    // Without no_new_privs the filter is loaded while still privileged, before caps are dropped.
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "mkdir /tmp/x 2>&1; echo mkdir=$?; grep NoNewPrivs /proc/self/status",
    ]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    });
    let o = b.run();
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("Permission denied"), "{out}");
    assert!(out.contains("mkdir=1"), "{out}");
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
}

#[test]
fn foreground_terminal_run_and_exec_tty() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["sh", "-c", "tty; exit 4"]);
    b.config["process"]["terminal"] = json!(true);
    let o = b.run();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stdout(&o).contains("/dev/pts/0"), "{}", stdout(&o));
    b.assert_clean();

    let b = Bundle::new(&["sleep", "1000"]);
    assert!(b.create().status.success());
    assert!(b.runc(&["start", &b.id]).status.success());
    let o = b.runc(&["exec", "--tty", &b.id, "sh", "-c", "tty; echo done"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("/dev/pts/"), "{}", stdout(&o));
    assert!(stdout(&o).contains("done"), "{}", stdout(&o));
}

#[test]
fn kill_all_and_preserve_fds() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    assert!(b.create().status.success());
    assert!(b.runc(&["start", &b.id]).status.success());
    for _ in 0..200 {
        let o = b.runc(&["ps", "--format", "json", &b.id]);
        let pids: Vec<i32> = serde_json::from_slice(&o.stdout).unwrap_or_default();
        if pids.len() == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(b.runc(&["kill", "--all", &b.id, "KILL"]).status.success());
    for _ in 0..300 {
        if b.state()["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(b.state()["status"], "stopped");
    assert!(b.runc(&["delete", &b.id]).status.success());
    b.assert_clean();

    // --preserve-fds 1 passes fd 3 through.
    use std::os::unix::process::CommandExt;
    let b = Bundle::new(&["sh", "-c", "cat <&3"]);
    b.write_config();
    let data = b.path().join("data.txt");
    std::fs::write(&data, "passed-through\n").unwrap();
    let f = std::fs::File::open(&data).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
    let mut cmd = b.cmd();
    cmd.args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(b.path())
        .arg(&b.id);
    // SAFETY: dup2 in the child before exec, onto fd 3.
    unsafe {
        cmd.pre_exec(move || {
            if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_eq!(stdout(&o), "passed-through\n", "{}", stderr(&o));

    // --preserve-fds beyond what the caller has open passes nothing of the runtime's own (its
    // exec trampoline lands in that range): the container has stdio only.
    let b = Bundle::new(&["sh", "-c", "ls /proc/self/fd"]);
    b.write_config();
    let mut cmd = b.cmd();
    cmd.args(["run", "--preserve-fds", "100", "--bundle"])
        .arg(b.path())
        .arg(&b.id);
    // SAFETY: closing fds in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    // 0, 1, 2, and the directory ls reads.
    assert_eq!(stdout(&o), "0\n1\n2\n3\n", "{}", stderr(&o));
}

#[test]
fn in_process_library_create_start_wait() {
    if !is_root() {
        return;
    }
    use std::io::Read;
    let b = Bundle::new(&["sh", "-c", "echo from-lib; echo err >&2; exit 5"]);
    b.write_config();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let (mut err_r, err_w) = std::io::pipe().unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let st = pier_runtime::container::create(pier_runtime::CreateOptions {
        root: b.root.clone(),
        id: b.id.clone(),
        bundle: b.path().to_path_buf(),
        subreaper: true,
        stdio: Some([null.into(), out_w.into(), err_w.into()]),
        ..Default::default()
    })
    .unwrap();
    pier_runtime::container::start(&b.root, &b.id).unwrap();
    let code = pier_runtime::container::wait_exit(st.pid).unwrap();
    assert_eq!(code, 5);
    let mut out = String::new();
    out_r.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    err_r.read_to_string(&mut err).unwrap();
    assert_eq!(out, "from-lib\n");
    assert_eq!(err, "err\n");
    pier_runtime::container::delete(&b.root, &b.id, false).unwrap();
    b.assert_clean();
}

/// The container's process starts with every signal at its default action and none blocked,
/// whatever the runtime (Rust ignores SIGPIPE) or its caller (here: SIGHUP ignored, SIGUSR1 and
/// SIGTERM blocked) had: `yes | head -n1` ends `yes` with SIGPIPE (141) — for `run`, `exec` and
/// the in-process library.
#[test]
fn signals_are_reset_before_exec() {
    if !is_root() {
        return;
    }
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    const SCRIPT: &str = "grep -E '^Sig(Ign|Blk)' /proc/self/status; \
                          { (yes; echo yes-exit=$? >&3) | head -n1 >/dev/null; } 3>&1";
    let want = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nyes-exit=141\n";
    let hostile = |cmd: &mut std::process::Command| {
        // SAFETY: only signal-state syscalls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                libc::sigaddset(&mut set, libc::SIGTERM);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                Ok(())
            });
        }
    };
    let b = Bundle::new(&["sh", "-c", SCRIPT]);
    b.write_config();
    let mut cmd = b.cmd();
    cmd.args(["run", "--bundle"])
        .arg(b.path())
        .arg(&b.id)
        .stdin(std::process::Stdio::null());
    hostile(&mut cmd);
    let o = cmd.output().unwrap();
    assert_eq!(stdout(&o), want, "run: {}", stderr(&o));

    let b = Bundle::new(&["sleep", "1000"]);
    assert!(b.create().status.success());
    assert!(b.runc(&["start", &b.id]).status.success());
    let mut cmd = b.cmd();
    cmd.args(["exec", &b.id, "sh", "-c", SCRIPT])
        .stdin(std::process::Stdio::null());
    hostile(&mut cmd);
    let o = cmd.output().unwrap();
    assert_eq!(stdout(&o), want, "exec: {}", stderr(&o));
    drop(b);

    // In process: this test binary ignores SIGPIPE, as every Rust program does.
    let b = Bundle::new(&["sh", "-c", SCRIPT]);
    b.write_config();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let err = std::fs::File::create(b.path().join("err")).unwrap();
    let st = pier_runtime::container::create(pier_runtime::CreateOptions {
        root: b.root.clone(),
        id: b.id.clone(),
        bundle: b.path().to_path_buf(),
        subreaper: true,
        stdio: Some([null.into(), out_w.into(), err.into()]),
        ..Default::default()
    })
    .unwrap();
    pier_runtime::container::start(&b.root, &b.id).unwrap();
    let code = pier_runtime::container::wait_exit(st.pid).unwrap();
    let mut out = String::new();
    out_r.read_to_string(&mut out).unwrap();
    assert_eq!(code, 0);
    assert_eq!(out, want);
    pier_runtime::container::delete(&b.root, &b.id, false).unwrap();
}

/// SCMP_ACT_NOTIFY: the agent listening on `listenerPath` gets the container process state
/// (id, init pid, metadata, `fds: ["seccompFd"]`) and the notify fd.
#[test]
fn seccomp_notify_fd_reaches_the_agent() {
    if !is_root() {
        return;
    }
    use std::os::fd::AsRawFd;
    let mut b = Bundle::new(&["sleep", "1000"]);
    let sock = b.path().join("agent.sock");
    let agent = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "meta-data",
        "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    assert!(b.create().status.success());
    let (conn, _) = agent.accept().unwrap();
    let (fd, payload) = pier_runtime::sys::recv_fd(conn.as_raw_fd()).unwrap();
    let msg: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let st = b.state();
    assert_eq!(msg["fds"], json!(["seccompFd"]), "{msg}");
    assert_eq!(msg["pid"], st["pid"], "{msg}");
    assert_eq!(msg["state"]["id"], json!(b.id), "{msg}");
    assert_eq!(msg["metadata"], "meta-data");
    // The fd is a seccomp listener: anon inode "[seccomp notify]".
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    assert!(link.to_string_lossy().contains("seccomp"), "{link:?}");
    assert!(b.runc(&["delete", "--force", &b.id]).status.success());
}

/// Drop the mount namespace (and the masked/read-only paths that need one) from the config.
fn without_mount_namespace(b: &mut Bundle) {
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "mount");
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
}

/// A config without a mount namespace (contest's `ns_itype`): runc prepares the rootfs in the
/// caller's mount namespace and chroots into it. pier-runc runs here inside `unshare --mount` so
/// that "the caller's namespace" is a private one of this test, gone with its last process.
#[test]
fn no_mount_namespace_chroots_in_the_callers_namespace() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["sh", "-c", "readlink /proc/self/ns/mnt; cat /marker"]);
    without_mount_namespace(&mut b);
    std::fs::write(b.rootfs().join("marker"), "in the rootfs\n").unwrap();
    b.write_config();
    let under_unshare = |args: &[&str]| {
        let mut c = std::process::Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"readlink /proc/self/ns/mnt; exec "$@""#)
            .arg("sh")
            .arg(&b.bin)
            .arg("--root")
            .arg(&b.root)
            .args(args)
            .stdin(std::process::Stdio::null());
        c
    };
    let bundle = b.path().display().to_string();
    let o = under_unshare(&["run", "--bundle", &bundle, &b.id])
        .output()
        .unwrap();
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(o.status.success(), "{out} {}", stderr(&o));
    let own = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(
        lines[0],
        own.to_str().unwrap(),
        "unshare gave no new namespace"
    );
    assert_eq!(
        lines[1], lines[0],
        "the container got a mount namespace of its own"
    );
    assert_eq!(lines[2], "in the rootfs", "{out}");
    // Its mounts stayed in the (now gone) private namespace, not in this one.
    b.assert_clean();

    // exec enters the container's root too (the init's, through /proc/<pid>/root).
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.write_config();
    // The init keeps the create's stdio: a file, not a pipe that would stay open.
    let log = b.path().join("create.err");
    let st = under_unshare(&["create", "--bundle", &bundle, &b.id])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(st.success(), "{}", std::fs::read_to_string(&log).unwrap());
    assert!(b.runc(&["start", &b.id]).status.success());
    let o = b.runc(&["exec", &b.id, "cat", "/marker"]);
    assert_eq!(stdout(&o), "in the rootfs\n", "{}", stderr(&o));
    assert!(b.runc(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

/// Masked or read-only paths without a mount namespace would hide the host's own /proc and /sys:
/// refused with runc's message, nothing created.
#[test]
fn masked_paths_need_a_mount_namespace() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    without_mount_namespace(&mut b);
    b.config["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
    let o = b.create();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unable to restrict sys entries without a private MNT namespace"),
        "{}",
        stderr(&o)
    );
    b.assert_clean();
}

/// Run in a container: nice and scheduling policy of a child process (fields 19 and 41 of
/// `/proc/<pid>/stat`), whether any of its mappings is interleaved on node 0, the machine name.
const SCHED_PROBE: &str = "cut -d')' -f2 /proc/self/stat | cut -d' ' -f18,40; \
     grep -q interleave:0 /proc/self/numa_maps && echo interleaved; uname -m";

fn check_sched_probe(out: &str, who: &str) {
    let lines: Vec<&str> = out.lines().collect();
    // SCHED_BATCH is policy 3.
    assert_eq!(lines, ["5 3", "interleaved", "i686"], "{who}: {out}");
}

/// `process.scheduler`, `linux.memoryPolicy` and `linux.personality` reach the init and every
/// exec'd process; `execCPUAffinity` pins an exec (the initial CPUs until it is in the cgroup,
/// then the final ones; with `--debug` its helper logs the initial mask as runc does).
#[test]
fn scheduler_memory_policy_personality_and_exec_affinity() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        &format!("({SCHED_PROBE}) > /init.out; sleep 1000"),
    ]);
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.config["root"]["readonly"] = json!(false);
    let o = b.create();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(b.runc(&["start", &b.id]).status.success());
    let init_out = b.rootfs().join("init.out");
    for _ in 0..1000 {
        if std::fs::read_to_string(&init_out).is_ok_and(|s| s.lines().count() == 3) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    check_sched_probe(&std::fs::read_to_string(&init_out).unwrap(), "init");
    let o = b.runc(&["exec", &b.id, "sh", "-c", SCHED_PROBE]);
    check_sched_probe(&stdout(&o), "exec");

    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        let mut process = b.config["process"].clone();
        process["args"] = json!(["grep", "Cpus_allowed_list", "/proc/self/status"]);
        process["execCPUAffinity"] = json!({"initial": "0", "final": "1"});
        let pj = b.path().join("process.json");
        std::fs::write(&pj, process.to_string()).unwrap();
        let o = b
            .cmd()
            .arg("--debug")
            .args(["exec", "--process"])
            .arg(&pj)
            .arg(&b.id)
            .output()
            .unwrap();
        assert_eq!(stdout(&o), "Cpus_allowed_list:\t1\n", "{}", stderr(&o));
        assert!(stderr(&o).contains("affinity: 0x1\""), "{}", stderr(&o));
    }
    assert!(b.runc(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

/// Scheduler and memory policy settings runc refuses are refused before anything exists.
#[test]
fn bad_scheduler_and_memory_policy_are_refused() {
    if !is_root() {
        return;
    }
    let cases = [
        (
            "scheduler",
            json!({"policy": "SCHED_OTHER", "priority": 5}),
            "scheduler.priority can only be specified for SchedFIFO or SchedRR policy",
        ),
        (
            "memoryPolicy",
            json!({"mode": "MPOL_BIND"}),
            "memory policy mode requires at least one node but got 0",
        ),
        (
            "memoryPolicy",
            json!({"mode": "MPOL_DEFAULT", "nodes": "0-7"}),
            "memory policy mode requires 0 nodes but got 8",
        ),
    ];
    for (key, value, msg) in cases {
        let mut b = Bundle::new(&["true"]);
        if key == "scheduler" {
            b.config["process"][key] = value;
        } else {
            b.config["linux"][key] = value;
        }
        let o = b.create();
        assert!(!o.status.success());
        assert!(stderr(&o).contains(msg), "{msg}: {}", stderr(&o));
        b.assert_clean();
    }
}
