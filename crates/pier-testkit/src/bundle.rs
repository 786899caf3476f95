//! Busybox OCI bundles on disk, for the runtime-level tests (pier-runtime's and pier-shim's):
//! [`busybox_rootfs`] writes the root filesystem directory (minimal tree, `/bin/busybox`, a
//! symlink per applet, `/etc/passwd` with `root` and `user` (1000)); [`test_config`] adapts a
//! default OCI config (the caller passes pier-runtime's `spec::default_spec`, which this crate
//! does not depend on) for tests: no terminal, the given args, hostname `pier-test`, a cgroup path.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// The applets of the host's busybox (`busybox --list`), or a fixed basic set if it cannot run.
pub fn busybox_applets() -> Vec<String> {
    let applets: Vec<String> = Command::new(crate::fixtures::busybox_bin())
        .arg("--list")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.contains('/') && *l != "busybox")
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if applets.is_empty() {
        return crate::fixtures::APPLETS
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    applets
}

/// Write a busybox root filesystem at `rootfs` (created if missing).
pub fn busybox_rootfs(rootfs: &Path) -> std::io::Result<()> {
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::copy(crate::fixtures::busybox_bin(), rootfs.join("bin/busybox"))?;
    for applet in busybox_applets() {
        // Some applets share a name with an entry made above; the first one wins.
        let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:u:/home/user:/bin/sh\n",
    )
}

/// `spec` (a default OCI config) made fit for tests: no terminal, `args`, hostname `pier-test`,
/// `linux.cgroupsPath` = `cgroup`.
pub fn test_config(mut spec: Value, args: &[&str], cgroup: &str) -> Value {
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(args);
    spec["hostname"] = json!("pier-test");
    spec["linux"]["cgroupsPath"] = json!(cgroup);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_and_config() {
        if !crate::fixtures::busybox_bin().exists() {
            eprintln!("skip: no busybox");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        busybox_rootfs(d.path()).unwrap();
        assert!(d.path().join("bin/busybox").is_file());
        assert_eq!(
            std::fs::read_link(d.path().join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        let c = test_config(json!({"process": {}, "linux": {}}), &["true"], "/x");
        assert_eq!(c["process"]["args"], json!(["true"]));
        assert_eq!(c["linux"]["cgroupsPath"], "/x");
    }
}
