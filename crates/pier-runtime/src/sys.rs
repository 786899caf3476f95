//! Small safe wrappers around the raw system calls the runtime makes that `nix` does not cover
//! (or covers with an API that does not fit): fork, `openat2(RESOLVE_IN_ROOT)`, `close_range`,
//! prctl bits, session keyrings, fd passing, and `/proc/<pid>/stat` parsing. Every `unsafe` block
//! of the crate outside the child-process code lives here.

use crate::error::{Context, Result, RuntimeError};
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Result of [`fork`].
pub enum Fork {
    Parent(i32),
    Child,
}

/// `fork(2)` through glibc (its atfork handlers keep malloc usable in the child).
pub fn fork() -> Result<Fork> {
    // SAFETY: the children created by the runtime run only the runtime's own code, which makes
    // syscalls and leaves with `_exit`; glibc's fork resets its allocator locks in the child.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(RuntimeError::Sys {
            op: "fork".into(),
            source: Errno::last(),
        }),
        0 => Ok(Fork::Child),
        p => Ok(Fork::Parent(p)),
    }
}

/// Leave the process now, without running destructors or atexit handlers (used by children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

fn prctl(op: libc::c_int, arg: libc::c_ulong) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe {
        libc::prctl(
            op,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r < 0 {
        return Err(RuntimeError::Sys {
            op: format!("prctl({op})"),
            source: Errno::last(),
        });
    }
    Ok(())
}

/// Make this process the reaper of its orphaned descendants.
pub fn set_child_subreaper() -> Result<()> {
    prctl(libc::PR_SET_CHILD_SUBREAPER, 1)
}

/// Clear or set the dumpable bit (a non-dumpable process's `/proc/<pid>` is root-owned and
/// cannot be ptraced without CAP_SYS_PTRACE).
pub fn set_dumpable(on: bool) -> Result<()> {
    prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong)
}

pub fn set_keep_caps(on: bool) -> Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong)
}

pub fn set_no_new_privs() -> Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
}

/// Ask for SIGKILL when the parent dies.
pub fn set_parent_death_signal(sig: i32) -> Result<()> {
    prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong)
}

/// Join a new session keyring named `name` (runc does this so containers do not share the host's
/// keyring); kernels or seccomp profiles that refuse it are ignored.
pub fn join_session_keyring(name: &str) -> Result<()> {
    let c = CString::new(name).map_err(|_| RuntimeError::Other("nul in keyring name".into()))?;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a NUL-terminated string we own.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) };
    if r < 0 {
        let e = Errno::last();
        if e != Errno::ENOSYS && e != Errno::EACCES && e != Errno::EPERM {
            return Err(RuntimeError::Sys {
                op: "join session keyring".into(),
                source: e,
            });
        }
    }
    Ok(())
}

/// `setdomainname(2)`.
pub fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: pointer and length describe a live byte slice.
    let r = unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) };
    Errno::result(r).map(drop).ctx(|| "setdomainname".into())
}

/// Mark every fd >= `from` close-on-exec (CVE-2024-21626: nothing of the runtime leaks into the
/// container).
pub fn cloexec_from(from: u32) -> Result<()> {
    // SAFETY: close_range only changes fd flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        // Old kernel: walk /proc/self/fd.
        for entry in std::fs::read_dir("/proc/self/fd").ctx(|| "read /proc/self/fd".into())? {
            let Ok(entry) = entry else { continue };
            if let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() {
                if fd >= from as i32 {
                    // SAFETY: setting FD_CLOEXEC on an fd number is harmless even if it closed.
                    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
                }
            }
        }
    }
    Ok(())
}

/// Clear close-on-exec on one fd (preserved fds).
pub fn clear_cloexec(fd: RawFd) {
    // SAFETY: flag change on an fd number.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
}

/// Open `path` (relative to the directory `root`) with every component resolved inside `root`
/// (`openat2` with `RESOLVE_IN_ROOT`), as an `O_PATH` fd. Symlinks that point outside are clamped
/// to the root, as a chroot would.
pub fn open_in_root(root: &Path, path: &Path) -> Result<OwnedFd> {
    let rootfd = nix::fcntl::open(
        root,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open {}", root.display()))?;
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let c = CString::new(rel.as_os_str().as_bytes())
        .map_err(|_| RuntimeError::Other("nul in path".into()))?;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads `how` (sized correctly) and the NUL-terminated path; the returned fd
    // is owned by us.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            rootfd.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(RuntimeError::Sys {
            op: format!("open {} in {}", path.display(), root.display()),
            source: Errno::last(),
        });
    }
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Send one fd with a payload over a unix socket (SCM_RIGHTS).
pub fn send_fd(sock: RawFd, payload: &[u8], fd: RawFd) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(payload)];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .map(drop)
        .ctx(|| "send fd over console socket".into())
}

/// Receive one fd sent with [`send_fd`]; returns it with the payload.
pub fn recv_fd(sock: RawFd) -> Result<(OwnedFd, Vec<u8>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 4096];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx(|| "receive fd".into())?;
    let n = msg.bytes;
    let mut out = None;
    for c in msg.cmsgs().ctx(|| "receive fd".into())? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel installed this fd for us.
                out = Some(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    buf.truncate(n);
    out.map(|fd| (fd, buf))
        .ok_or_else(|| RuntimeError::Other("no fd received".into()))
}

/// Start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`), used to
/// tell our init from a later process that reused its pid. `None` if the process is gone or a
/// zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Replace the process image. Only returns on failure.
pub fn execve(path: &CString, args: &[CString], env: &[CString]) -> Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of pointers to live CStrings.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// `umask(2)`; returns the previous mask.
pub fn umask(mask: u32) -> u32 {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask)).bits()
}

static FORWARD_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_handler(sig: libc::c_int) {
    let pid = FORWARD_PID.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Forward the usual termination/user signals received by this process to `pid` (foreground
/// `run`/`exec`, as runc does).
pub fn forward_signals(pid: i32) -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    FORWARD_PID.store(pid, std::sync::atomic::Ordering::Relaxed);
    let act = SigAction::new(
        SigHandler::Handler(forward_handler),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        // SAFETY: the handler only reads an atomic and calls kill.
        unsafe { sigaction(sig, &act) }.ctx(|| format!("sigaction {sig}"))?;
    }
    Ok(())
}

/// Make `fds` the calling process's stdin, stdout and stderr.
pub fn dup_stdio(fds: &[OwnedFd; 3]) -> Result<()> {
    for (target, fd) in fds.iter().enumerate() {
        // SAFETY: dup2 onto the stdio numbers from fds we own.
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            return Err(RuntimeError::Sys {
                op: "dup2 stdio".into(),
                source: Errno::last(),
            });
        }
    }
    Ok(())
}

extern "C" fn exit_handler(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) };
}

/// Make the usual termination signals end the process. A pid namespace's init only receives
/// signals it handles, so a created container (init still in the runtime's code, waiting on
/// exec.fifo) would otherwise ignore `kill <id> TERM`. `execve` resets these handlers.
pub fn exit_on_signals() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(
        SigHandler::Handler(exit_handler),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        // SAFETY: the handler only calls _exit.
        unsafe { sigaction(sig, &act) }.ctx(|| format!("sigaction {sig}"))?;
    }
    Ok(())
}

/// Give every signal its default action and unblock them all. Ignored signals and the blocked
/// mask survive `execve` (Rust ignores SIGPIPE, a caller may block signals for a signalfd); a
/// container process must start as from a fresh shell.
pub fn reset_signals() {
    // The kernel's struct sigaction: handler, flags, restorer, mask. All zero = SIG_DFL.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // Raw syscalls: glibc's wrappers refuse its reserved signals (32, 33), which a caller may
    // have left ignored too. SIGKILL/SIGSTOP fail with EINVAL, which is fine.
    for sig in 1..=libc::SIGRTMAX() {
        // SAFETY: rt_sigaction reads a struct we own, sized as the kernel expects.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
    let none: u64 = 0;
    // SAFETY: rt_sigprocmask reads an 8-byte mask we own.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &none as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    };
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE)`: set/clear MOUNT_ATTR_* bits on a
/// mount and every mount below it (recursive mount options such as "rro").
pub fn mount_setattr_recursive(fd: &OwnedFd, set: u64, clr: u64) -> Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    // SAFETY: the kernel reads `attr` (size given) and the empty NUL-terminated path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(RuntimeError::Sys {
            op: "mount_setattr".into(),
            source: Errno::last(),
        });
    }
    Ok(())
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE)`: a detached bind mount of `path` (a file or
/// directory), owned by the caller; it lives as long as the fd or anything opened through it.
pub fn open_tree_clone(path: &Path) -> Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| RuntimeError::Other("nul in path".into()))?;
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: open_tree reads the NUL-terminated path; the returned fd is owned by us.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(RuntimeError::Sys {
            op: format!("open_tree {}", path.display()),
            source: Errno::last(),
        });
    }
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)`.
pub fn memfd_sealable(name: &str) -> Result<OwnedFd> {
    let c = CString::new(name).map_err(|_| RuntimeError::Other("nul in memfd name".into()))?;
    // SAFETY: memfd_create reads the NUL-terminated name; the returned fd is owned by us.
    let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(RuntimeError::Sys {
            op: "memfd_create".into(),
            source: Errno::last(),
        });
    }
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC)`: a sealable memfd that may
/// be executed whatever `vm.memfd_noexec` says (kernels before 6.3 know no `MFD_EXEC`: their
/// memfds are executable anyway).
pub fn memfd_exec(name: &str) -> Result<OwnedFd> {
    const MFD_EXEC: libc::c_uint = 0x10;
    let c = CString::new(name).map_err(|_| RuntimeError::Other("nul in memfd name".into()))?;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create reads the NUL-terminated name; the returned fd is owned by us.
    let mut fd = unsafe { libc::memfd_create(c.as_ptr(), base | MFD_EXEC) };
    if fd < 0 && Errno::last() == Errno::EINVAL {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(c.as_ptr(), base) };
    }
    if fd < 0 {
        return Err(RuntimeError::Sys {
            op: "memfd_create".into(),
            source: Errno::last(),
        });
    }
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Add `F_SEAL_*` bits to a memfd.
pub fn add_seals(fd: &OwnedFd, seals: libc::c_int) -> Result<()> {
    // SAFETY: fcntl with integer arguments on an fd we own.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) };
    Errno::result(r).map(drop).ctx(|| "add memfd seals".into())
}

/// The `F_SEAL_*` bits of an fd (0 for files that cannot be sealed).
pub fn seals(fd: &impl AsRawFd) -> libc::c_int {
    // SAFETY: fcntl with integer arguments.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    r.max(0)
}

/// Whether the mount (or filesystem) holding the file of `fd` is read-only.
pub fn on_read_only_mount(fd: &impl AsRawFd) -> bool {
    // SAFETY: fstatvfs fills a struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out pointer.
    let r = unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) };
    r == 0 && st.f_flag & libc::ST_RDONLY != 0
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`: run the file `fd` refers to. Only returns on
/// failure.
pub fn execveat_fd(fd: &impl AsRawFd, args: &[CString], env: &[CString]) -> Errno {
    execveat_raw(fd.as_raw_fd(), args, env)
}

/// [`execveat_fd`] of an fd number.
pub fn execveat_raw(fd: RawFd, args: &[CString], env: &[CString]) -> Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of pointers to live CStrings and an empty path.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::last()
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::result::Result<libc::c_long, Errno> {
    // SAFETY: `attr` is a live, correctly laid out `union bpf_attr` member of the size given.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// Load a `BPF_PROG_TYPE_CGROUP_DEVICE` program; returns its fd.
pub fn bpf_prog_load_cgroup_device(insns: &[u64]) -> std::result::Result<OwnedFd, Errno> {
    #[repr(C)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        prog_name: [u8; 16],
        prog_ifindex: u32,
        expected_attach_type: u32,
    }
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    let mut name = [0u8; 16];
    name[..11].copy_from_slice(b"pier_device");
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: c"Apache".as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: 0,
    };
    let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `BPF_PROG_ATTACH` of `prog` to the cgroup `cgroup`.
pub fn bpf_prog_attach(
    cgroup: RawFd,
    prog: RawFd,
    attach_type: u32,
    flags: u32,
) -> std::result::Result<(), Errno> {
    let mut attr = ProgAttach {
        target_fd: cgroup as u32,
        attach_bpf_fd: prog as u32,
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    bpf(8, &mut attr).map(drop)
}

/// `BPF_PROG_DETACH` of `prog` from the cgroup `cgroup`.
pub fn bpf_prog_detach(
    cgroup: RawFd,
    prog: RawFd,
    attach_type: u32,
) -> std::result::Result<(), Errno> {
    let mut attr = ProgAttach {
        target_fd: cgroup as u32,
        attach_bpf_fd: prog as u32,
        attach_type,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    bpf(9, &mut attr).map(drop)
}

/// `BPF_PROG_QUERY`: ids of the programs attached to `cgroup` and the attach flags.
pub fn bpf_prog_query(
    cgroup: RawFd,
    attach_type: u32,
) -> std::result::Result<(Vec<u32>, u32), Errno> {
    #[repr(C)]
    struct Query {
        target_fd: u32,
        attach_type: u32,
        query_flags: u32,
        attach_flags: u32,
        prog_ids: u64,
        prog_cnt: u32,
        _pad: u32,
    }
    let mut ids = vec![0u32; 64];
    let mut attr = Query {
        target_fd: cgroup as u32,
        attach_type,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        _pad: 0,
    };
    bpf(16, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok((ids, attr.attach_flags))
}

/// `BPF_PROG_GET_FD_BY_ID`.
pub fn bpf_prog_get_fd_by_id(id: u32) -> std::result::Result<OwnedFd, Errno> {
    #[repr(C)]
    struct ById {
        prog_id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut attr = ById {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    let fd = bpf(13, &mut attr)?;
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self() {
        assert!(process_start_time(std::process::id() as i32).is_some());
        assert!(process_start_time(i32::MAX).is_none());
    }

    #[test]
    fn open_in_root_clamps_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        std::fs::write(dir.path().join("etc/marker"), "x").unwrap();
        // "/link/marker" resolves to <root>/etc/marker, never the host's /etc.
        let fd = open_in_root(dir.path(), Path::new("/link/marker")).unwrap();
        let p = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert_eq!(p, dir.path().join("etc/marker"));
        assert!(open_in_root(dir.path(), Path::new("/link/passwd")).is_err());
    }
}
