//! Container life cycle, one verb per file: [`create`], [`start`], [`kill`], [`delete`],
//! [`exec`], and the small ones in [`ops`] (state, list, pause, resume, ps, stats). Each takes the
//! state root and the container id, as runc's commands do, so the library and `pier-runc` share
//! containers.

pub mod create;
pub mod delete;
pub mod exec;
pub mod kill;
pub mod ops;
pub mod start;

pub use create::{create, CreateOptions};
pub use delete::{delete, delete_state};
pub use exec::{exec, ExecOptions};
pub use kill::{kill, parse_signal};
pub use ops::{list, pause, ps_pids, resume, state, stats};
pub use start::{start, start_state};

use crate::error::{Context, Result};
use crate::process::ProcessPlan;
use std::os::fd::{AsRawFd, OwnedFd};

/// The plan of a container process (init or exec'd) whose extra fds (`--preserve-fds`) do not
/// count the runtime's own fds handed in with it: the console socket and the stdio.
fn process_plan(
    process: &oci_spec::runtime::Process,
    linux: &oci_spec::runtime::Linux,
    root: &std::path::Path,
    preserve_fds: u32,
    console: Option<&OwnedFd>,
    stdio: Option<&[OwnedFd; 3]>,
) -> Result<ProcessPlan> {
    let mut plan = ProcessPlan::new(
        process,
        linux.seccomp().as_ref(),
        Some(&crate::seccomp::cache_dir(root)),
        preserve_fds,
    )?;
    let own: Vec<i32> = console
        .into_iter()
        .chain(stdio.into_iter().flatten())
        .map(|f| f.as_raw_fd())
        .collect();
    plan.preserved.retain(|fd| !own.contains(fd));
    Ok(plan)
}

/// Wait for a child process (the caller must be its parent or subreaper) and return its exit
/// code as a shell reports it (128+signal when killed). EINTR is retried.
pub fn wait_exit(pid: i32) -> Result<i32> {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx(|| format!("wait for {pid}")),
        }
    }
}

/// Write a pid file atomically (temp + rename), as runc does, so readers never see it half-written.
pub fn write_pid_file(path: &std::path::Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("pier-tmp");
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("rename to {}", path.display()))
}
