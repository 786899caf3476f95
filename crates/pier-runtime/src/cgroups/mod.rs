//! cgroups v1 and v2 behind one interface ([`CgroupManager`]).
//!
//! [`resolve`] turns a spec's `cgroupsPath` (absolute: from the hierarchy root; relative: below
//! the caller's own cgroup; empty: `<id>` below the caller's cgroup; with `--systemd-cgroup`,
//! `slice:prefix:name` mapped to `<slice path>/<prefix>-<name>.scope`) into [`CgroupPaths`], which
//! the state file keeps; [`manager`] gives the implementation for them. Version detection: a
//! cgroup2 filesystem on `/sys/fs/cgroup` is pure v2; anything else (v1 or hybrid, where the
//! unified mount has no controllers) uses the v1 controllers.
//!
//! `destroy` removes only the leaf directory the container used (parents such as `/docker` may be
//! shared), killing what is left in it first.

pub mod devices;
pub mod v1;
pub mod v2;

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{LinuxDevice, LinuxResources};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a container's cgroup lives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "version", rename_all = "lowercase")]
pub enum CgroupPaths {
    /// One directory per mounted v1 hierarchy, keyed by its controllers ("memory", "cpu,cpuacct").
    V1 { paths: BTreeMap<String, PathBuf> },
    /// The unified directory.
    V2 { path: PathBuf },
}

/// Counters for `events --stats` (runc's field names).
pub type Stats = serde_json::Value;

/// What the runtime does with a container's cgroup.
pub trait CgroupManager {
    /// Create the directories (idempotent).
    fn create(&self) -> Result<()>;
    /// Write the resource limits.
    fn apply(&self, res: &LinuxResources, devices: &[LinuxDevice]) -> Result<()>;
    /// Move a process (0 = the caller) into the cgroup.
    fn add_task(&self, pid: i32) -> Result<()>;
    fn freeze(&self) -> Result<()>;
    fn thaw(&self) -> Result<()>;
    fn is_frozen(&self) -> Result<bool>;
    /// Pids of the processes in the cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    fn stats(&self) -> Result<Stats>;
    /// Kill what is left and remove the leaf directories.
    fn destroy(&self) -> Result<()>;
    /// Whether any of the directories still exists.
    fn exists(&self) -> bool;
}

/// The implementation for some paths.
pub fn manager(paths: &CgroupPaths) -> Box<dyn CgroupManager> {
    match paths {
        CgroupPaths::V1 { paths } => Box::new(v1::V1Manager::new(paths.clone())),
        CgroupPaths::V2 { path } => Box::new(v2::V2Manager::new(path.clone())),
    }
}

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Is `/sys/fs/cgroup` a cgroup2 mount (pure v2)?
pub fn is_pure_v2() -> bool {
    match nix::sys::statfs::statfs(CGROUP_ROOT) {
        Ok(s) => s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC,
        Err(_) => false,
    }
}

/// Convert runc's systemd form `slice:prefix:name` to a cgroupfs path.
pub fn systemd_to_path(s: &str) -> Result<PathBuf> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 3 {
        return Err(RuntimeError::Cgroup(format!(
            "expected cgroupsPath of the form slice:prefix:name for systemd cgroups, got {s:?}"
        )));
    }
    let slice = if parts[0].is_empty() {
        "system.slice"
    } else {
        parts[0]
    };
    let mut path = PathBuf::from("/");
    let stem = slice.strip_suffix(".slice").unwrap_or(slice);
    if stem != "-" {
        let mut acc = String::new();
        for (i, part) in stem.split('-').enumerate() {
            if i > 0 {
                acc.push('-');
            }
            acc.push_str(part);
            path.push(format!("{acc}.slice"));
        }
    }
    let unit = if parts[1].is_empty() {
        format!("{}.scope", parts[2])
    } else if parts[2].ends_with(".slice") {
        parts[2].to_string()
    } else {
        format!("{}-{}.scope", parts[1], parts[2])
    };
    path.push(unit);
    Ok(path)
}

/// Compute the cgroup directories for a container (nothing is created).
pub fn resolve(cgroups_path: Option<&Path>, id: &str, systemd: bool) -> Result<CgroupPaths> {
    let raw = match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from(id),
    };
    let raw = if systemd && raw.to_string_lossy().contains(':') {
        systemd_to_path(&raw.to_string_lossy())?
    } else {
        raw
    };
    if raw
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(RuntimeError::Cgroup(format!(
            "cgroupsPath {} must not contain ..",
            raw.display()
        )));
    }
    if is_pure_v2() {
        let base = if raw.is_absolute() {
            PathBuf::from("/")
        } else {
            PathBuf::from(own_cgroup("")?)
        };
        let rel = base.join(&raw);
        let rel = rel.strip_prefix("/").unwrap_or(&rel);
        Ok(CgroupPaths::V2 {
            path: Path::new(CGROUP_ROOT).join(rel),
        })
    } else {
        let mut paths = BTreeMap::new();
        for h in v1::hierarchies()? {
            let base = if raw.is_absolute() {
                PathBuf::from("/")
            } else {
                PathBuf::from(own_cgroup(&h.controllers)?)
            };
            let full = base.join(&raw);
            let rel = full.strip_prefix(&h.root).unwrap_or(&full);
            let rel = rel.strip_prefix("/").unwrap_or(rel);
            paths.insert(h.controllers.clone(), h.mountpoint.join(rel));
        }
        if paths.is_empty() {
            return Err(RuntimeError::Cgroup(
                "no cgroup hierarchy is mounted".into(),
            ));
        }
        Ok(CgroupPaths::V1 { paths })
    }
}

/// The caller's cgroup for a v1 hierarchy (`controllers` as in /proc/self/cgroup) or v2 ("").
fn own_cgroup(controllers: &str) -> Result<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| RuntimeError::Cgroup(format!("read /proc/self/cgroup: {e}")))?;
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctl, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or("/"));
        if controllers.is_empty() && ctl.is_empty() {
            return Ok(path.to_string());
        }
        if !controllers.is_empty() && {
            let mut a: Vec<&str> = ctl.split(',').collect();
            let mut b: Vec<&str> = controllers.split(',').collect();
            a.sort();
            b.sort();
            a == b
        } {
            return Ok(path.to_string());
        }
    }
    Ok("/".into())
}

pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).map_err(|e| {
        RuntimeError::Cgroup(format!("failed to write {value:?} to {}: {e}", p.display()))
    })
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let p = dir.join(file);
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(|e| RuntimeError::Cgroup(format!("failed to read {}: {e}", p.display())))
}

pub(crate) fn read_u64(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Parse "key value" lines (memory.stat, cpu.stat).
pub(crate) fn read_kv(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

pub(crate) fn read_procs(dir: &Path) -> Result<Vec<i32>> {
    Ok(read(dir, "cgroup.procs")?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// rmdir with retries: kill stragglers (SIGKILL) and wait for the kernel to let go.
pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    for attempt in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 99 => {
                for pid in read_procs(dir).unwrap_or_default() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => {
                return Err(RuntimeError::Cgroup(format!(
                    "remove {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    Ok(())
}

/// runc's default device allowlist, appended after the spec's rules so a container always has
/// its standard nodes (null, zero, full, tty, random, urandom, console, ptmx, pts, tun) and can
/// mknod anything (but use nothing else).
pub(crate) const DEFAULT_ALLOWED_DEVICES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 5:1 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_paths() {
        assert_eq!(
            systemd_to_path("system.slice:docker:abc").unwrap(),
            PathBuf::from("/system.slice/docker-abc.scope")
        );
        assert_eq!(
            systemd_to_path("a-b.slice:p:n").unwrap(),
            PathBuf::from("/a.slice/a-b.slice/p-n.scope")
        );
        assert!(systemd_to_path("nope").is_err());
    }

    #[test]
    fn resolve_absolute_and_relative() {
        let p = resolve(Some(Path::new("/pier-test/x")), "x", false).unwrap();
        match p {
            CgroupPaths::V1 { paths } => {
                for (ctl, path) in paths {
                    assert!(path.ends_with("pier-test/x"), "{ctl}: {}", path.display());
                }
            }
            CgroupPaths::V2 { path } => assert_eq!(path, Path::new("/sys/fs/cgroup/pier-test/x")),
        }
        assert!(resolve(Some(Path::new("../x")), "x", false).is_err());
    }
}
