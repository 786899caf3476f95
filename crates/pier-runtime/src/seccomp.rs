//! Seccomp: an OCI `linux.seccomp` section compiled with libseccomp (default action and errno,
//! architectures, per-syscall actions with argument conditions, filter flags). The filter is
//! built in the parent, so a bad profile fails before anything exists, and loaded in the child
//! (before dropping capabilities when `noNewPrivileges` is false, since loading then needs
//! CAP_SYS_ADMIN). Syscall names this libseccomp does not know are skipped, as runc does.
//! `SCMP_ACT_NOTIFY` needs `listenerPath`: the child sends the filter's notify fd to the runtime,
//! which passes it to the agent listening there with the container process state
//! ([`send_to_agent`], the OCI `ContainerProcessState` with `fds: ["seccompFd"]`).

use crate::error::{Result, RuntimeError};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

fn err(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Seccomp(e.to_string())
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    let eperm = libc::EPERM as u32;
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(eperm) as i32),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(eperm) as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

fn compare(op: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> (ScmpCompareOp, u64) {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0))
        }
    }
}

/// Whether the section uses `SCMP_ACT_NOTIFY` (so a listener gets the notify fd).
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Compile the section into a filter ready to load.
pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    if uses_notify(s) && s.listener_path().is_none() {
        return Err(err("SCMP_ACT_NOTIFY needs a listenerPath"));
    }
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(err("SCMP_ACT_NOTIFY cannot be the default action"));
    }
    let default = action(s.default_action(), s.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(err)?;
    // The spec's noNewPrivileges decides; libseccomp must not set it behind our back.
    ctx.set_ctl_nnp(false).map_err(err)?;
    for arch in s.architectures().as_deref().unwrap_or_default() {
        let name = serde_json::to_value(arch).map_err(err)?;
        let name = name.as_str().unwrap_or_default();
        let a: ScmpArch = name
            .parse()
            .map_err(|_| err(format!("unknown architecture {name}")))?;
        if !ctx.is_arch_present(a).map_err(err)? {
            ctx.add_arch(a).map_err(err)?;
        }
    }
    for f in s.flags().as_deref().unwrap_or_default() {
        match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => ctx.set_ctl_log(true).map(drop),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true).map(drop),
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true).map(drop),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                ctx.set_ctl_waitkill(true).map(drop)
            }
        }
        .map_err(err)?;
    }
    for rule in s.syscalls().as_deref().unwrap_or_default() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let args = rule.args().as_deref().unwrap_or_default();
        let conds: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| {
                let (op, datum) = compare(a.op(), a.value(), a.value_two());
                ScmpArgCompare::new(a.index() as u32, op, datum)
            })
            .collect();
        let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
        indexes.sort();
        indexes.dedup();
        let same_index = indexes.len() != args.len();
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            if conds.is_empty() {
                ctx.add_rule(act, sc)
                    .map_err(|e| err(format!("{name}: {e}")))?;
            } else if same_index {
                // libseccomp ANDs the conditions of one rule and refuses two on one argument:
                // such rules mean OR, one rule per condition (runc's reading).
                for c in &conds {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map_err(|e| err(format!("{name}: {e}")))?;
                }
            } else {
                ctx.add_rule_conditional(act, sc, &conds)
                    .map_err(|e| err(format!("{name}: {e}")))?;
            }
        }
    }
    Ok(ctx)
}

/// Install the filter on the calling thread.
pub fn load(ctx: &ScmpFilterContext) -> Result<()> {
    ctx.load().map_err(|e| err(format!("load filter: {e}")))
}

/// The notify fd of a loaded filter that has `SCMP_ACT_NOTIFY` rules.
pub fn notify_fd(ctx: &ScmpFilterContext) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let fd = ctx
        .get_notify_fd()
        .map_err(|e| err(format!("seccomp notify fd: {e}")))?;
    // SAFETY: libseccomp hands us the listener fd the kernel returned; we own it from here.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Give the notify fd to the seccomp agent at `listener`, with the container process state.
pub fn send_to_agent(
    listener: &std::path::Path,
    metadata: Option<&str>,
    pid: i32,
    state: &serde_json::Value,
    fd: &std::os::fd::OwnedFd,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    let sock = std::os::unix::net::UnixStream::connect(listener).map_err(|e| {
        err(format!(
            "connect to seccomp agent {}: {e}",
            listener.display()
        ))
    })?;
    let msg = serde_json::json!({
        "ociVersion": state["ociVersion"],
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata.unwrap_or(""),
        "state": state,
    });
    crate::sys::send_fd(sock.as_raw_fd(), msg.to_string().as_bytes(), fd.as_raw_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_docker_default_profile() {
        let Ok(text) = std::fs::read_to_string("/work/shared/reference/seccomp-default.json")
        else {
            eprintln!("skip: docker's seccomp profile not present");
            return;
        };
        let oci = crate::seccomp_profile::docker_to_oci(&text, "amd64", &[]).unwrap();
        let s: LinuxSeccomp = serde_json::from_value(oci).unwrap();
        build(&s).unwrap();
    }

    #[test]
    fn notify_needs_a_listener() {
        let mut v = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        });
        let s: LinuxSeccomp = serde_json::from_value(v.clone()).unwrap();
        assert!(uses_notify(&s));
        assert!(build(&s).is_err());
        v["listenerPath"] = "/run/agent.sock".into();
        let s: LinuxSeccomp = serde_json::from_value(v).unwrap();
        build(&s).unwrap();
    }
}
