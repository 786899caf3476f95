//! `delete`: remove a stopped (or, with `force`, a running) container: kill what is left, remove
//! its cgroup, run the poststop hooks and remove its state directory.

use crate::error::{Result, RuntimeError};
use crate::state::{ContainerState, Status};
use nix::sys::signal::Signal;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let st = match ContainerState::load(root, id) {
        Ok(s) => s,
        Err(RuntimeError::NotFound(_)) if force => {
            // Half-created leftovers (no state.json yet) go too.
            let dir = ContainerState::dir(root, id);
            crate::state::check_id(id)?;
            let _ = std::fs::remove_dir_all(dir);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    delete_state(root, &st, force)
}

/// [`delete`] of a container whose state the caller holds (`run`: the one `create` returned).
pub fn delete_state(root: &Path, st: &ContainerState, force: bool) -> Result<()> {
    let id = st.id.as_str();
    let status = st.status(root);
    let cg = crate::cgroups::manager(&st.cgroup);
    match status {
        Status::Stopped => {}
        Status::Created => kill_init(st),
        Status::Running | Status::Paused | Status::Creating => {
            if !force {
                return Err(RuntimeError::Other(format!(
                    "cannot delete container {id} that is not stopped: {status}"
                )));
            }
            for p in cg.pids().unwrap_or_default() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGKILL);
            }
            if status == Status::Paused {
                let _ = cg.thaw();
            }
            kill_init(st);
        }
    }
    cg.destroy()?;
    let hook = match st
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().clone())
    {
        Some(h) => crate::hooks::run(&h, &st.hook_state(Status::Stopped)),
        None => Ok(()),
    };
    ContainerState::remove_dir(root, id)
        .map_err(|e| RuntimeError::Other(format!("remove state of {id}: {e}")))?;
    // The container is gone either way; a failed poststop hook is still reported (as runc).
    hook
}

fn kill_init(st: &ContainerState) {
    let pid = nix::unistd::Pid::from_raw(st.pid);
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.init_alive() && Instant::now() < deadline {
        // Reap it if it is our child (subreaper); otherwise its reaper will.
        let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        std::thread::sleep(Duration::from_millis(2));
    }
}
