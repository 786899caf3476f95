//! Attacks tried from inside a container, which must fail: docker's default seccomp profile
//! (unshare, mount, keyctl-like calls), masked and read-only paths (/proc/kcore,
//! /proc/sysrq-trigger), release_agent (CVE-2022-0492), a symlinked mount destination pointing
//! out of the rootfs, leaked fds and a cwd through /proc/self/fd (CVE-2024-21626), and
//! /proc/<init>/exe of the runtime (CVE-2019-5736).

mod common;

use common::*;
use serde_json::json;
use std::os::unix::process::CommandExt;

fn docker_seccomp() -> Option<serde_json::Value> {
    let text = std::fs::read_to_string("/work/shared/reference/seccomp-default.json").ok()?;
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"].map(String::from);
    Some(
        pier_runtime::seccomp_profile::docker_to_oci(
            &text,
            pier_runtime::seccomp_profile::host_arch(),
            &caps,
        )
        .unwrap(),
    )
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
