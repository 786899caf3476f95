//! The small verbs: `state`, `list`, `pause`, `resume`, `ps` (pids of the cgroup) and
//! `events --stats` (cgroup counters).

use crate::cgroups::Stats;
use crate::error::{Result, RuntimeError};
use crate::state::{list_ids, ContainerState, OciState, Status};
use std::path::Path;

pub fn state(root: &Path, id: &str) -> Result<OciState> {
    Ok(ContainerState::load(root, id)?.oci_state(root))
}

pub fn list(root: &Path) -> Result<Vec<OciState>> {
    let mut out = Vec::new();
    for id in list_ids(root)? {
        if let Ok(s) = ContainerState::load(root, &id) {
            out.push(s.oci_state(root));
        }
    }
    Ok(out)
}

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let st = ContainerState::load(root, id)?;
    match st.status(root) {
        Status::Running | Status::Created => crate::cgroups::manager(&st.cgroup).freeze(),
        s => Err(RuntimeError::Other(format!(
            "container not running (status {s})"
        ))),
    }
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let st = ContainerState::load(root, id)?;
    match st.status(root) {
        Status::Paused => crate::cgroups::manager(&st.cgroup).thaw(),
        _ => Err(RuntimeError::Other("container not paused".into())),
    }
}

pub fn ps_pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let st = ContainerState::load(root, id)?;
    crate::cgroups::manager(&st.cgroup).pids()
}

pub fn stats(root: &Path, id: &str) -> Result<Stats> {
    let st = ContainerState::load(root, id)?;
    if st.status(root) == Status::Stopped {
        return Err(RuntimeError::Other("container not running".into()));
    }
    crate::cgroups::manager(&st.cgroup).stats()
}
