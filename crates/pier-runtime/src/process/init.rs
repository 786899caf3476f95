//! The container's init, from the moment it is pid 1 of its namespaces until `execve`: session,
//! keyring, rootfs and mounts, hostname, hooks hand-off (prestart/createRuntime in the runtime,
//! createContainer here before pivot_root), pivot_root (chroot without a mount namespace), console, sysctls, read-only/masked paths,
//! the process plan; then `Ready`, the wait on exec.fifo, startContainer hooks and `execve`.

use super::ProcessPlan;
use crate::cgroups::CgroupPaths;
use crate::error::{Context, Result, RuntimeError};
use crate::mounts::{self, RootfsContext};
use crate::sync::{Channel, Msg};
use oci_spec::runtime::Spec;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// Inputs of the init body (prepared by `create` before forking).
pub struct InitContext {
    pub id: String,
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub cgroup: CgroupPaths,
    pub new_mount_ns: bool,
    /// No mount namespace in the spec at all: the rootfs is prepared in the caller's mount
    /// namespace and entered with chroot (runc's behaviour).
    pub host_mount_ns: bool,
    pub new_cgroup_ns: bool,
    pub new_user_ns: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Whether the runtime has prestart/createRuntime hooks to run (needs a round trip).
    pub runtime_hooks: bool,
    pub console_socket: Option<OwnedFd>,
    /// O_PATH fd of exec.fifo.
    pub fifo: OwnedFd,
    /// Hook state template (status and pid filled in here).
    pub hook_state: serde_json::Value,
}

/// Run the init body. Returns only with an error (on success it execs).
pub fn run(ctx: &mut InitContext, plan: &mut ProcessPlan, ch: &Channel) -> Result<()> {
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    if !ctx.no_new_keyring {
        crate::sys::join_session_keyring(&ctx.id)?;
    }
    let own_mounts = ctx.new_mount_ns || ctx.host_mount_ns;
    if own_mounts {
        mounts::prepare_rootfs(
            &ctx.spec,
            &RootfsContext {
                rootfs: &ctx.rootfs,
                root_fd: None,
                bundle: &ctx.bundle,
                cgroup: &ctx.cgroup,
                cgroupns: ctx.new_cgroup_ns,
                userns: ctx.new_user_ns,
            },
        )?;
    }
    if let Some(h) = ctx.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).ctx(|| format!("sethostname {h}"))?;
    }
    if let Some(d) = ctx.spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        crate::sys::set_domainname(d)?;
    }
    if ctx.runtime_hooks {
        ch.send(&Msg::Hooks)?;
        ch.wait_ok()?;
    }
    let hooks = ctx.spec.hooks().clone().unwrap_or_default();
    let mut state = ctx.hook_state.clone();
    state["status"] = "created".into();
    state["pid"] = nix::unistd::getpid().as_raw().into();
    if let Some(h) = hooks.create_container() {
        crate::hooks::run(h, &state)?;
    }
    if ctx.host_mount_ns {
        // pivot_root or MS_MOVE would replace the caller's root; chroot only changes ours.
        mounts::chroot_root(&ctx.rootfs)?;
    } else if ctx.no_pivot {
        mounts::move_root(&ctx.rootfs)?;
    } else {
        mounts::pivot_root(&ctx.rootfs)?;
    }
    if plan.terminal {
        let sock = ctx.console_socket.take().ok_or_else(|| {
            RuntimeError::InvalidConfig("terminal is true but no console socket was given".into())
        })?;
        let (master, slave) = crate::console::open_pty()?;
        if let Some((rows, cols)) = plan.console_size {
            crate::console::set_size(master.as_raw_fd(), rows, cols);
        }
        crate::sys::send_fd(sock.as_raw_fd(), b"/dev/ptmx", master.as_raw_fd())?;
        drop(master);
        drop(sock);
        mounts::mount_console(&crate::console::slave_path(&slave)?)?;
        crate::console::become_tty(&slave)?;
    }
    // The cwd is made before the root turns read-only (runc does the same).
    if !plan.cwd.exists() {
        let _ = std::fs::create_dir_all(&plan.cwd);
    }
    mounts::write_sysctls(&ctx.spec)?;
    if own_mounts {
        mounts::finalize(&ctx.spec)?;
        mounts::apply_root_propagation(&ctx.spec)?;
    }
    let exe = plan.apply(ch)?;
    crate::sys::exit_on_signals()?;
    ch.send(&Msg::Ready)?;
    // Block until `start` opens the fifo for reading.
    let fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", ctx.fifo.as_raw_fd()))
        .ctx(|| "open exec fifo".into())?;
    (&fifo).write_all(b"0").ctx(|| "write exec fifo".into())?;
    drop(fifo);
    if let Some(h) = hooks.start_container() {
        crate::hooks::run_with_env(h, &state, &plan.env)?;
    }
    Err(plan.exec(&exe, ch))
}
