//! The fork/namespace sequence shared by `create` and `exec`.
//!
//! ```text
//! caller ──fork──▶ helper: non-dumpable; joins the cgroup; setns() the namespaces given by
//!                  path (user first); unshare(NEWUSER) → "IdMap" → caller writes the maps
//!                  → "Ok"; unshare(the other new namespaces, except cgroup)
//!                  ──fork──▶ child: pid 1 of the new pid namespace; unshare(NEWCGROUP) now that
//!                            it sits in its cgroup; runs the body (init or exec)
//!                  sends "Pid <child>" and exits
//! ```
//! The caller drives [`Launched::next_event`] until the body reports `Ready` (or an error / EOF).
//!
//! Without a user or time namespace (the common case: docker's, Kubernetes'), one fork does:
//! ```text
//! caller: unshare(NEWPID) or setns(pid namespace by path) — for its children only
//!         ──fork──▶ child: pid 1 of the new pid namespace; non-dumpable; joins the cgroup;
//!                          setns() the other namespaces given by path, unshares the new ones
//!                          (cgroup last); runs the body
//!         setns(its own pid namespace) again: its later children (hooks) stay in its namespace
//! ```
//! The helper exists for what needs an order across two processes: a new user namespace (its
//! maps are written by the caller before the other namespaces are made inside it) and a time
//! namespace (offsets are written before its first process enters it).

use crate::cgroups::CgroupManager;
use crate::error::{Context, Result, RuntimeError};
use crate::namespaces;
use crate::sync::{self, Channel, Msg};
use crate::sys::{self, Fork};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType};
use std::path::PathBuf;

/// What the helper does before forking the child.
pub struct NamespacePlan {
    /// Namespaces to join, in join order.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// New namespaces to create (NEWUSER and NEWCGROUP are handled apart).
    pub unshare: CloneFlags,
    pub new_user: bool,
    pub new_cgroup: bool,
    pub uid_mappings: Vec<LinuxIdMapping>,
    pub gid_mappings: Vec<LinuxIdMapping>,
    /// `linux.timeOffsets` lines for a new time namespace.
    pub time_offsets: Vec<String>,
    /// CPUs of the helper (and so of the child) before it joins the cgroup
    /// (`execCPUAffinity.initial`).
    pub initial_cpus: Option<nix::sched::CpuSet>,
}

/// A launched helper/child pair seen from the caller.
pub struct Launched {
    pub channel: Channel,
    pub helper: i32,
    pub pid: Option<i32>,
    plan_uid: Vec<LinuxIdMapping>,
    plan_gid: Vec<LinuxIdMapping>,
}

/// Fork the helper; `body` runs in the final child and must not return on success (it execs).
pub fn launch(
    plan: &NamespacePlan,
    cgroup: Option<&dyn CgroupManager>,
    body: &mut dyn FnMut(&Channel) -> Result<()>,
) -> Result<Launched> {
    if one_fork(plan) {
        return launch_direct(plan, cgroup, body);
    }
    let (parent_end, child_end) = sync::pair()?;
    match sys::fork()? {
        Fork::Child => {
            drop(parent_end);
            exit_reporting(&child_end, helper(plan, cgroup, &child_end, body))
        }
        Fork::Parent(helper_pid) => {
            drop(child_end);
            Ok(Launched {
                channel: parent_end,
                helper: helper_pid,
                pid: None,
                plan_uid: plan.uid_mappings.clone(),
                plan_gid: plan.gid_mappings.clone(),
            })
        }
    }
}

/// Whether the child can be forked straight into its namespaces (see the module docs).
fn one_fork(plan: &NamespacePlan) -> bool {
    let time = namespaces::flag(LinuxNamespaceType::Time);
    !plan.new_user
        && plan.time_offsets.is_empty()
        && !plan.unshare.contains(time)
        && plan
            .join
            .iter()
            .all(|(t, _)| !matches!(t, LinuxNamespaceType::User | LinuxNamespaceType::Time))
}

fn launch_direct(
    plan: &NamespacePlan,
    cgroup: Option<&dyn CgroupManager>,
    body: &mut dyn FnMut(&Channel) -> Result<()>,
) -> Result<Launched> {
    let (parent_end, child_end) = sync::pair()?;
    // Opened before the child joins any: after a mount namespace, the paths may be gone.
    let files = open_namespaces(plan)?;
    let pid_join = files.iter().find(|(t, _, _)| *t == LinuxNamespaceType::Pid);
    let new_pid = plan.unshare.contains(CloneFlags::CLONE_NEWPID);
    let own_pid_ns = if pid_join.is_some() || new_pid {
        Some(std::fs::File::open("/proc/self/ns/pid").ctx(|| "open /proc/self/ns/pid".into())?)
    } else {
        None
    };
    if let Some((_, p, f)) = pid_join {
        nix::sched::setns(f, CloneFlags::CLONE_NEWPID)
            .ctx(|| format!("join pid namespace {}", p.display()))?;
    } else if new_pid {
        nix::sched::unshare(CloneFlags::CLONE_NEWPID).ctx(|| "unshare pid namespace".into())?;
    }
    let forked = sys::fork();
    if let Ok(Fork::Child) = forked {
        drop(parent_end);
        drop(own_pid_ns);
        exit_reporting(
            &child_end,
            direct_child(plan, cgroup, files, &child_end, body),
        )
    }
    drop(child_end);
    let restored = match &own_pid_ns {
        Some(f) => nix::sched::setns(f, CloneFlags::CLONE_NEWPID)
            .ctx(|| "return to the runtime's pid namespace".into()),
        None => Ok(()),
    };
    let Fork::Parent(pid) = forked? else {
        unreachable!("the child never gets here")
    };
    let mut launched = Launched {
        channel: parent_end,
        helper: 0,
        pid: Some(pid),
        plan_uid: Vec::new(),
        plan_gid: Vec::new(),
    };
    if let Err(e) = restored {
        launched.abort();
        return Err(e);
    }
    Ok(launched)
}

/// The child of [`launch_direct`], already in its pid namespace.
fn direct_child(
    plan: &NamespacePlan,
    cgroup: Option<&dyn CgroupManager>,
    files: Vec<NamespaceFile>,
    ch: &Channel,
    body: &mut dyn FnMut(&Channel) -> Result<()>,
) -> Result<()> {
    enter_cgroup(plan, cgroup)?;
    for ns in files.iter().filter(|ns| ns.0 != LinuxNamespaceType::Pid) {
        join_namespace(ns)?;
    }
    drop(files);
    let rest = plan.unshare - CloneFlags::CLONE_NEWPID;
    if !rest.is_empty() {
        nix::sched::unshare(rest).ctx(|| format!("unshare namespaces {rest:?}"))?;
    }
    if plan.new_cgroup {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace".into())?;
    }
    body(ch)
}

fn helper(
    plan: &NamespacePlan,
    cgroup: Option<&dyn CgroupManager>,
    ch: &Channel,
    body: &mut dyn FnMut(&Channel) -> Result<()>,
) -> Result<()> {
    // Die with the caller while setting up.
    sys::set_parent_death_signal(libc::SIGKILL)?;
    enter_cgroup(plan, cgroup)?;
    let files = open_namespaces(plan)?;
    for ns in &files {
        join_namespace(ns)?;
        if ns.0 == LinuxNamespaceType::User {
            become_root()?;
        }
    }
    drop(files);
    if plan.new_user {
        nix::sched::unshare(CloneFlags::CLONE_NEWUSER).ctx(|| "unshare user namespace".into())?;
        ch.send(&Msg::IdMap {
            pid: nix::unistd::getpid().as_raw(),
        })?;
        ch.wait_ok()?;
        become_root()?;
    }
    if !plan.unshare.is_empty() {
        nix::sched::unshare(plan.unshare)
            .ctx(|| format!("unshare namespaces {:?}", plan.unshare))?;
    }
    if !plan.time_offsets.is_empty() {
        // /proc/self files of a non-dumpable process belong to the host's root: briefly
        // dumpable so a mapped root may write its own offsets.
        sys::set_dumpable(true)?;
        let r = std::fs::write("/proc/self/timens_offsets", plan.time_offsets.join("\n"))
            .ctx(|| "write timens_offsets".into());
        sys::set_dumpable(false)?;
        r?;
    }
    match sys::fork()? {
        Fork::Child => {
            let r = (|| {
                if plan.new_cgroup {
                    nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
                        .ctx(|| "unshare cgroup namespace".into())?;
                }
                body(ch)
            })();
            exit_reporting(ch, r)
        }
        Fork::Parent(pid) => {
            ch.send(&Msg::Pid { pid })?;
            Ok(())
        }
    }
}

/// First steps of the helper and of a directly forked child: non-dumpable, so that the container
/// can neither ptrace it nor open its /proc/<pid>/exe while it runs the runtime's code inside the
/// container's namespaces (CVE-2019-5736); `execCPUAffinity.initial`; then the cgroup.
fn enter_cgroup(plan: &NamespacePlan, cgroup: Option<&dyn CgroupManager>) -> Result<()> {
    sys::set_dumpable(false)?;
    if let Some(cpus) = &plan.initial_cpus {
        super::sched::set_affinity(cpus)?;
    }
    crate::debug_log(&format!("affinity: {:#x}", super::sched::affinity_mask()));
    match cgroup {
        Some(cg) => cg.add_task(0),
        None => Ok(()),
    }
}

type NamespaceFile<'a> = (LinuxNamespaceType, &'a PathBuf, std::fs::File);

/// The namespaces to join, opened in join order.
fn open_namespaces(plan: &NamespacePlan) -> Result<Vec<NamespaceFile<'_>>> {
    plan.join
        .iter()
        .map(|(t, p)| {
            let f = std::fs::File::open(p).ctx(|| format!("open namespace {}", p.display()))?;
            Ok((*t, p, f))
        })
        .collect()
}

fn join_namespace((t, p, f): &NamespaceFile) -> Result<()> {
    nix::sched::setns(f, namespaces::flag(*t)).ctx(|| {
        format!(
            "join {} namespace {}",
            namespaces::proc_name(*t),
            p.display()
        )
    })
}

/// Leave a forked child: 0, or 1 after reporting the error to the caller.
fn exit_reporting(ch: &Channel, r: Result<()>) -> ! {
    let code = match r {
        Ok(()) => 0,
        Err(e) => {
            let _ = ch.send(&Msg::Error { msg: e.to_string() });
            1
        }
    };
    sys::exit_now(code)
}

fn become_root() -> Result<()> {
    let g = nix::unistd::Gid::from_raw(0);
    let u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(g, g, g).ctx(|| "setgid 0 in user namespace".into())?;
    nix::unistd::setresuid(u, u, u).ctx(|| "setuid 0 in user namespace".into())
}

/// Progress events the caller must act on.
pub enum Event {
    /// Run prestart/createRuntime hooks, then call [`Launched::ack`].
    Hooks,
    /// The body finished its setup.
    Ready,
    /// The seccomp notify fd: give it to the agent, then call [`Launched::ack`].
    SeccompFd(std::os::fd::OwnedFd),
}

impl Launched {
    /// Handle messages until the body needs the caller (hooks) or is ready. Id maps and the pid
    /// are handled here.
    pub fn next_event(&mut self) -> Result<Event> {
        loop {
            match self.channel.recv()? {
                Some(Msg::IdMap { pid }) => {
                    let r = namespaces::write_id_maps(pid, &self.plan_uid, &self.plan_gid);
                    match r {
                        Ok(()) => self.channel.send(&Msg::Ok)?,
                        Err(e) => {
                            let _ = self.channel.send(&Msg::Error { msg: e.to_string() });
                            return Err(e);
                        }
                    }
                }
                Some(Msg::Pid { pid }) => {
                    self.pid = Some(pid);
                    self.reap_helper();
                }
                Some(Msg::Hooks) => return self.after_pid(Event::Hooks),
                Some(Msg::Ready) => return self.after_pid(Event::Ready),
                Some(Msg::SeccompFd) => {
                    let fd = self
                        .channel
                        .take_fd()
                        .ok_or_else(|| RuntimeError::Init("seccomp notify fd missing".into()))?;
                    return self.after_pid(Event::SeccompFd(fd));
                }
                Some(Msg::Error { msg }) => return Err(RuntimeError::Init(msg)),
                Some(Msg::Ok) => {}
                None => {
                    return Err(RuntimeError::Init(
                        "container process exited before it was set up".into(),
                    ))
                }
            }
        }
    }

    /// The helper reports the child's pid and the child reports its progress on the same
    /// socket from two processes, so the child's `Hooks`/`Ready` can overtake the `Pid`: hold the
    /// event until the pid has arrived.
    fn after_pid(&mut self, event: Event) -> Result<Event> {
        while self.pid.is_none() {
            match self.channel.recv()? {
                Some(Msg::Pid { pid }) => {
                    self.pid = Some(pid);
                    self.reap_helper();
                }
                Some(Msg::Error { msg }) => return Err(RuntimeError::Init(msg)),
                Some(m) => {
                    return Err(RuntimeError::Init(format!(
                        "unexpected message {m:?} before the process pid"
                    )))
                }
                None => {
                    return Err(RuntimeError::Init(
                        "namespace helper exited before reporting the process pid".into(),
                    ))
                }
            }
        }
        Ok(event)
    }

    /// Answer a `Hooks` event.
    pub fn ack(&self, r: &Result<()>) -> Result<()> {
        match r {
            Ok(()) => self.channel.send(&Msg::Ok),
            Err(e) => self.channel.send(&Msg::Error { msg: e.to_string() }),
        }
    }

    fn reap_helper(&mut self) {
        if self.helper > 0 {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.helper), None);
            self.helper = 0;
        }
    }

    /// Kill whatever was started and reap the helper (error path).
    pub fn abort(&mut self) {
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if self.helper > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.helper),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.reap_helper();
        if let Some(pid) = self.pid {
            // Reaped here if we are its subreaper (so it no longer counts in the cgroup);
            // otherwise waitpid fails at once with ECHILD and its reaper takes it.
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
    }
}
