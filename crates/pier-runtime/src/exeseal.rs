//! CVE-2019-5736: a container must never get a writable handle on the host's runtime binary.
//!
//! The runtime forks the container's processes from its own image, so until their `execve` their
//! `/proc/<pid>/exe` is the runtime's binary, and a container entrypoint such as a script with
//! `#!/proc/self/exe` (or an ELF whose interpreter is `/proc/self/exe`) makes the kernel run that
//! very binary *inside* the container, dumpable and with the container's credentials. A process
//! of the container can then open `/proc/<pid>/exe` and, once it no longer runs (no ETXTBSY),
//! reopen it for writing through `/proc/self/fd/N` and replace the host's runtime.
//!
//! Defence: every binary that creates or execs containers runs from a **read-only** view of its
//! executable ([`ensure_protected`], called first thing in `main`): it re-executes itself once
//! from a detached bind mount of its own file (`open_tree(OPEN_TREE_CLONE)` +
//! `mount_setattr(MOUNT_ATTR_RDONLY)`, then `execveat`). That mount belongs to no mount namespace,
//! so nobody can remount it writable, and every reopen through it fails with EROFS; page cache is
//! shared with the file (no copy). Where the kernel or privileges refuse the mount (rootless), the
//! binary is copied into a `memfd` sealed against writes, growth, shrinking and further sealing
//! (runc ≤ 1.1's way: one copy of the binary per process, ~2 ms). A binary already on a read-only
//! mount or a sealed memfd is not re-executed. The forked helper/init/exec child are also
//! non-dumpable until `execve` (see [`crate::process::launch`]).
//!
//! The re-execution costs a whole second start of the runtime (~1 ms of a `run`). Where the
//! container's seccomp profile lets it, an unprotected runtime instead enters the container's
//! program through a **trampoline** ([`Entry::Trampoline`]): a 253-byte static program, written
//! into a sealed memfd, that the container's process executes in place of the program; the
//! trampoline marks the setup channel close-on-exec and executes the real program. The
//! runtime's binary is then never the image of a process the container can reach: until
//! `execve` the process is non-dumpable (no `/proc/<pid>/exe` for the container), and a
//! `#!/proc/self/exe` entrypoint resolves to the sealed trampoline, which refuses such a call
//! (runc 1.2's `runc-dmz` did the same). It needs `execveat`, `fcntl`, `sendmsg` and
//! `exit_group` allowed without conditions (docker's default profile allows them);
//! [`entry_for`] falls back to the read-only image otherwise.

use crate::error::{Context, Result, RuntimeError};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Set for the re-executed image, so a failed protection cannot loop.
const REEXEC_MARK: &str = "_PIER_EXESEAL";

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// How the running executable is protected against being written through `/proc/<pid>/exe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// It sits on a read-only mount (ours, or one the administrator made).
    ReadOnlyMount,
    /// It is a memfd sealed against writes.
    SealedMemfd,
    /// Writable: a container could overwrite it.
    None,
}

/// The protection of the executable of process `pid` (`"self"` for this one).
pub fn protection_of(pid: &str) -> Protection {
    let exe = format!("/proc/{pid}/exe");
    let Ok(fd) = nix::fcntl::open(
        exe.as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) else {
        return Protection::None;
    };
    if crate::sys::on_read_only_mount(&fd) {
        return Protection::ReadOnlyMount;
    }
    // Seals are read on a real (not O_PATH) open of the same file.
    match std::fs::File::open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    )) {
        Ok(f) if crate::sys::seals(&f) & SEALS == SEALS => Protection::SealedMemfd,
        _ => Protection::None,
    }
}

/// The protection of the running executable.
pub fn protection() -> Protection {
    protection_of("self")
}

/// Make sure the running program executes from a read-only view of its binary, re-executing it
/// (same argv and environment) if needed. Returns `Ok(())` when it already does; otherwise does
/// not return on success. Call it first thing in `main`, before any thread starts.
pub fn ensure_protected() -> Result<()> {
    let reexecuted = std::env::var_os(REEXEC_MARK).is_some();
    if reexecuted {
        std::env::remove_var(REEXEC_MARK);
    }
    if protection() != Protection::None {
        return Ok(());
    }
    if reexecuted {
        return Err(RuntimeError::Other(
            "re-executed from a protected copy, but /proc/self/exe is still writable".into(),
        ));
    }
    let image = match read_only_clone() {
        Ok(fd) => fd,
        Err(_) => sealed_copy()?,
    };
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    env.push(CString::new(format!("{REEXEC_MARK}=1")).expect("no nul"));
    let e = crate::sys::execveat_fd(&image, &args, &env);
    Err(RuntimeError::Sys {
        op: "re-execute from a protected copy of the runtime".into(),
        source: e,
    })
}

/// A detached, read-only bind mount of our own executable (needs CAP_SYS_ADMIN).
pub fn read_only_clone() -> Result<OwnedFd> {
    read_only_view(Path::new("/proc/self/exe"))
}

/// A detached, read-only bind mount of the executable at `path` (needs CAP_SYS_ADMIN). A
/// process executed through it (`/proc/self/fd/N`) is protected from the start, so its
/// [`ensure_protected`] does not re-execute: a daemon that spawns a protected binary for every
/// container (pierd, the shim) keeps one and saves that second exec.
pub fn read_only_view(path: &Path) -> Result<OwnedFd> {
    let fd = crate::sys::open_tree_clone(path)?;
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const MOUNT_ATTR_NOSUID: u64 = 0x2;
    const MOUNT_ATTR_NODEV: u64 = 0x4;
    crate::sys::mount_setattr_recursive(
        &fd,
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        0,
    )?;
    Ok(fd)
}

/// How the container's process leaves the runtime's image for the container's program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// `execve` of the program: the runtime already runs from a protected image.
    Direct,
    /// Through the trampoline whose sealed memfd is this fd (see [`trampoline`]).
    Trampoline(std::os::fd::RawFd),
}

/// How a process to be started with `seccomp` enters the container: [`Entry::Direct`] when the
/// runtime's image is protected, else the trampoline where the profile allows it; an error
/// otherwise (the binary must re-execute protected first: [`ensure_protected`]).
pub fn entry_for(seccomp: Option<&oci_spec::runtime::LinuxSeccomp>) -> Result<Entry> {
    if protection() != Protection::None {
        return Ok(Entry::Direct);
    }
    if !trampoline_allowed(seccomp) {
        return Err(RuntimeError::Other(
            "the runtime runs from a writable binary and the seccomp profile does not allow \
             execveat, fcntl, sendmsg and exit_group for its exec trampoline; run it from a \
             read-only image (CVE-2019-5736)"
                .into(),
        ));
    }
    Ok(Entry::Trampoline(trampoline()?))
}

/// The syscalls the trampoline makes, in the container's seccomp filter.
const TRAMPOLINE_SYSCALLS: [&str; 4] = ["execveat", "fcntl", "sendmsg", "exit_group"];

/// Whether `seccomp` lets the trampoline run: each of its syscalls allowed (or only logged)
/// by every rule naming it, with no argument conditions, or by the default action.
pub fn trampoline_allowed(seccomp: Option<&oci_spec::runtime::LinuxSeccomp>) -> bool {
    use oci_spec::runtime::LinuxSeccompAction as A;
    let Some(s) = seccomp else { return true };
    let allows = |a: A| matches!(a, A::ScmpActAllow | A::ScmpActLog);
    let rules = s.syscalls().as_deref().unwrap_or_default();
    TRAMPOLINE_SYSCALLS.iter().all(|name| {
        let naming: Vec<_> = rules
            .iter()
            .filter(|r| r.names().iter().any(|n| n == name))
            .collect();
        if naming.is_empty() {
            return allows(s.default_action());
        }
        naming
            .iter()
            .all(|r| allows(r.action()) && r.args().as_deref().unwrap_or_default().is_empty())
    })
}

/// This process's trampoline: a sealed, close-on-exec memfd made once and kept (forks inherit
/// it; an `execve` closes it).
pub fn trampoline() -> Result<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    static FD: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();
    if let Some(fd) = FD.get() {
        return Ok(fd.as_raw_fd());
    }
    let fd = trampoline::memfd()?;
    Ok(FD.get_or_init(|| fd).as_raw_fd())
}

/// The exec trampoline: a position-independent x86-64 ELF of one loadable segment, no
/// interpreter, no libc. `argv` = [report fd in decimal, program, program's argv...]:
///
/// ```text
///     mov   rcx, [rsp]              ; argc, at least 3, else exit 127
///     cmp   rcx, 3
///     jb    bad
///     mov   rbx, [rsp+8]            ; argv[0]: the report fd, decimal digits only
///     xor   edi, edi
///     movzx eax, byte ptr [rbx]
///     test  eax, eax
///     jz    bad
/// digit:
///     movzx eax, byte ptr [rbx]
///     test  eax, eax
///     jz    parsed
///     sub   eax, 48
///     cmp   eax, 9
///     ja    bad
///     imul  edi, edi, 10
///     add   edi, eax
///     inc   rbx
///     jmp   digit
/// parsed:
///     mov   r12d, edi               ; fcntl(fd, F_SETFD, FD_CLOEXEC), else exit 127
///     mov   esi, 2
///     mov   edx, 1
///     mov   eax, 72
///     syscall
///     test  rax, rax
///     jnz   bad
///     mov   rdi, [rsp+16]           ; execve(argv[1], &argv[2], envp)
///     lea   rsi, [rsp+24]
///     mov   rcx, [rsp]
///     lea   rdx, [rsp+rcx*8+16]
///     mov   eax, 59
///     syscall
///     neg   eax                     ; failed: errno
///     mov   rsi, [rsp+16]           ; strlen(argv[1])
///     xor   ecx, ecx
/// len:
///     cmp   byte ptr [rsi+rcx], 0
///     je    report
///     inc   rcx
///     jmp   len
/// report:                           ; sendmsg(fd, {[errno u32 LE][program]}, MSG_NOSIGNAL)
///     sub   rsp, 96
///     mov   [rsp+88], eax
///     lea   rax, [rsp+88]
///     mov   [rsp], rax              ; iov[0] = {&errno, 4}
///     mov   qword ptr [rsp+8], 4
///     mov   [rsp+16], rsi           ; iov[1] = {program, strlen}
///     mov   [rsp+24], rcx
///     xor   eax, eax
///     mov   [rsp+32], rax           ; msghdr at rsp+32: no name,
///     mov   [rsp+40], rax
///     mov   [rsp+48], rsp           ; the two iovecs,
///     mov   qword ptr [rsp+56], 2
///     mov   [rsp+64], rax           ; no control, no flags
///     mov   [rsp+72], rax
///     mov   [rsp+80], rax
///     mov   edi, r12d
///     lea   rsi, [rsp+32]
///     mov   edx, 0x4000             ; MSG_NOSIGNAL
///     mov   eax, 46
///     syscall
///     mov   edi, 1                  ; exit_group(1)
///     jmp   out
/// bad:
///     mov   edi, 127
/// out:
///     mov   eax, 231
///     syscall
///     hlt
/// ```
///
/// A `#!/proc/self/exe` script run by the program makes the kernel run the trampoline with
/// argv[0] = "/proc/self/exe": not digits, so it exits 127 instead of looping.
mod trampoline {
    use super::SEALS;
    use crate::error::{Context, Result, RuntimeError};
    use std::os::fd::OwnedFd;

    const CODE: [u8; 253] = [
        0x48, 0x8b, 0x0c, 0x24, 0x48, 0x83, 0xf9, 0x03, 0x0f, 0x82, 0xe2, 0x00, 0x00, 0x00, 0x48,
        0x8b, 0x5c, 0x24, 0x08, 0x31, 0xff, 0x0f, 0xb6, 0x03, 0x85, 0xc0, 0x0f, 0x84, 0xd0, 0x00,
        0x00, 0x00, 0x0f, 0xb6, 0x03, 0x85, 0xc0, 0x74, 0x16, 0x83, 0xe8, 0x30, 0x83, 0xf8, 0x09,
        0x0f, 0x87, 0xbd, 0x00, 0x00, 0x00, 0x6b, 0xff, 0x0a, 0x01, 0xc7, 0x48, 0xff, 0xc3, 0xeb,
        0xe3, 0x41, 0x89, 0xfc, 0xbe, 0x02, 0x00, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00, 0x00, 0xb8,
        0x48, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x85, 0xc0, 0x0f, 0x85, 0x96, 0x00, 0x00, 0x00,
        0x48, 0x8b, 0x7c, 0x24, 0x10, 0x48, 0x8d, 0x74, 0x24, 0x18, 0x48, 0x8b, 0x0c, 0x24, 0x48,
        0x8d, 0x54, 0xcc, 0x10, 0xb8, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xf7, 0xd8, 0x48, 0x8b,
        0x74, 0x24, 0x10, 0x31, 0xc9, 0x80, 0x3c, 0x0e, 0x00, 0x74, 0x05, 0x48, 0xff, 0xc1, 0xeb,
        0xf5, 0x48, 0x83, 0xec, 0x60, 0x89, 0x44, 0x24, 0x58, 0x48, 0x8d, 0x44, 0x24, 0x58, 0x48,
        0x89, 0x04, 0x24, 0x48, 0xc7, 0x44, 0x24, 0x08, 0x04, 0x00, 0x00, 0x00, 0x48, 0x89, 0x74,
        0x24, 0x10, 0x48, 0x89, 0x4c, 0x24, 0x18, 0x31, 0xc0, 0x48, 0x89, 0x44, 0x24, 0x20, 0x48,
        0x89, 0x44, 0x24, 0x28, 0x48, 0x89, 0x64, 0x24, 0x30, 0x48, 0xc7, 0x44, 0x24, 0x38, 0x02,
        0x00, 0x00, 0x00, 0x48, 0x89, 0x44, 0x24, 0x40, 0x48, 0x89, 0x44, 0x24, 0x48, 0x48, 0x89,
        0x44, 0x24, 0x50, 0x44, 0x89, 0xe7, 0x48, 0x8d, 0x74, 0x24, 0x20, 0xba, 0x00, 0x40, 0x00,
        0x00, 0xb8, 0x2e, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x01, 0x00, 0x00, 0x00, 0xeb, 0x05,
        0xbf, 0x7f, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xf4,
    ];

    /// ELF header + PT_LOAD (the whole file, R+X) + PT_GNU_STACK (RW), then the code.
    pub(super) fn image() -> Vec<u8> {
        const EHDR: u64 = 64;
        const PHDR: u64 = 56;
        let entry = EHDR + 2 * PHDR;
        let size = entry + CODE.len() as u64;
        let mut b = Vec::with_capacity(size as usize);
        b.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN: loaded at a random base
        b.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&entry.to_le_bytes());
        b.extend_from_slice(&EHDR.to_le_bytes()); // e_phoff
        b.extend_from_slice(&0u64.to_le_bytes()); // no sections
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(EHDR as u16).to_le_bytes());
        b.extend_from_slice(&(PHDR as u16).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&[0; 6]);
        let phdr = |b: &mut Vec<u8>, typ: u32, flags: u32, len: u64, align: u64| {
            b.extend_from_slice(&typ.to_le_bytes());
            b.extend_from_slice(&flags.to_le_bytes());
            for v in [0, 0, 0, len, len, align] {
                b.extend_from_slice(&u64::to_le_bytes(v));
            }
        };
        phdr(&mut b, 1, 5, size, 0x1000);
        phdr(&mut b, 0x6474_e551, 6, 0, 16);
        b.extend_from_slice(&CODE);
        b
    }

    /// The image in a memfd sealed against any change (executable even where
    /// `vm.memfd_noexec` makes memfds non-executable by default).
    pub(super) fn memfd() -> Result<OwnedFd> {
        if !cfg!(target_arch = "x86_64") {
            return Err(RuntimeError::Other(
                "the exec trampoline exists for x86-64 only".into(),
            ));
        }
        let fd = crate::sys::memfd_exec("pier-trampoline")?;
        let mut f = std::fs::File::from(fd.try_clone().ctx(|| "dup memfd".into())?);
        std::io::Write::write_all(&mut f, &image()).ctx(|| "write the trampoline".into())?;
        crate::sys::add_seals(&fd, SEALS)?;
        Ok(fd)
    }
}

/// A copy of our own executable in a memfd sealed against any change.
pub fn sealed_copy() -> Result<OwnedFd> {
    let mem = crate::sys::memfd_sealable("pier-runtime")?;
    let mut src = std::fs::File::open("/proc/self/exe").ctx(|| "open /proc/self/exe".into())?;
    let mut dst = std::fs::File::from(mem.try_clone().ctx(|| "dup memfd".into())?);
    std::io::copy(&mut src, &mut dst).ctx(|| "copy the runtime into a memfd".into())?;
    drop(dst);
    crate::sys::add_seals(&mem, SEALS)?;
    Ok(mem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn sealed_copy_cannot_be_written() {
        let fd = sealed_copy().unwrap();
        assert_eq!(crate::sys::seals(&fd) & SEALS, SEALS);
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            std::fs::metadata("/proc/self/exe").unwrap().len()
        );
        // Reopening for writing may succeed, writing must not.
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) {
            assert!(f.write_all(b"x").is_err());
        }
        assert!(std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .is_err());
    }

    /// Run `argv` (program, its argv...) through the trampoline in a forked child whose end of
    /// a setup channel is the report fd; returns the exit code and what the channel carried.
    fn through_trampoline(argv: &[&str]) -> (i32, Option<crate::sync::Msg>) {
        let (parent, child) = crate::sync::pair().unwrap();
        let tramp = trampoline().unwrap();
        let mut args = vec![CString::new(child.raw().to_string()).unwrap()];
        args.extend(argv.iter().map(|a| CString::new(*a).unwrap()));
        let env = [CString::new("PATH=/usr/bin:/bin").unwrap()];
        // SAFETY: the child only clears a flag and execs (everything was allocated before).
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                crate::sys::clear_cloexec(child.raw());
                crate::sys::execveat_raw(tramp, &args, &env);
                crate::sys::exit_now(99)
            }
            nix::unistd::ForkResult::Parent { child: pid } => {
                drop(child);
                let msg = parent.recv().unwrap();
                match nix::sys::wait::waitpid(pid, None).unwrap() {
                    nix::sys::wait::WaitStatus::Exited(_, code) => (code, msg),
                    other => panic!("trampoline child: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn trampoline_runs_the_program_without_the_channel() {
        let script = "for f in /proc/self/fd/*; do readlink $f; done | grep -q socket: || exit 7";
        let (code, msg) = through_trampoline(&["/bin/sh", "sh", "-c", script]);
        assert_eq!((code, msg), (7, None));
    }

    #[test]
    fn trampoline_reports_a_failed_exec_as_the_runtime_does() {
        let (code, msg) = through_trampoline(&["/nonexistent/prog", "prog"]);
        assert_eq!(code, 1);
        assert_eq!(
            msg,
            Some(crate::sync::Msg::Error {
                msg: "exec /nonexistent/prog: ENOENT: No such file or directory".into()
            })
        );
    }

    #[test]
    fn trampoline_refuses_to_be_the_interpreter_of_a_proc_self_exe_script() {
        let dir = tempfile::tempdir().unwrap();
        let evil = dir.path().join("evil");
        std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
        std::fs::set_permissions(&evil, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let evil = evil.to_string_lossy().to_string();
        // The kernel runs the trampoline (the process's exe) with argv[0] "/proc/self/exe".
        assert_eq!(through_trampoline(&[&evil, &evil]), (127, None));
        let (code, _) = through_trampoline(&["/bin/true"]);
        assert_eq!(code, 127, "fewer than three arguments");
    }

    #[test]
    fn trampoline_is_sealed() {
        let fd = trampoline().unwrap();
        // SAFETY: the trampoline fd lives for the whole process.
        let f = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        assert_eq!(crate::sys::seals(&f) & SEALS, SEALS);
        let path = format!("/proc/self/fd/{fd}");
        if let Ok(mut w) = std::fs::OpenOptions::new().append(true).open(&path) {
            assert!(w.write_all(b"x").is_err());
        }
        assert_eq!(std::fs::read(&path).unwrap(), trampoline::image());
    }

    #[test]
    fn trampoline_needs_its_syscalls_allowed() {
        let profile = |v: serde_json::Value| {
            serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(v).unwrap()
        };
        assert!(trampoline_allowed(None));
        let allow_all = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        assert!(trampoline_allowed(Some(&allow_all)));
        let denied = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["fcntl"], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(!trampoline_allowed(Some(&denied)));
        let conditional = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["execveat", "fcntl", "sendmsg", "exit_group"],
                          "action": "SCMP_ACT_ALLOW"},
                         {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(!trampoline_allowed(Some(&conditional)));
        let Some(docker) = crate::seccomp::tests::docker_default() else {
            eprintln!("skip: docker's seccomp profile not present");
            return;
        };
        assert!(trampoline_allowed(Some(&docker)));
    }

    #[test]
    fn read_only_clone_refuses_writes() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skip: needs root");
            return;
        }
        let fd = read_only_clone().unwrap();
        assert!(crate::sys::on_read_only_mount(&fd));
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let e = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_err();
        // ETXTBSY while the test binary runs, EROFS once nothing executes it.
        assert!(
            matches!(e.raw_os_error(), Some(libc::EROFS) | Some(libc::ETXTBSY)),
            "{e}"
        );
        // The test binary itself runs from a writable file.
        assert_eq!(protection(), Protection::None);
    }
}
