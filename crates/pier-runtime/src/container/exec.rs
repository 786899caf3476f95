//! `exec`: run a new process in a running container — join every namespace of its init
//! (user first), its cgroup, apply the process (user, caps, rlimits, no_new_privs, the
//! container's seccomp profile, cwd) and exec. Success is known when the sync socket closes on
//! `execve` (close-on-exec); a failed exec reports its error on it. A container without a mount
//! namespace has its root only by chroot: the process chroots into the init's root too.

use crate::error::{Context, Result, RuntimeError};
use crate::process::launch::{self, Event, NamespacePlan};
use crate::state::{ContainerState, Status};
use crate::sync::Msg;
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Process};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// Options of `exec`.
#[derive(Debug, Default)]
pub struct ExecOptions {
    pub root: PathBuf,
    pub id: String,
    pub process: Process,
    /// Connected console socket for `terminal: true`.
    pub console: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// Make the caller the reaper of the new process so it can wait for it.
    pub subreaper: bool,
    /// The process's stdin, stdout, stderr (default: the caller's own 0, 1, 2).
    pub stdio: Option<[OwnedFd; 3]>,
}

fn same_ns(pid: i32, name: &str) -> bool {
    let a = std::fs::metadata(format!("/proc/self/ns/{name}"));
    let b = std::fs::metadata(format!("/proc/{pid}/ns/{name}"));
    use std::os::unix::fs::MetadataExt;
    matches!((a, b), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

/// Start the process; returns its host pid.
pub fn exec(mut opts: ExecOptions) -> Result<i32> {
    let st = ContainerState::load(&opts.root, &opts.id)?;
    match st.status(&opts.root) {
        Status::Running | Status::Created => {}
        Status::Paused => {
            return Err(RuntimeError::Other(
                "cannot exec in a paused container".into(),
            ))
        }
        _ => {
            return Err(RuntimeError::Other(
                "cannot exec in a stopped container".into(),
            ))
        }
    }
    let linux = st.config.linux().clone().unwrap_or_default();
    let mut plan = super::process_plan(
        &opts.process,
        &linux,
        &opts.root,
        opts.preserve_fds,
        opts.console.as_ref(),
        opts.stdio.as_ref(),
    )?;
    if plan.terminal && opts.console.is_none() {
        return Err(RuntimeError::InvalidConfig(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        ));
    }
    let mut ns_plan = NamespacePlan {
        join: Vec::new(),
        unshare: CloneFlags::empty(),
        new_user: false,
        new_cgroup: false,
        uid_mappings: vec![],
        gid_mappings: vec![],
        time_offsets: vec![],
        initial_cpus: None,
    };
    plan.container_settings(&linux)?;
    if let Some(a) = opts.process.exec_cpu_affinity() {
        let a = crate::process::sched::ExecAffinity::from_spec(a)?;
        ns_plan.initial_cpus = a.initial;
        plan.cpus = a.last;
    }
    let list = linux.namespaces().clone().unwrap_or_default();
    for ns in crate::namespaces::join_order(&list) {
        let name = crate::namespaces::proc_name(ns.typ());
        if ns.typ() == LinuxNamespaceType::User && same_ns(st.pid, name) {
            continue;
        }
        ns_plan.join.push((
            ns.typ(),
            PathBuf::from(format!("/proc/{}/ns/{name}", st.pid)),
        ));
    }
    let chroot_to = if list.iter().any(|n| n.typ() == LinuxNamespaceType::Mount) {
        None
    } else {
        let root = format!("/proc/{}/root", st.pid);
        Some(
            nix::fcntl::open(
                root.as_str(),
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| format!("open {root}"))?,
        )
    };
    let cg = crate::cgroups::manager(&st.cgroup);
    if opts.subreaper {
        crate::sys::set_child_subreaper()?;
    }
    let mut console = opts.console.take();
    let stdio = opts.stdio.take();
    let mut launched = launch::launch(&ns_plan, Some(cg.as_ref()), &mut |ch| {
        if let Some(fds) = &stdio {
            crate::sys::dup_stdio(fds)?;
        }
        if let Some(root) = &chroot_to {
            nix::unistd::fchdir(root).ctx(|| "fchdir container root".into())?;
            nix::unistd::chroot(".").ctx(|| "chroot container root".into())?;
        }
        if plan.terminal {
            nix::unistd::setsid().map_err(|e| RuntimeError::Sys {
                op: "setsid".into(),
                source: e,
            })?;
            let sock = console.take().expect("checked");
            let (master, slave) = crate::console::open_pty()?;
            if let Some((rows, cols)) = plan.console_size {
                crate::console::set_size(master.as_raw_fd(), rows, cols);
            }
            crate::sys::send_fd(sock.as_raw_fd(), b"/dev/ptmx", master.as_raw_fd())?;
            drop(master);
            drop(sock);
            crate::console::become_tty(&slave)?;
        }
        let exe = plan.apply(ch)?;
        ch.send(&Msg::Ready)?;
        Err(plan.exec(&exe, ch))
    })?;
    drop(console);
    drop(stdio);
    let r = (|| -> Result<i32> {
        loop {
            match launched.next_event()? {
                Event::Ready => break,
                Event::Hooks => return Err(RuntimeError::Init("unexpected hooks request".into())),
                Event::SeccompFd(fd) => {
                    let pid = launched.pid.unwrap_or(0);
                    let r = super::create::send_seccomp_fd(&st, Status::Running, pid, &fd);
                    drop(fd);
                    launched.ack(&r)?;
                    r?;
                }
            }
        }
        match launched.channel.recv()? {
            None => {}
            Some(Msg::Error { msg }) => return Err(RuntimeError::Init(msg)),
            Some(m) => return Err(RuntimeError::Init(format!("unexpected message {m:?}"))),
        }
        launched
            .pid
            .ok_or_else(|| RuntimeError::Init("exec pid was never reported".into()))
    })();
    let pid = match r {
        Ok(p) => p,
        Err(e) => {
            launched.abort();
            return Err(e);
        }
    };
    if let Some(p) = &opts.pid_file {
        super::write_pid_file(p, pid)?;
    }
    Ok(pid)
}
