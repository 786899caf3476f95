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
