//! How the container ended: `exit.json` in the state dir
//! (`{"exit_code":N,"oom_killed":bool,"finished_at":"RFC3339Nano","error":""}`, written to a temp
//! file and renamed, so a reader never sees half of it), the exit code of a wait status (128 +
//! signal when killed, as a shell and docker report it), and whether the kernel OOM-killed a
//! process of the container's cgroup (`oom_kill` in v1's `memory.oom_control` or v2's
//! `memory.events`, read before the cgroup is removed).

use crate::error::{Context, Result};
use nix::sys::wait::WaitStatus;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file name in the state dir.
pub const EXIT_FILE: &str = "exit.json";

/// The content of exit.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub exit_code: i32,
    pub oom_killed: bool,
    pub finished_at: String,
    pub error: String,
}

impl ExitInfo {
    /// Write `<dir>/exit.json` atomically. Not fsynced: it lives in the exec root, whose
    /// content only has to outlive pierd (a restart), never the host — after a host crash no
    /// container of it runs — and an fsync on a disk-backed exec root cost every exit a journal
    /// commit (1-5 ms) before the exit was reported.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join("exit.json.tmp");
        let data = serde_json::to_vec(self).expect("serializable");
        std::fs::write(&tmp, data).ctx(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join(EXIT_FILE)).ctx(|| "rename exit.json".into())
    }
}

/// The exit code of a terminated process (None if `st` is not a termination).
pub fn exit_code(st: WaitStatus) -> Option<(i32, i32)> {
    match st {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), code)),
        WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), 128 + sig as i32)),
        _ => None,
    }
}

/// Where the container's memory controller counters are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OomSource {
    /// v1: `<memory cgroup>/memory.oom_control`.
    V1(PathBuf),
    /// v2: `<cgroup>/memory.events`.
    V2(PathBuf),
    Unknown,
}

impl OomSource {
    /// Find the container's cgroup from the runtime's state: pier-runtime's `state.json` first,
    /// then runc's (`cgroup_paths`), for `--runtime` binaries.
    pub fn find(runtime_root: &Path, id: &str) -> OomSource {
        use pier_runtime::cgroups::CgroupPaths;
        if let Ok(st) = pier_runtime::ContainerState::load(runtime_root, id) {
            return match st.cgroup {
                CgroupPaths::V1 { paths } => paths
                    .iter()
                    .find(|(k, _)| k.split(',').any(|c| c == "memory"))
                    .map(|(_, p)| OomSource::V1(p.join("memory.oom_control")))
                    .unwrap_or(OomSource::Unknown),
                CgroupPaths::V2 { path } => OomSource::V2(path.join("memory.events")),
            };
        }
        let text = std::fs::read(runtime_root.join(id).join("state.json")).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
        let paths = &v["cgroup_paths"];
        if let Some(p) = paths["memory"].as_str() {
            return OomSource::V1(Path::new(p).join("memory.oom_control"));
        }
        if let Some(p) = paths[""].as_str() {
            return OomSource::V2(Path::new(p).join("memory.events"));
        }
        OomSource::Unknown
    }

    /// Has the kernel OOM-killed anything in the cgroup?
    pub fn oom_killed(&self) -> bool {
        let path = match self {
            OomSource::V1(p) | OomSource::V2(p) => p,
            OomSource::Unknown => return false,
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        counter(&text, "oom_kill").is_some_and(|n| n > 0)
    }
}

/// A `name N` line of a cgroup key-value file.
fn counter(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(counter(v1, "oom_kill"), Some(2));
        let v2 = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\noom_group_kill 0\n";
        assert_eq!(counter(v2, "oom_kill"), Some(0));
        assert_eq!(counter("", "oom_kill"), None);
    }

    #[test]
    fn atomic_write() {
        let d = tempfile::tempdir().unwrap();
        let e = ExitInfo {
            exit_code: 3,
            oom_killed: false,
            finished_at: "2024-01-01T00:00:00Z".into(),
            error: String::new(),
        };
        e.write(d.path()).unwrap();
        let back: ExitInfo =
            serde_json::from_slice(&std::fs::read(d.path().join(EXIT_FILE)).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(!d.path().join("exit.json.tmp").exists());
    }
}
