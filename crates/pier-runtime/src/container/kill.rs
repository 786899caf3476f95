//! `kill`: send a signal to the init, or with `all` to every process of the container's cgroup.

use crate::error::{Context, Result, RuntimeError};
use crate::state::{ContainerState, Status};
use nix::sys::signal::Signal;
use std::path::Path;
use std::str::FromStr;

/// Parse "KILL", "SIGKILL", "kill" or "9".
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| RuntimeError::Other(format!("invalid signal: {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| RuntimeError::Other(format!("invalid signal: {s}")))
}

pub fn kill(root: &Path, id: &str, sig: Signal, all: bool) -> Result<()> {
    let st = ContainerState::load(root, id)?;
    if st.status(root) == Status::Stopped {
        if all {
            // Processes may outlive the init (no pid namespace): still signal the cgroup.
            let pids = crate::cgroups::manager(&st.cgroup)
                .pids()
                .unwrap_or_default();
            for p in pids {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig);
            }
            return Ok(());
        }
        return Err(RuntimeError::Other("container not running".into()));
    }
    if all {
        let cg = crate::cgroups::manager(&st.cgroup);
        let frozen = cg.is_frozen().unwrap_or(false);
        for p in cg.pids()? {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig);
        }
        if frozen && sig == Signal::SIGKILL {
            let _ = cg.thaw();
        }
        return Ok(());
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(st.pid), sig)
        .ctx(|| format!("kill {}", st.pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }
}
