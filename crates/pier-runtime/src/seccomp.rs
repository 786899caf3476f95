//! Seccomp: an OCI `linux.seccomp` section compiled with libseccomp (default action and errno,
//! architectures, per-syscall actions with argument conditions, filter flags). The filter is
//! built in the parent, so a bad profile fails before anything exists, and loaded in the child
//! (before dropping capabilities when `noNewPrivileges` is false, since loading then needs
//! CAP_SYS_ADMIN). Syscall names this libseccomp does not know are skipped, as runc does.
//! `SCMP_ACT_NOTIFY` needs `listenerPath`: the child sends the filter's notify fd to the runtime,
//! which passes it to the agent listening there with the container process state
//! ([`send_to_agent`], the OCI `ContainerProcessState` with `fds: ["seccompFd"]`).
//!
//! libseccomp takes ~4 ms to build docker's default profile and ~8 ms more to generate its BPF,
//! for every container, and the result is the same program each time. [`prepare`] therefore
//! compiles a section once, keeps the kernel program in a cache directory under the runtime's
//! state root (named by the SHA-256 of the section and the libseccomp version, the program
//! followed by its own SHA-256, written by rename), and the child installs it with `seccomp(2)`
//! directly. A section with notify rules goes through libseccomp, which returns the listener fd.

use crate::error::{Result, RuntimeError};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use sha2::{Digest, Sha256};
use std::path::Path;

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

/// A filter ready to install in the container's process.
pub enum Filter {
    /// The kernel program and the `seccomp(2)` flags it is installed with.
    Program {
        code: Vec<libc::sock_filter>,
        flags: libc::c_ulong,
    },
    /// A filter with `SCMP_ACT_NOTIFY` rules, installed by libseccomp (which returns the
    /// listener fd).
    Notify(ScmpFilterContext),
}

/// Every BPF instruction is 8 bytes: code (u16), jt, jf (u8), k (u32), native endian.
const INSN: usize = 8;
/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

/// The filter for `s`: from `cache` when it was compiled before, else compiled (and cached).
/// Compiling is also what validates the section, so a bad one fails here, in the parent.
pub fn prepare(s: &LinuxSeccomp, cache: Option<&Path>) -> Result<Filter> {
    if uses_notify(s) {
        return build(s).map(Filter::Notify);
    }
    let mut flags: libc::c_ulong = 0;
    for f in s.flags().as_deref().unwrap_or_default() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            // Only meaningful with a listener, which this filter has none of.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    let path = cache.map(|dir| dir.join(format!("{}.bpf", cache_key(s))));
    if let Some(code) = path.as_deref().and_then(read_cached) {
        return Ok(Filter::Program { code, flags });
    }
    let bytes = export(&build(s)?)?;
    let code = decode(&bytes).ok_or_else(|| err("libseccomp exported a malformed program"))?;
    if let Some(p) = &path {
        // A cache that cannot be written only costs the next container the compile.
        let _ = write_cached(p, &bytes);
    }
    Ok(Filter::Program { code, flags })
}

/// The cache of compiled filters under a runtime state root (not a container id: ids do not
/// start with a dot).
pub fn cache_dir(root: &Path) -> std::path::PathBuf {
    root.join(".seccomp")
}

fn cache_key(s: &LinuxSeccomp) -> String {
    let mut h = Sha256::new();
    h.update(b"pier-seccomp-v1\0");
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        h.update(format!("{}.{}.{}\0", v.major, v.minor, v.micro).as_bytes());
    }
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(serde_json::to_vec(s).unwrap_or_default());
    hex::encode(h.finalize())
}

/// The program libseccomp generates for `ctx`.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let fd = nix::sys::memfd::memfd_create(c"pier-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| err(format!("memfd: {e}")))?;
    ctx.export_bpf(&fd)
        .map_err(|e| err(format!("export filter: {e}")))?;
    let mut f = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    f.rewind()
        .and_then(|_| f.read_to_end(&mut bytes))
        .map_err(|e| err(format!("read exported filter: {e}")))?;
    Ok(bytes)
}

fn decode(bytes: &[u8]) -> Option<Vec<libc::sock_filter>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(INSN) || bytes.len() / INSN > MAX_INSNS {
        return None;
    }
    Some(
        bytes
            .chunks_exact(INSN)
            .map(|i| libc::sock_filter {
                code: u16::from_ne_bytes([i[0], i[1]]),
                jt: i[2],
                jf: i[3],
                k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
            })
            .collect(),
    )
}

/// A cache entry is the program followed by its SHA-256; anything else is ignored.
fn read_cached(p: &Path) -> Option<Vec<libc::sock_filter>> {
    let data = std::fs::read(p).ok()?;
    let (code, sum) = data.split_at(data.len().checked_sub(32)?);
    (Sha256::digest(code).as_slice() == sum).then(|| decode(code))?
}

fn write_cached(p: &Path, code: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    let dir = p.parent().expect("cache file in a dir");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}",
        std::process::id(),
        p.display().to_string().len()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(code)?;
    f.write_all(&Sha256::digest(code))?;
    drop(f);
    std::fs::rename(&tmp, p).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Install a prepared filter on the calling thread; with notify rules, returns the listener.
pub fn install(f: &Filter) -> Result<Option<std::os::fd::OwnedFd>> {
    match f {
        Filter::Program { code, flags } => {
            let prog = libc::sock_fprog {
                len: code.len() as u16,
                filter: code.as_ptr().cast_mut(),
            };
            // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) with a sock_fprog pointing at `code`,
            // which outlives the call; the kernel copies and verifies the program.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    *flags,
                    &prog as *const libc::sock_fprog,
                )
            };
            if r != 0 {
                return Err(err(format!(
                    "load filter: {}",
                    std::io::Error::last_os_error()
                )));
            }
            Ok(None)
        }
        Filter::Notify(ctx) => {
            load(ctx)?;
            Ok(notify_fd(ctx).ok())
        }
    }
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
pub(crate) mod tests {
    use super::*;

    /// docker's default profile for amd64, as OCI, when the reference copy is present.
    pub(crate) fn docker_default() -> Option<LinuxSeccomp> {
        let text = std::fs::read_to_string("/work/shared/reference/seccomp-default.json").ok()?;
        let oci = crate::seccomp_profile::docker_to_oci(&text, "amd64", &[]).unwrap();
        Some(serde_json::from_value(oci).unwrap())
    }

    #[test]
    fn builds_docker_default_profile() {
        let Some(s) = docker_default() else {
            eprintln!("skip: docker's seccomp profile not present");
            return;
        };
        build(&s).unwrap();
    }

    #[test]
    fn a_prepared_program_is_cached_and_a_damaged_entry_recompiled() {
        let Some(s) = docker_default() else {
            eprintln!("skip: docker's seccomp profile not present");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let program = |f: Filter| match f {
            Filter::Program { code, .. } => code
                .iter()
                .map(|i| (i.code, i.jt, i.jf, i.k))
                .collect::<Vec<_>>(),
            Filter::Notify(_) => panic!("no notify rules here"),
        };
        let uncached = program(prepare(&s, None).unwrap());
        let first = program(prepare(&s, Some(dir.path())).unwrap());
        assert_eq!(first, uncached);
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(entries.len(), 1, "one entry, no temp file left");
        let entry = entries[0].path();
        assert_eq!(
            std::fs::metadata(&entry).unwrap().len() as usize,
            first.len() * INSN + 32
        );
        assert_eq!(program(prepare(&s, Some(dir.path())).unwrap()), first);
        // A damaged entry (a flipped byte) fails its checksum and is compiled again.
        let mut bytes = std::fs::read(&entry).unwrap();
        bytes[9] ^= 0xff;
        std::fs::write(&entry, &bytes).unwrap();
        assert!(read_cached(&entry).is_none());
        assert_eq!(program(prepare(&s, Some(dir.path())).unwrap()), first);
        assert!(read_cached(&entry).is_some(), "rewritten");
        // Another section, another entry; a bad section still fails, cache or not.
        let other: LinuxSeccomp =
            serde_json::from_value(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}))
            .unwrap();
        prepare(&other, Some(dir.path())).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let bad: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}))
        .unwrap();
        assert!(prepare(&bad, Some(dir.path())).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn an_installed_program_denies_what_it_names() {
        let s: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = prepare(&s, Some(dir.path())).unwrap();
        // In a forked child (a filter cannot be removed): no_new_privs, install, call.
        // SAFETY: the child only makes raw syscalls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: plain prctl and syscalls in the child.
                let code = unsafe {
                    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                    if install(&f).is_err() {
                        2
                    } else {
                        let r = libc::syscall(libc::SYS_getppid);
                        let e = *libc::__errno_location();
                        let pid = libc::syscall(libc::SYS_getpid);
                        if r == -1 && e == 42 && pid > 0 {
                            0
                        } else {
                            1
                        }
                    }
                };
                unsafe { libc::_exit(code) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
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
