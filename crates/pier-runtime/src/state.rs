//! Persistent container state: `<root>/<id>/state.json` (written atomically), the OCI state
//! document printed by `state`/`list`, and the live status derived from the kernel (is the init
//! alive and the same process — pid plus start time —, is exec.fifo still there, is the cgroup
//! frozen).

use crate::cgroups::CgroupPaths;
use crate::error::{Context, Result, RuntimeError};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Default state root of `pier-runc`.
pub const DEFAULT_ROOT: &str = "/run/pier-runc";
/// Name of the fifo `create` leaves the init blocked on.
pub const EXEC_FIFO: &str = "exec.fifo";
/// Under the root: emptied directories of deleted containers, reused by the next `create`.
const RECYCLE: &str = ".recycle";
/// How many emptied directories are kept for reuse.
const RECYCLE_SLOTS: u32 = 8;

/// Life-cycle status (OCI's plus runc's `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime remembers about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Host pid of the init (0 before it exists).
    pub pid: i32,
    /// Start time of the init (see [`crate::sys::process_start_time`]).
    pub pid_start: u64,
    /// RFC 3339 creation time.
    pub created: String,
    pub owner: String,
    pub cgroup: CgroupPaths,
    /// The config the container was created with (hooks, process defaults for exec, seccomp).
    pub config: Spec,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Whether a user namespace was created (exec must join it first).
    #[serde(default)]
    pub no_new_keyring: bool,
}

/// The OCI state document (runc's field set).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
}

/// A valid container id (runc's rule, and never a path).
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if !ok || id == "." || id == ".." {
        return Err(RuntimeError::InvalidId(id.to_string()));
    }
    Ok(())
}

impl ContainerState {
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    /// Create the (empty) state directory of a new container; `AlreadyExists` if the id is
    /// taken. An emptied directory left by [`ContainerState::remove_dir`] is renamed into place
    /// when there is one (`RENAME_NOREPLACE`, so an existing container is never replaced).
    pub fn create_dir(root: &Path, id: &str) -> std::io::Result<()> {
        let dir = Self::dir(root, id);
        for n in 0..RECYCLE_SLOTS {
            match rename_noreplace(&root.join(RECYCLE).join(n.to_string()), &dir) {
                Ok(()) => return Ok(()),
                Err(nix::errno::Errno::EEXIST) => {
                    return Err(std::io::ErrorKind::AlreadyExists.into())
                }
                Err(nix::errno::Errno::ENOENT) => continue,
                Err(_) => break,
            }
        }
        std::fs::create_dir(&dir)
    }

    /// Remove the state directory of `id`: its entries are deleted, then the directory itself is
    /// parked under `<root>/.recycle/` for the next [`ContainerState::create_dir`] (removed when
    /// the 8 slots are taken). Freeing a directory's block is not free: on an ext4 mounted
    /// `discard` without a journal (this project's VMs' `/run`), `rmdir` waits for a synchronous
    /// discard, 0.5-5 ms per container; a rename frees nothing.
    pub fn remove_dir(root: &Path, id: &str) -> std::io::Result<()> {
        let dir = Self::dir(root, id);
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                std::fs::remove_dir_all(e.path())?;
            } else {
                std::fs::remove_file(e.path())?;
            }
        }
        let pool = root.join(RECYCLE);
        if let Err(e) = std::fs::create_dir(&pool) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return std::fs::remove_dir(&dir);
            }
        }
        for n in 0..RECYCLE_SLOTS {
            match rename_noreplace(&dir, &pool.join(n.to_string())) {
                Ok(()) => return Ok(()),
                Err(nix::errno::Errno::EEXIST) => continue,
                Err(_) => break,
            }
        }
        std::fs::remove_dir(&dir)
    }

    /// Load the state of `id` under `root`.
    pub fn load(root: &Path, id: &str) -> Result<Self> {
        check_id(id)?;
        let path = Self::dir(root, id).join("state.json");
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RuntimeError::NotFound(id.to_string()))
            }
            Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
        };
        serde_json::from_slice(&text)
            .map_err(|e| RuntimeError::Other(format!("corrupt state {}: {e}", path.display())))
    }

    /// Write state.json atomically (temp file + rename).
    pub fn save(&self, root: &Path) -> Result<()> {
        let dir = Self::dir(root, &self.id);
        let tmp = dir.join("state.json.tmp");
        let data = serde_json::to_vec(self).expect("serializable");
        std::fs::write(&tmp, data).ctx(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join("state.json")).ctx(|| "rename state.json".into())
    }

    /// Is the init process still the one we started?
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && crate::sys::process_start_time(self.pid) == Some(self.pid_start)
    }

    /// The live status.
    pub fn status(&self, root: &Path) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if Self::dir(root, &self.id).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if crate::cgroups::manager(&self.cgroup)
            .is_frozen()
            .unwrap_or(false)
        {
            return Status::Paused;
        }
        Status::Running
    }

    /// The OCI state document with the live status.
    pub fn oci_state(&self, root: &Path) -> OciState {
        let status = self.status(root);
        OciState {
            oci_version: self.config.version().clone().if_empty("1.0.2-dev"),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.annotations.clone(),
        }
    }

    /// The state document given to hooks on stdin (OCI's exact field set).
    pub fn hook_state(&self, status: Status) -> serde_json::Value {
        serde_json::json!({
            "ociVersion": self.config.version(),
            "id": self.id,
            "status": status,
            "pid": self.pid,
            "bundle": self.bundle,
            "annotations": self.annotations,
        })
    }
}

trait IfEmpty {
    fn if_empty(self, default: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, default: &str) -> String {
        if self.is_empty() {
            default.to_string()
        } else {
            self
        }
    }
}

fn rename_noreplace(from: &Path, to: &Path) -> nix::Result<()> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        from,
        nix::fcntl::AT_FDCWD,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
}

/// Ids of all containers under `root`.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).ctx(|| format!("read {}", root.display())),
    };
    for e in rd.flatten() {
        if e.path().join("state.json").exists() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dirs_are_recycled_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        ContainerState::create_dir(r, "a").unwrap();
        std::fs::write(r.join("a/state.json"), "{}").unwrap();
        std::fs::create_dir(r.join("a/sub")).unwrap();
        ContainerState::remove_dir(r, "a").unwrap();
        assert!(!r.join("a").exists());
        assert_eq!(std::fs::read_dir(r.join(RECYCLE)).unwrap().count(), 1);
        assert!(list_ids(r).unwrap().is_empty());
        // A taken id stays taken, and the parked directory is not spent on it.
        ContainerState::create_dir(r, "b").unwrap();
        std::fs::write(r.join("b/state.json"), "{}").unwrap();
        ContainerState::create_dir(r, "c").unwrap();
        assert_eq!(std::fs::read_dir(r.join("c")).unwrap().count(), 0);
        let e = ContainerState::create_dir(r, "b").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(r.join("b/state.json").exists());
        // More deletions than slots: the rest are removed.
        for i in 0..RECYCLE_SLOTS + 2 {
            ContainerState::create_dir(r, &format!("x{i}")).unwrap();
        }
        for i in 0..RECYCLE_SLOTS + 2 {
            ContainerState::remove_dir(r, &format!("x{i}")).unwrap();
        }
        assert_eq!(
            std::fs::read_dir(r.join(RECYCLE)).unwrap().count(),
            RECYCLE_SLOTS as usize
        );
        assert_eq!(list_ids(r).unwrap(), vec!["b".to_string()]);
    }

    #[test]
    fn ids() {
        check_id("abc-1.2_x+y").unwrap();
        for bad in ["", "..", "a/b", "-a", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
