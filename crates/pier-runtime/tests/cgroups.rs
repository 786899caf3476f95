//! The shared test suite of the `CgroupManager` trait, run against the implementation this host
//! uses (v1 on hybrid/v1 hosts, v2 on pure v2): create, limits, membership, freeze/thaw, stats,
//! destroy (which must kill what is left and remove the directory).

use pier_runtime::cgroups::{self, CgroupManager};
use std::path::Path;
use std::process::Command;

fn suite(m: &dyn CgroupManager) {
    m.create().unwrap();
    assert!(m.exists());
    let res: oci_spec::runtime::LinuxResources = serde_json::from_value(serde_json::json!({
        "memory": {"limit": 67108864},
        "pids": {"limit": 20}
    }))
    .unwrap();
    m.apply(&res, &[]).unwrap();
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    m.add_task(pid).unwrap();
    assert!(m.pids().unwrap().contains(&pid));
    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());
    let stats = m.stats().unwrap();
    assert_eq!(stats["pids"]["current"], 1, "{stats}");
    assert_eq!(stats["pids"]["limit"], 20, "{stats}");
    assert_eq!(stats["memory"]["usage"]["limit"], 67108864, "{stats}");
    // destroy kills the member and removes the directory.
    m.destroy().unwrap();
    assert!(!m.exists());
    let status = child.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn host_cgroup_manager_suite() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skip: needs root");
        return;
    }
    let name = format!("/pier-rt-cgsuite-{}", std::process::id());
    let paths = cgroups::resolve(Some(Path::new(&name)), "x", false).unwrap();
    let m = cgroups::manager(&paths);
    suite(m.as_ref());
}

#[test]
fn v1_manager_on_hybrid_or_v1_hosts() {
    if !nix::unistd::geteuid().is_root() || cgroups::is_pure_v2() {
        eprintln!("skip: needs root and cgroup v1 controllers");
        return;
    }
    let paths = cgroups::resolve(Some(Path::new("relative-child")), "x", false).unwrap();
    // Relative paths land below the caller's own cgroup in each hierarchy.
    let cgroups::CgroupPaths::V1 { paths } = paths else {
        panic!("expected v1")
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mem_line = own
        .lines()
        .find(|l| l.split(':').nth(1) == Some("memory"))
        .unwrap();
    let own_mem = mem_line.split(':').nth(2).unwrap();
    let want = Path::new("/sys/fs/cgroup/memory")
        .join(own_mem.trim_start_matches('/'))
        .join("relative-child");
    assert_eq!(paths["memory"], want);
}

/// Where a cgroup2 hierarchy is mounted: /sys/fs/cgroup on a pure v2 host, the `unified` mount
/// of a hybrid one.
fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split_whitespace().next() != Some("cgroup2") {
            return None;
        }
        pre.split_whitespace().nth(4).map(std::path::PathBuf::from)
    })
}

/// Open `dev` for reading from a process moved into the cgroup `dir` first; true if it opened.
fn can_open_in(dir: &Path, dev: &str) -> bool {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .unwrap();
    let fd = procs.as_raw_fd();
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &format!(": < {dev}")]);
    // SAFETY: one write(2) of a static buffer between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    drop(procs);
    status.success()
}

/// The v2 device allowlist is an eBPF program: the defaults allow /dev/null and deny
/// /dev/kmsg; an update with a rule for /dev/kmsg replaces the program (still one attached)
/// and lets it through; with everything allowed, a rule denying `r` on /dev/kmsg blocks it.
#[test]
fn v2_device_allowlist_ebpf() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skip: needs root");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        eprintln!("skip: no cgroup2 hierarchy mounted on this host");
        return;
    };
    if !Path::new("/dev/kmsg").exists() {
        eprintln!("skip: no /dev/kmsg to test with");
        return;
    }
    let dir = mount.join(format!("pier-rt-devices-{}", std::process::id()));
    let m = cgroups::v2::V2Manager::new_in(mount.clone(), dir.clone());
    struct Gone<'a>(&'a dyn CgroupManager);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            let _ = self.0.destroy();
        }
    }
    let _gone = Gone(&m);
    m.create().unwrap();
    let res = |devices: serde_json::Value| -> oci_spec::runtime::LinuxResources {
        serde_json::from_value(serde_json::json!({ "devices": devices })).unwrap()
    };
    m.apply(
        &res(serde_json::json!([{"allow": false, "access": "rwm"}])),
        &[],
    )
    .unwrap();
    assert_eq!(cgroups::devices::attached(&dir).unwrap().len(), 1);
    assert!(can_open_in(&dir, "/dev/null"));
    assert!(!can_open_in(&dir, "/dev/kmsg"));

    let kmsg = serde_json::json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"}
    ]);
    m.apply(&res(kmsg), &[]).unwrap();
    assert_eq!(cgroups::devices::attached(&dir).unwrap().len(), 1);
    assert!(can_open_in(&dir, "/dev/kmsg"));

    // Everything allowed but reading /dev/kmsg.
    let all_but = serde_json::json!([
        {"allow": true, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "r"}
    ]);
    m.apply(&res(all_but), &[]).unwrap();
    assert!(!can_open_in(&dir, "/dev/kmsg"));
    assert!(can_open_in(&dir, "/dev/null"));
    m.destroy().unwrap();
    assert!(!dir.exists());
}
