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
