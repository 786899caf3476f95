//! Attacks tried from inside a container, which must fail: docker's default seccomp profile
//! (unshare, mount, keyctl-like calls), masked and read-only paths (/proc/kcore,
//! /proc/sysrq-trigger), release_agent (CVE-2022-0492), a symlinked mount destination pointing
//! out of the rootfs, leaked fds and a cwd through /proc/self/fd (CVE-2024-21626), and
//! overwriting the runtime's binary through /proc/<pid>/exe (CVE-2019-5736).
//!
//! Attacks that need raw system calls run this test binary inside the container
//! ([`Bundle::run_test_inside`]): the `#[ignore]`d `*_inside` tests are those programs; they do
//! nothing unless their environment says they run in a test container.

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// docker's default capability set.
const DOCKER_CAPS: &[&str] = pier_runtime::capabilities::DOCKER_DEFAULT;

fn docker_seccomp_with(caps: &[&str]) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string("/work/shared/reference/seccomp-default.json").ok()?;
    let caps: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    Some(
        pier_runtime::seccomp_profile::docker_to_oci(
            &text,
            pier_runtime::seccomp_profile::host_arch(),
            &caps,
        )
        .unwrap(),
    )
}

fn docker_seccomp() -> Option<serde_json::Value> {
    docker_seccomp_with(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
}

#[test]
fn docker_default_seccomp_blocks_namespace_and_mount_calls() {
    if !is_root() {
        return;
    }
    let Some(prof) = docker_seccomp() else {
        eprintln!("skip: no docker seccomp profile");
        return;
    };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo start; unshare -U true 2>&1; echo unshare=$?; mount -t tmpfs t /tmp 2>&1; echo mount=$?; \
         nsenter -t 1 -m true 2>&1; echo nsenter=$?; ls / > /dev/null; echo ls=$?",
    ]);
    b.config["linux"]["seccomp"] = prof;
    // Give the container CAP_SYS_ADMIN so only seccomp stands in the way of unshare/mount.
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    let o = b.run();
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("start"), "{out}");
    assert!(
        out.contains("unshare=1") || !out.contains("unshare=0"),
        "{out}"
    );
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(!out.contains("mount=0"), "{out}");
    assert!(out.contains("ls=0"), "{out}");
}

#[test]
fn masked_and_readonly_paths_and_release_agent() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&[
        "sh",
        "-c",
        "echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); echo keys=$(cat /proc/keys | wc -c); \
         echo c > /proc/sysrq-trigger 2>/dev/null; echo sysrq=$?; \
         touch /newfile 2>/dev/null; echo rootfs=$?; \
         echo x > /sys/fs/cgroup/memory/release_agent 2>/dev/null; echo ra=$?; \
         mount -t cgroup -o memory cgroup /tmp 2>/dev/null; echo cgmount=$?; \
         ls /sys/firmware | wc -l",
    ]);
    let o = b.run();
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    for want in [
        "kcore=0",
        "keys=0",
        "sysrq=1",
        "rootfs=1",
        "ra=1",
        "cgmount=1",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} not in {out}");
    }
    assert_eq!(out.lines().last(), Some("0"), "{out}");
}

#[test]
fn symlinked_mount_destination_stays_in_rootfs() {
    if !is_root() {
        return;
    }
    let host = tempfile::tempdir().unwrap();
    let mut b = Bundle::new(&["sh", "-c", "echo inside > /evil/marker && echo ok"]);
    // /evil -> an absolute host path: must resolve to <rootfs>/<that path>, not the host's.
    std::os::unix::fs::symlink(host.path(), b.rootfs().join("evil")).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    b.config["root"]["readonly"] = json!(false);
    let o = b.run();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok\n");
    assert_eq!(
        std::fs::read_dir(host.path()).unwrap().count(),
        0,
        "host dir was written"
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(&host.path().display().to_string()));
}

/// proc and sysfs are never mounted through a symlink (runc's check and message), even one that
/// stays inside the rootfs.
#[test]
fn proc_and_sysfs_through_a_symlink_are_refused() {
    if !is_root() {
        return;
    }
    for dir in ["proc", "sys"] {
        let b = Bundle::new(&["true"]);
        let p = b.rootfs().join(dir);
        std::fs::remove_dir(&p).unwrap();
        std::fs::create_dir(b.rootfs().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("/elsewhere", &p).unwrap();
        let o = b.run();
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("must be mounted on ordinary directory"),
            "{}",
            stderr(&o)
        );
        b.assert_clean();
    }
}

#[test]
fn no_leaked_fds_and_cwd_cannot_escape() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"]);
    b.write_config();
    let host_dir = std::fs::File::open("/").unwrap();
    use std::os::fd::AsRawFd;
    let raw = host_dir.as_raw_fd();
    let mut cmd = b.cmd();
    cmd.args(["run", "--bundle"])
        .arg(b.path())
        .arg(&b.id)
        .stdin(std::process::Stdio::null());
    // SAFETY: dup2 onto fd 9 (not close-on-exec) in the child before exec: a host fd that a
    // careless caller leaks to the runtime.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 9) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // 0,1,2 and the fd ls itself opens for the directory.
    assert_eq!(stdout(&o).trim(), "0 1 2 3", "leaked fds");

    // cwd through /proc/self/fd/N of whatever the runtime holds open must never land outside.
    for n in 3..10 {
        let mut b = Bundle::new(&["sh", "-c", "pwd; ls"]);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        let o = b.run();
        if o.status.success() {
            let out = stdout(&o);
            assert!(
                !out.contains("(unreachable)"),
                "cwd escaped with fd {n}: {out}"
            );
            assert!(
                !out.contains("state.json") && !out.contains("rootfs"),
                "cwd escaped with fd {n}: {out}"
            );
        }
        b.assert_clean();
    }
}

#[test]
fn runtime_binary_of_a_created_init_is_not_reachable() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    assert!(b.create().status.success());
    // The init still runs pier-runc's code (blocked on exec.fifo): its /proc/1/exe is the host
    // binary. A container process must not be able to open it.
    let o = b.runc(&["exec", &b.id, "sh", "-c", "readlink /proc/1/exe; echo rl=$?; cat /proc/1/exe > /dev/null 2>&1; echo cat=$?; echo x >> /proc/1/exe 2>/dev/null; echo w=$?"]);
    let out = stdout(&o);
    assert!(out.contains("rl=1"), "{out} {}", stderr(&o));
    assert!(out.contains("cat=1"), "{out}");
    assert!(out.contains("w=1"), "{out}");
    assert!(!out.contains("pier-runc"), "{out}");
}

/// Poll `path` until it contains one of `words` (a liveness bound, not a timing assertion).
fn wait_for_text(path: &Path, words: &[&str], limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if words.iter().any(|w| text.contains(w)) || start.elapsed() > limit {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A copy of pier-runc in a temporary directory, the target of the CVE-2019-5736 attacks (a
/// successful attack cannot damage the build): (its directory, its path, its bytes).
fn runtime_copy() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let host = tempfile::tempdir().unwrap();
    let runtime = host.path().join("pier-runc");
    std::fs::copy(bin(), &runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    let original = std::fs::read(&runtime).unwrap();
    (host, runtime, original)
}

/// CVE-2019-5736. The container's entrypoint for `exec` is a script `#!/proc/self/exe`, so the
/// kernel runs the host's runtime binary inside the container (as runc's exploit did). An
/// attacker already in the container watches every pid it can see, opens `/proc/<pid>/exe` of the
/// runtime with O_PATH, tries to open it for writing directly and by reopening its fd, and again
/// once the runtime process has exited (no more ETXTBSY). Every open for writing (or, for a sealed
/// memfd, every write) must fail and the host's
/// binary (a copy of pier-runc, so a failure cannot damage the build) must be unchanged.
#[test]
fn runtime_binary_cannot_be_overwritten_from_a_container() {
    if !is_root() {
        return;
    }
    let (_host, runtime, original) = runtime_copy();
    let meta = std::fs::metadata(&runtime).unwrap();

    let mut b = Bundle::new(&["true"]);
    b.bin = runtime.clone();
    b.run_test_inside(
        "cve_2019_5736_attacker_inside",
        &[(
            "PIER_ATTACK_TARGET",
            format!("{}:{}", meta.dev(), meta.ino()),
        )],
    );
    // The runtime's shared libraries must exist in the container for the hijack to run it.
    b.add_host_binary(&runtime, "/usr/bin/not-the-runtime");
    let evil = b.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.config["root"]["readonly"] = json!(false);
    let result = b.rootfs().join("result");
    assert!(b.create().status.success());
    let o = b.runc(&["start", &b.id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = wait_for_text(&result, &["ready"], Duration::from_secs(60));
    assert!(text.contains("ready"), "attacker did not start: {text}");

    // The hijacked runtime reports its usage error on a pipe that is already full, so it stays
    // alive until we drain it.
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    nix::fcntl::fcntl(
        &w,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut wf = std::fs::File::from(w);
    while wf.write(&[b'.'; 4096]).is_ok() {}
    nix::fcntl::fcntl(
        &wf,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
    )
    .unwrap();
    let mut exec = b.cmd();
    exec.args(["exec", "--detach", &b.id, "/evil"])
        .stdin(std::process::Stdio::null())
        .stdout(wf.try_clone().unwrap())
        .stderr(wf);
    let mut child = exec.spawn().unwrap();
    drop(exec);
    let text = wait_for_text(&result, &["opened", "timeout"], Duration::from_secs(60));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::fs::File::from(r).read_to_end(&mut out);
        let _ = tx.send(out);
    });
    let drained = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let drained = String::from_utf8_lossy(&drained)
        .trim_start_matches('.')
        .to_string();
    let status = child.wait().unwrap();
    assert!(status.success(), "exec: {drained}");
    assert!(
        text.contains("opened"),
        "the runtime binary never ran in the container, the attack did not happen: {text}\n\
         hijacked process said: {drained}"
    );
    std::fs::write(b.rootfs().join("go"), "").unwrap();
    let text = wait_for_text(&result, &["done", "timeout"], Duration::from_secs(60));
    eprintln!("attacker log:\n{text}");
    assert!(text.contains("done"), "{text}");
    assert!(!text.contains("WROTE"), "runtime binary written: {text}");
    for step in ["direct-write", "reopen-running", "reopen-exited"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(step) && l.contains("-failed")),
            "{step} was not refused: {text}"
        );
    }
    assert!(
        std::fs::read(&runtime).unwrap() == original,
        "the host's runtime binary changed"
    );
}

/// CVE-2019-5736 through `run`, which enters the container through the exec trampoline (no
/// re-execution of the runtime): an init entrypoint `#!/proc/self/exe` makes the kernel run the
/// process's own image — the sealed trampoline, which refuses (exit 127), never the host's
/// runtime. With a seccomp profile that denies the trampoline's `execveat`, the runtime
/// re-executes itself from a read-only image first, so the hijack runs that image instead
/// (the runtime's usage error, exit 2). The host's binary is unchanged either way.
#[test]
fn proc_self_exe_entrypoint_never_runs_the_host_runtime() {
    if !is_root() {
        return;
    }
    let (_host, runtime, original) = runtime_copy();
    for (seccomp, want) in [
        (None, 127),
        (
            Some(json!({"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO"}]})),
            2,
        ),
    ] {
        let mut b = Bundle::new(&["/evil"]);
        b.bin = runtime.clone();
        b.add_host_binary(&runtime, "/usr/bin/not-the-runtime");
        let evil = b.rootfs().join("evil");
        std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
        std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
        if let Some(s) = &seccomp {
            b.config["linux"]["seccomp"] = s.clone();
        }
        let o = b.run();
        assert_eq!(o.status.code(), Some(want), "{seccomp:?}: {}", stderr(&o));
        b.assert_clean();
    }
    assert!(
        std::fs::read(&runtime).unwrap() == original,
        "the host's runtime binary changed"
    );
}

/// The attacker of [`runtime_binary_cannot_be_overwritten_from_a_container`].
#[test]
#[ignore = "runs inside a test container"]
fn cve_2019_5736_attacker_inside() {
    let Ok(target) = std::env::var("PIER_ATTACK_TARGET") else {
        eprintln!("skip: runs inside a test container only");
        return;
    };
    let (dev, ino) = target.split_once(':').unwrap();
    let (dev, ino): (u64, u64) = (dev.parse().unwrap(), ino.parse().unwrap());
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open("/result")
        .unwrap();
    let mut say = |s: String| writeln!(log, "{s}").unwrap();
    let try_write = |path: &str| match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(mut f) => match f.write(b"PWNED") {
            Ok(n) if n > 0 => "WROTE".to_string(),
            r => format!("write-failed {r:?}"),
        },
        Err(e) => format!("open-failed {e}"),
    };
    say("ready".into());
    let me = std::process::id().to_string();
    let mut denied = std::collections::HashSet::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let pid = e.file_name().to_string_lossy().to_string();
            if !pid.bytes().all(|c| c.is_ascii_digit()) || pid == me {
                continue;
            }
            let exe = format!("/proc/{pid}/exe");
            let fd = match nix::fcntl::open(
                exe.as_str(),
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(err) => {
                    if denied.insert(pid.clone()) {
                        say(format!("denied {pid} {err}"));
                    }
                    continue;
                }
            };
            // The host's binary, or the sealed memfd copy the runtime runs from without
            // mount privileges (harmless to write to, if it were possible).
            let st = nix::sys::stat::fstat(&fd).unwrap();
            let memfd =
                std::fs::read_link(&exe).is_ok_and(|p| p.to_string_lossy().starts_with("/memfd:"));
            if (st.st_dev, st.st_ino) != (dev, ino) && !memfd {
                continue;
            }
            say(format!("opened {pid}"));
            say(format!("direct-write {}", try_write(&exe)));
            let reopen = format!("/proc/self/fd/{}", fd.as_raw_fd());
            say(format!("reopen-running {}", try_write(&reopen)));
            while !Path::new("/go").exists() && start.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(10));
            }
            say(format!("reopen-exited {}", try_write(&reopen)));
            say("done".into());
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    say("timeout".into());
}

/// A container with docker's default capabilities and seccomp profile, sharing the host's pid
/// namespace so host processes are in sight: keyctl, add_key, unshare, mount, a cgroup v1 mount
/// for release_agent, ptrace / memory / exe / namespaces of a host process, open_by_handle_at,
/// /proc/sysrq-trigger and /proc/kcore all fail.
#[test]
fn docker_default_container_cannot_reach_the_host() {
    if !is_root() {
        return;
    }
    let Some(prof) = docker_seccomp_with(DOCKER_CAPS) else {
        eprintln!("skip: no docker seccomp profile");
        return;
    };
    let mut b = Bundle::new(&["true"]);
    b.run_test_inside(
        "attack_probe_inside",
        &[("PIER_PROBE_HOST_PID", std::process::id().to_string())],
    );
    b.config["linux"]["seccomp"] = prof;
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = json!(DOCKER_CAPS);
    }
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    b.config["root"]["readonly"] = json!(false);
    let o = b.run();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    check_probe(&out, &[]);
}

/// The same probe under runc's default spec (no seccomp, three capabilities), in the container's
/// own pid namespace: here unshare(CLONE_NEWUSER) may work, so the probe also tries
/// CVE-2022-0492 the full way (new user + mount + cgroup namespaces, mount a v1 hierarchy, write
/// its release_agent), which must fail.
#[test]
fn default_spec_container_cannot_write_release_agent() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.run_test_inside(
        "attack_probe_inside",
        &[("PIER_PROBE_HOST_PID", "0".into())],
    );
    b.config["root"]["readonly"] = json!(false);
    let o = b.run();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    // Without seccomp the container has its own session keyring to use, and may create a user
    // namespace; what it could do with them must still fail.
    check_probe(&out, &["keyctl-join", "add-key", "unshare-user"]);
    assert!(out.contains("release-agent=E"), "{out}");
}

/// Every `name=result` line of the probe failed, except the `allowed` ones.
fn check_probe(out: &str, allowed: &[&str]) {
    let mut seen = 0;
    for line in out.lines() {
        let Some((name, res)) = line.split_once('=') else {
            continue;
        };
        seen += 1;
        match name {
            "kcore-bytes" => assert_eq!(res, "0", "{out}"),
            n if allowed.contains(&n) => {}
            _ => assert_ne!(res, "ok", "{name} succeeded in the container:\n{out}"),
        }
    }
    assert!(seen >= 9, "probe did not run:\n{out}");
}

/// The probe of [`docker_default_container_cannot_reach_the_host`]: one `name=result` line per
/// attempt (`ok` or the errno).
#[test]
#[ignore = "runs inside a test container"]
fn attack_probe_inside() {
    use nix::errno::Errno;
    use nix::sched::CloneFlags;
    let Ok(host) = std::env::var("PIER_PROBE_HOST_PID") else {
        eprintln!("skip: runs inside a test container only");
        return;
    };
    let host: i32 = host.parse().unwrap();
    let say = |name: &str, r: Result<(), Errno>| match r {
        Ok(()) => println!("{name}=ok"),
        Err(e) => println!("{name}={e:?}"),
    };
    // Each attempt that could change the probe itself runs in a child.
    let in_child = |f: &dyn Fn() -> Result<(), Errno>| -> Result<(), Errno> {
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = match f() {
                    Ok(()) => 0,
                    Err(e) => e as i32,
                };
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                match nix::sys::wait::waitpid(child, None).unwrap() {
                    nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
                    nix::sys::wait::WaitStatus::Exited(_, e) => Err(Errno::from_raw(e)),
                    _ => Err(Errno::EINTR),
                }
            }
        }
    };
    let sys = |r: libc::c_long| if r < 0 { Err(Errno::last()) } else { Ok(()) };
    say(
        "keyctl-join",
        sys(unsafe { libc::syscall(libc::SYS_keyctl, 1, c"probe".as_ptr()) }),
    );
    say(
        "add-key",
        sys(unsafe {
            libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"probe".as_ptr(),
                c"v".as_ptr(),
                1,
                -2,
            )
        }),
    );
    say(
        "unshare-user",
        in_child(&|| nix::sched::unshare(CloneFlags::CLONE_NEWUSER)),
    );
    say(
        "unshare-mount",
        in_child(&|| nix::sched::unshare(CloneFlags::CLONE_NEWNS)),
    );
    say(
        "mount-tmpfs",
        in_child(&|| {
            nix::mount::mount(
                Some("tmpfs"),
                "/tmp",
                Some("tmpfs"),
                nix::mount::MsFlags::empty(),
                None::<&str>,
            )
        }),
    );
    std::fs::create_dir_all("/tmp/cg").unwrap();
    // CVE-2022-0492: a v1 hierarchy mounted from new namespaces, then its release_agent.
    say(
        "release-agent",
        in_child(&|| {
            let _ = nix::sched::unshare(
                CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP,
            );
            nix::mount::mount(
                Some("cgroup"),
                "/tmp/cg",
                Some("cgroup"),
                nix::mount::MsFlags::empty(),
                Some("pids"),
            )?;
            // The host's release agents are empty: writing an empty one changes nothing even
            // if the kernel let it through.
            std::fs::write("/tmp/cg/release_agent", "\n")
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
        }),
    );
    let open = |p: &str, flags: nix::fcntl::OFlag| {
        nix::fcntl::open(
            p,
            flags | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map(drop)
    };
    say(
        "sysrq-trigger",
        open("/proc/sysrq-trigger", nix::fcntl::OFlag::O_WRONLY),
    );
    let kcore = std::fs::read("/proc/kcore").map(|v| v.len()).unwrap_or(0);
    println!("kcore-bytes={kcore}");
    say(
        "open-by-handle",
        sys(unsafe {
            // shocker: a handle to inode 2 (a filesystem's root) of the mount of /etc/passwd.
            let mut h = [0u8; 16];
            h[0] = 8; // handle_bytes
            h[4] = 1; // handle_type FILEID_INO32_GEN
            h[8] = 2;
            let mfd = libc::open(c"/etc/passwd".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            libc::syscall(libc::SYS_open_by_handle_at, mfd, h.as_ptr(), libc::O_RDONLY)
        }),
    );
    if host > 0 {
        say(
            "ptrace-host",
            sys(unsafe { libc::ptrace(libc::PTRACE_SEIZE, host, 0, 0) }),
        );
        for what in ["mem", "exe", "ns/mnt", "root/etc"] {
            let p = format!("/proc/{host}/{what}");
            say(
                &format!("open-host-{what}"),
                open(&p, nix::fcntl::OFlag::O_RDONLY),
            );
        }
    }
}
