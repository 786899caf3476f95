//! The container process: what is computed from an OCI `process` in the parent
//! ([`ProcessPlan::new`], so bad input fails before anything exists) and applied in the child
//! just before `execve` ([`ProcessPlan::apply`]): rlimits, exec CPU affinity, scheduler,
//! oom_score_adj, I/O priority, personality, memory policy ([`sched`]), capabilities, uid/gid/additional groups, no_new_privs, seccomp, umask, cwd
//! (checked to be inside the container: CVE-2024-21626), the executable looked up in the
//! container's PATH, every fd beyond stdio and the preserved ones marked close-on-exec, and every
//! signal back to its default action and unblocked (the runtime ignores SIGPIPE).
//!
//! [`launch`] holds the fork/namespace sequence shared by `create` and `exec`; [`init`] the body
//! of a container's init.

pub mod init;
pub mod launch;
pub mod sched;

use crate::capabilities::CapSets;
use crate::error::{Context, Result, RuntimeError};
use oci_spec::runtime::{LinuxSeccomp, PosixRlimit, Process};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Everything needed to turn the (forked) runtime into the container's process.
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: Option<CapSets>,
    pub rlimits: Vec<PosixRlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    pub seccomp: Option<crate::seccomp::Filter>,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub io_priority: Option<(i64, i64)>,
    pub personality32: bool,
    pub scheduler: Option<sched::SchedAttr>,
    pub mempolicy: Option<sched::MemPolicy>,
    /// CPUs once in the cgroup (exec's `execCPUAffinity.final`).
    pub cpus: Option<nix::sched::CpuSet>,
    pub preserve_fds: u32,
    /// The fds of 3..3+preserve_fds that were open when the plan was made (the caller's);
    /// the runtime's own fds never pass, even if they reuse a number in that range.
    pub preserved: Vec<i32>,
    /// How the process enters the program (CVE-2019-5736; see [`crate::exeseal::entry_for`]).
    pub entry: crate::exeseal::Entry,
}

impl ProcessPlan {
    /// `seccomp_cache`: where compiled filters are kept (see [`crate::seccomp::prepare`]).
    pub fn new(
        p: &Process,
        seccomp: Option<&LinuxSeccomp>,
        seccomp_cache: Option<&Path>,
        preserve_fds: u32,
    ) -> Result<Self> {
        let args = p.args().clone().unwrap_or_default();
        if args.is_empty() || args[0].is_empty() {
            return Err(RuntimeError::InvalidConfig("args must not be empty".into()));
        }
        let caps = p
            .capabilities()
            .as_ref()
            .map(CapSets::from_spec)
            .transpose()?;
        if let Some(rl) = p.rlimits() {
            for r in rl {
                if r.soft() > r.hard() {
                    return Err(RuntimeError::InvalidConfig(format!(
                        "rlimit {:?}: soft {} above hard {}",
                        r.typ(),
                        r.soft(),
                        r.hard()
                    )));
                }
            }
        }
        let scheduler = p
            .scheduler()
            .as_ref()
            .map(sched::SchedAttr::from_spec)
            .transpose()?;
        if p.apparmor_profile()
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        {
            eprintln!(
                "warning: apparmor is not enabled on this host; profile {:?} not applied",
                p.apparmor_profile().as_deref().unwrap_or("")
            );
        }
        if p.selinux_label().as_deref().is_some_and(|s| !s.is_empty()) {
            eprintln!("warning: SELinux is not enabled on this host; label not applied");
        }
        let io_priority = p.io_priority().map(|io| {
            let class = match serde_json::to_value(io.class())
                .unwrap_or_default()
                .as_str()
            {
                Some("IOPRIO_CLASS_RT") => 1,
                Some("IOPRIO_CLASS_IDLE") => 3,
                _ => 2,
            };
            (class, io.priority())
        });
        Ok(ProcessPlan {
            args,
            env: p.env().clone().unwrap_or_default(),
            cwd: p.cwd().clone(),
            uid: p.user().uid(),
            gid: p.user().gid(),
            additional_gids: p.user().additional_gids().clone().unwrap_or_default(),
            umask: p.user().umask(),
            caps,
            rlimits: p.rlimits().clone().unwrap_or_default(),
            no_new_privileges: p.no_new_privileges().unwrap_or(false),
            oom_score_adj: p.oom_score_adj(),
            entry: crate::exeseal::entry_for(seccomp)?,
            seccomp: seccomp
                .map(|s| crate::seccomp::prepare(s, seccomp_cache))
                .transpose()?,
            terminal: p.terminal().unwrap_or(false),
            console_size: p
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16)),
            io_priority,
            personality32: false,
            scheduler,
            mempolicy: None,
            cpus: None,
            preserve_fds,
            preserved: (3..3 + preserve_fds as i32)
                .filter(|fd| {
                    nix::fcntl::fcntl(
                        // SAFETY: only probing whether the number is an open fd.
                        unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) },
                        nix::fcntl::FcntlArg::F_GETFD,
                    )
                    .is_ok()
                })
                .collect(),
        })
    }

    /// What the container's `linux` section sets for each of its processes (init and exec):
    /// personality, memory policy.
    pub fn container_settings(&mut self, linux: &oci_spec::runtime::Linux) -> Result<()> {
        if let Some(p) = linux.personality() {
            self.personality32 = serde_json::to_value(p.domain()).unwrap_or_default() == "LINUX32";
        }
        self.mempolicy = linux
            .memory_policy()
            .as_ref()
            .map(sched::MemPolicy::from_spec)
            .transpose()?;
        Ok(())
    }

    fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v)
        })
    }

    /// Find the executable as the container sees it (call after pivot_root and chdir).
    pub fn find_executable(&self) -> Result<PathBuf> {
        let name = &self.args[0];
        let ok = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| {
                    m.is_file()
                        && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
                })
                .unwrap_or(false)
        };
        if name.contains('/') {
            // Go's exec.LookPath for a path, as runc reports it: the stat error, "is a
            // directory", or "permission denied" (which engines turn into exit code 126).
            let p = PathBuf::from(name);
            if ok(&p) {
                return Ok(p);
            }
            let why = match std::fs::metadata(&p) {
                Err(e) => format!(
                    "stat {name}: {}",
                    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))
                        .desc()
                        .to_lowercase()
                ),
                Ok(m) if m.is_dir() => "is a directory".to_string(),
                Ok(_) => "permission denied".to_string(),
            };
            return Err(RuntimeError::Init(format!("exec: {name:?}: {why}")));
        }
        let path = self
            .env_var("PATH")
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        for dir in path.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let p = Path::new(dir).join(name);
            if ok(&p) {
                return Ok(p);
            }
        }
        Err(RuntimeError::Init(format!(
            "exec: {name:?}: executable file not found in $PATH"
        )))
    }

    /// Apply everything up to (not including) execve. Call as root in the container's
    /// namespaces and root directory.
    pub fn apply(&mut self, ch: &crate::sync::Channel) -> Result<PathBuf> {
        for r in &self.rlimits {
            let res = rlimit_resource(r)?;
            let lim = libc::rlimit {
                rlim_cur: r.soft(),
                rlim_max: r.hard(),
            };
            // SAFETY: setrlimit reads a struct we own.
            if unsafe { libc::setrlimit(res, &lim) } < 0 {
                return Err(RuntimeError::Sys {
                    op: format!(
                        "setrlimit {:?} soft={} hard={}",
                        r.typ(),
                        r.soft(),
                        r.hard()
                    ),
                    source: nix::errno::Errno::last(),
                });
            }
        }
        if let Some(cpus) = &self.cpus {
            sched::set_affinity(cpus)?;
        }
        if let Some(s) = &self.scheduler {
            s.apply()?;
        }
        if let Some(adj) = self.oom_score_adj {
            std::fs::write("/proc/self/oom_score_adj", adj.to_string())
                .ctx(|| format!("set oom_score_adj {adj}"))?;
        }
        if let Some((class, prio)) = self.io_priority {
            let v = (class << 13) | (prio & 0x1fff);
            // SAFETY: ioprio_set with integer arguments.
            if unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, v) } < 0 {
                return Err(RuntimeError::Sys {
                    op: "ioprio_set".into(),
                    source: nix::errno::Errno::last(),
                });
            }
        }
        if self.personality32 {
            // SAFETY: personality with an integer argument.
            unsafe { libc::personality(0x0008) };
        }
        if let Some(m) = &self.mempolicy {
            m.apply()?;
        }
        // Make the cwd and enter it while still root, as runc does (again as the user if root
        // may not: a volume only the user can enter). Before seccomp, whose filter may trap
        // getcwd (SCMP_ACT_NOTIFY with an agent that never answers).
        let cwd = self.cwd.clone();
        if !cwd.exists() {
            let _ = std::fs::create_dir_all(&cwd);
        }
        let chdir_later = match nix::unistd::chdir(&cwd) {
            Ok(()) => {
                check_cwd(&cwd)?;
                false
            }
            Err(nix::errno::Errno::EACCES) | Err(nix::errno::Errno::EPERM) => true,
            Err(e) => {
                return Err(e)
                    .ctx(|| format!("chdir to cwd ({}) set in config.json", cwd.display()))
            }
        };
        if let (Some(f), false) = (&self.seccomp, self.no_new_privileges) {
            load_seccomp(f, ch)?;
        }
        if let Some(c) = &self.caps {
            c.drop_bounding()?;
        }
        crate::sys::set_keep_caps(true)?;
        let gids: Vec<nix::unistd::Gid> = self
            .additional_gids
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        // In a user namespace with setgroups denied this fails: only an error if groups were asked.
        if let Err(e) = nix::unistd::setgroups(&gids) {
            if !gids.is_empty() {
                return Err(e).ctx(|| "setgroups".into());
            }
        }
        let gid = nix::unistd::Gid::from_raw(self.gid);
        nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setgid {}", self.gid))?;
        let uid = nix::unistd::Uid::from_raw(self.uid);
        nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setuid {}", self.uid))?;
        crate::sys::set_keep_caps(false)?;
        if let Some(c) = &self.caps {
            c.apply()?;
        }
        if self.no_new_privileges {
            crate::sys::set_no_new_privs()?;
        }
        if chdir_later {
            nix::unistd::chdir(&cwd)
                .ctx(|| format!("chdir to cwd ({}) set in config.json", cwd.display()))?;
            check_cwd(&cwd)?;
        }
        if let (Some(f), true) = (&self.seccomp, self.no_new_privileges) {
            load_seccomp(f, ch)?;
        }
        crate::sys::umask(self.umask.unwrap_or(0o022));
        if self.env_var("HOME").is_none() {
            let home = home_of(self.uid).unwrap_or_else(|| "/".into());
            self.env.push(format!("HOME={home}"));
        }
        self.find_executable()
    }

    /// Replace the process (after [`apply`](Self::apply)); returns only on failure. Through
    /// the trampoline, a failure of the program's own `execve` reaches the parent on `ch` as
    /// the same `exec …` error (see [`crate::sync::Channel::recv`]).
    pub fn exec(&self, exe: &Path, ch: &crate::sync::Channel) -> RuntimeError {
        use std::os::unix::ffi::OsStrExt;
        if let Err(e) = crate::sys::cloexec_from(3) {
            return e;
        }
        for fd in &self.preserved {
            crate::sys::clear_cloexec(*fd);
        }
        let c = |s: &str| CString::new(s).unwrap_or_default();
        let path = CString::new(exe.as_os_str().as_bytes()).unwrap_or_default();
        let mut args: Vec<CString> = self.args.iter().map(|a| c(a)).collect();
        let env: Vec<CString> = self.env.iter().map(|a| c(a)).collect();
        crate::sys::reset_signals();
        let e = match self.entry {
            crate::exeseal::Entry::Direct => crate::sys::execve(&path, &args, &env),
            crate::exeseal::Entry::Trampoline(fd) => {
                // The channel crosses the trampoline's own exec; it closes it before the
                // program's.
                crate::sys::clear_cloexec(ch.raw());
                args.splice(0..0, [c(&ch.raw().to_string()), path]);
                crate::sys::execveat_raw(fd, &args, &env)
            }
        };
        RuntimeError::Init(format!("exec {}: {e}", exe.display()))
    }
}

/// CVE-2024-21626: the cwd must be inside the container (not a leaked fd's directory).
fn check_cwd(cwd: &Path) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() && !p.to_string_lossy().starts_with("(unreachable)") => Ok(()),
        Err(e) if e != nix::errno::Errno::ENOENT => Ok(()),
        _ => Err(RuntimeError::Init(format!(
            "current working directory {} is outside of the container",
            cwd.display()
        ))),
    }
}

/// Load the filter; with SCMP_ACT_NOTIFY rules its notify fd goes to the runtime (which gives it
/// to the agent) and this process keeps no copy.
fn load_seccomp(f: &crate::seccomp::Filter, ch: &crate::sync::Channel) -> Result<()> {
    if let Some(fd) = crate::seccomp::install(f)? {
        ch.send_with_fd(&crate::sync::Msg::SeccompFd, &fd)?;
        drop(fd);
        ch.wait_ok()?;
    }
    Ok(())
}

fn home_of(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2] == uid.to_string()).then(|| f[5].to_string())
    })
}

fn rlimit_resource(r: &PosixRlimit) -> Result<libc::__rlimit_resource_t> {
    let name = serde_json::to_value(r.typ()).unwrap_or_default();
    Ok(match name.as_str().unwrap_or("") {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        other => {
            return Err(RuntimeError::InvalidConfig(format!(
                "unknown rlimit {other}"
            )))
        }
    })
}
