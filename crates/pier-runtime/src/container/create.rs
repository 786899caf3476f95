//! `create`: from a bundle to an init blocked on exec.fifo, with the state saved. On any error
//! everything created so far (processes, cgroup, state directory) is removed again.

use crate::cgroups;
use crate::error::{Context, Result, RuntimeError};
use crate::process::init::{self, InitContext};
use crate::process::launch::{self, Event, NamespacePlan};
use crate::spec::{self, LoadedSpec};
use crate::state::{check_id, ContainerState, EXEC_FIFO};
use crate::sys;
use nix::sched::CloneFlags;
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Options of `create` (runc's flags).
#[derive(Debug, Default)]
pub struct CreateOptions {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    /// Connected console socket (the binary connects `--console-socket`).
    pub console: Option<OwnedFd>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub systemd_cgroup: bool,
    /// Make the calling process the reaper of the init, so it can `wait` for it (foreground
    /// `run`, pier-shim).
    pub subreaper: bool,
    /// The init's stdin, stdout, stderr (default: the caller's own 0, 1, 2).
    pub stdio: Option<[OwnedFd; 3]>,
    /// The bundle's config, when the caller has already loaded it ([`spec::load_bundle`]).
    pub loaded: Option<LoadedSpec>,
}

/// Removes what a failed create left behind.
struct Cleanup {
    dir: Option<PathBuf>,
    cgroup: Option<crate::cgroups::CgroupPaths>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(cg) = self.cgroup.take() {
            let _ = cgroups::manager(&cg).destroy();
        }
        if let Some(d) = self.dir.take() {
            if let (Some(root), Some(id)) = (d.parent(), d.file_name()) {
                let _ = ContainerState::remove_dir(root, &id.to_string_lossy());
            }
        }
    }
}

fn namespace_plan(ls: &LoadedSpec) -> Result<NamespacePlan> {
    let linux = ls.spec.linux().as_ref().expect("validated");
    let list = linux.namespaces().clone().unwrap_or_default();
    let mut plan = NamespacePlan {
        join: Vec::new(),
        unshare: CloneFlags::empty(),
        new_user: false,
        new_cgroup: false,
        uid_mappings: linux.uid_mappings().clone().unwrap_or_default(),
        gid_mappings: linux.gid_mappings().clone().unwrap_or_default(),
        time_offsets: Vec::new(),
        initial_cpus: None,
    };
    for ns in crate::namespaces::join_order(&list) {
        match ns.path() {
            Some(p) => plan.join.push((ns.typ(), p.clone())),
            None => match ns.typ() {
                LinuxNamespaceType::User => plan.new_user = true,
                LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                t => plan.unshare |= crate::namespaces::flag(t),
            },
        }
    }
    if let Some(offsets) = linux.time_offsets() {
        if !plan
            .unshare
            .contains(crate::namespaces::flag(LinuxNamespaceType::Time))
            && !offsets.is_empty()
        {
            return Err(RuntimeError::InvalidConfig(
                "timeOffsets require a new time namespace".into(),
            ));
        }
        for (clock, o) in offsets {
            plan.time_offsets.push(format!(
                "{clock} {} {}",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            ));
        }
    }
    Ok(plan)
}

/// Create a container; returns its saved state (status `created`).
pub fn create(mut opts: CreateOptions) -> Result<ContainerState> {
    check_id(&opts.id)?;
    let ls = match opts.loaded.take() {
        Some(ls) => ls,
        None => spec::load_bundle(&opts.bundle)?,
    };
    let process = ls.spec.process().as_ref().expect("validated");
    if let Some(c) = process.capabilities() {
        let missing = crate::capabilities::unavailable(c);
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|c| c.to_string()).collect();
            tracing::warn!(
                "capabilities not in the runtime's bounding set are not granted: {}",
                names.join(", ")
            );
        }
    }
    if process.terminal() == Some(true) && opts.console.is_none() {
        return Err(RuntimeError::InvalidConfig(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        ));
    }
    if process.terminal() != Some(true) && opts.console.is_some() {
        return Err(RuntimeError::InvalidConfig(
            "cannot use console socket if runc will not detach or allocate tty".into(),
        ));
    }
    let linux = ls.spec.linux().as_ref().expect("validated");
    let mut plan = super::process_plan(
        process,
        linux,
        &opts.root,
        opts.preserve_fds,
        opts.console.as_ref(),
        opts.stdio.as_ref(),
    )?;
    plan.container_settings(linux)?;
    let ns_plan = namespace_plan(&ls)?;

    let root = opts.root.clone();
    std::fs::create_dir_all(&root).ctx(|| format!("create state root {}", root.display()))?;
    let dir = ContainerState::dir(&root, &opts.id);
    match ContainerState::create_dir(&root, &opts.id) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(RuntimeError::Exists(opts.id.clone()))
        }
        Err(e) => return Err(e).ctx(|| format!("create {}", dir.display())),
    }
    let mut cleanup = Cleanup {
        dir: Some(dir.clone()),
        cgroup: None,
    };
    let _ = std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o711));

    let cg_paths = cgroups::resolve(
        linux.cgroups_path().as_deref(),
        &opts.id,
        opts.systemd_cgroup,
    )?;
    let cg = cgroups::manager(&cg_paths);
    cg.create()?;
    cleanup.cgroup = Some(cg_paths.clone());
    let devices = linux.devices().clone().unwrap_or_default();
    if let Some(res) = linux.resources() {
        cg.apply(res, &devices)?;
    } else {
        cg.apply(&Default::default(), &devices)?;
    }

    let fifo_path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .ctx(|| format!("mkfifo {}", fifo_path.display()))?;
    // Writable by the container's root, which may be a mapped uid (user namespace).
    let _ = std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    );
    let host_root = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.as_deref()
            .unwrap_or_default()
            .iter()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
    };
    if let (Some(u), Some(g)) = (
        host_root(linux.uid_mappings()),
        host_root(linux.gid_mappings()),
    ) {
        let _ = nix::unistd::chown(
            &fifo_path,
            Some(nix::unistd::Uid::from_raw(u)),
            Some(nix::unistd::Gid::from_raw(g)),
        );
    }
    let fifo = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "open exec fifo".into())?;

    let annotations = ls.spec.annotations().clone().unwrap_or_default();
    let mut st = ContainerState {
        id: opts.id.clone(),
        bundle: ls.bundle.clone(),
        rootfs: ls.rootfs.clone(),
        pid: 0,
        pid_start: 0,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        owner: String::new(),
        cgroup: cg_paths.clone(),
        config: ls.spec.clone(),
        annotations,
        no_new_keyring: opts.no_new_keyring,
    };
    let hooks = ls.spec.hooks().clone().unwrap_or_default();
    #[allow(deprecated)]
    let prestart = hooks.prestart().clone().unwrap_or_default();
    let create_runtime = hooks.create_runtime().clone().unwrap_or_default();
    let has = |t| spec::has_namespace(&ls.spec, t);
    let mut ictx = InitContext {
        id: opts.id.clone(),
        spec: ls.spec.clone(),
        bundle: ls.bundle.clone(),
        rootfs: ls.rootfs.clone(),
        cgroup: cg_paths,
        new_mount_ns: ns_plan.unshare.contains(CloneFlags::CLONE_NEWNS),
        host_mount_ns: !has(LinuxNamespaceType::Mount),
        new_cgroup_ns: ns_plan.new_cgroup,
        new_user_ns: ns_plan.new_user
            || ns_plan
                .join
                .iter()
                .any(|(t, _)| *t == LinuxNamespaceType::User),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        runtime_hooks: !prestart.is_empty() || !create_runtime.is_empty(),
        console_socket: opts.console.take(),
        fifo,
        hook_state: st.hook_state(crate::state::Status::Creating),
    };
    if opts.subreaper {
        sys::set_child_subreaper()?;
    }
    let stdio = opts.stdio.take();
    let mut launched = launch::launch(&ns_plan, Some(cg.as_ref()), &mut |ch| {
        if let Some(fds) = &stdio {
            sys::dup_stdio(fds)?;
        }
        init::run(&mut ictx, &mut plan, ch)
    })?;
    drop(stdio);
    // The init's copy of the console socket lives on in the child only.
    drop(ictx.console_socket.take());
    let r = (|| -> Result<()> {
        loop {
            match launched.next_event()? {
                Event::Hooks => {
                    st.pid = launched.pid.unwrap_or(0);
                    let state = st.hook_state(crate::state::Status::Creating);
                    let r = crate::hooks::run(&prestart, &state)
                        .and_then(|_| crate::hooks::run(&create_runtime, &state));
                    launched.ack(&r)?;
                    r?;
                }
                Event::Ready => return Ok(()),
                Event::SeccompFd(fd) => {
                    st.pid = launched.pid.unwrap_or(0);
                    let r = send_seccomp_fd(&st, crate::state::Status::Creating, st.pid, &fd);
                    drop(fd);
                    launched.ack(&r)?;
                    r?;
                }
            }
        }
    })();
    if let Err(e) = r {
        launched.abort();
        return Err(e);
    }
    let pid = launched
        .pid
        .ok_or_else(|| RuntimeError::Init("init pid was never reported".into()))?;
    st.pid = pid;
    st.pid_start = sys::process_start_time(pid).unwrap_or(0);
    let saved = st.save(&root).and_then(|_| match &opts.pid_file {
        Some(p) => super::write_pid_file(p, pid),
        None => Ok(()),
    });
    if let Err(e) = saved {
        launched.abort();
        return Err(e);
    }
    cleanup.dir = None;
    cleanup.cgroup = None;
    Ok(st)
}

/// Hand a container process's seccomp notify fd to the agent at the config's `listenerPath`.
/// `pid` is the process the filter belongs to (the init, or an exec'd process).
pub(crate) fn send_seccomp_fd(
    st: &ContainerState,
    status: crate::state::Status,
    pid: i32,
    fd: &OwnedFd,
) -> Result<()> {
    let seccomp = st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().clone())
        .ok_or_else(|| RuntimeError::Init("seccomp notify fd without a seccomp section".into()))?;
    let listener = seccomp
        .listener_path()
        .clone()
        .ok_or_else(|| RuntimeError::Init("seccomp notify fd without a listenerPath".into()))?;
    let state = st.hook_state(status);
    crate::seccomp::send_to_agent(
        &listener,
        seccomp.listener_metadata().as_deref(),
        pid,
        &state,
        fd,
    )
}

/// The bundle path for `--bundle` defaulting (the current directory).
pub fn default_bundle() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_path_buf())
}
