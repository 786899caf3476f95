//! `start`: release a created container's init by opening exec.fifo for reading, then run the
//! poststart hooks (a failing poststart hook is a warning, as the spec says).

use crate::error::{Context, Result, RuntimeError};
use crate::state::{ContainerState, Status, EXEC_FIFO};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<ContainerState> {
    let st = ContainerState::load(root, id)?;
    start_state(root, &st)?;
    Ok(st)
}

/// [`start`] of a container whose state the caller holds (`run`: the one `create` returned).
pub fn start_state(root: &Path, st: &ContainerState) -> Result<()> {
    let id = st.id.as_str();
    match st.status(root) {
        Status::Created => {}
        Status::Stopped => {
            return Err(RuntimeError::Other(
                "cannot start a container that has stopped".into(),
            ))
        }
        s => {
            return Err(RuntimeError::Other(format!(
                "cannot start an already running container (status {s})"
            )))
        }
    }
    let fifo_path = ContainerState::dir(root, id).join(EXEC_FIFO);
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo_path)
        .ctx(|| format!("open {}", fifo_path.display()))?;
    // Wait for the init's write, watching that it does not die meanwhile.
    loop {
        let mut pfd = [nix::poll::PollFd::new(
            // SAFETY-free: borrowing the file's fd for the poll call only.
            std::os::fd::AsFd::as_fd(&fifo),
            nix::poll::PollFlags::POLLIN,
        )];
        let n = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)).unwrap_or(0);
        if n > 0 {
            let mut b = [0u8; 1];
            match fifo.read(&mut b) {
                Ok(1) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).ctx(|| "read exec fifo".into()),
            }
        }
        if !st.init_alive() {
            let _ = fifo.as_raw_fd();
            return Err(RuntimeError::Other(
                "cannot start a container that has stopped".into(),
            ));
        }
    }
    let _ = std::fs::remove_file(&fifo_path);
    if let Some(h) = st
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().clone())
    {
        if let Err(e) = crate::hooks::run(&h, &st.hook_state(Status::Running)) {
            // As runc: the container is stopped and start fails.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(st.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            return Err(e);
        }
    }
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;
