//! pier-init: the init `docker run --init` puts at PID 1 (docker's tini, ours). Usage:
//! `pier-init [--] PROGRAM [ARGS...]`. It runs PROGRAM as its only child, forwards every signal
//! it receives to it (PID 1 of a PID namespace gets no default action for signals, so the
//! child's own dispositions apply), reaps every process reparented to it (no zombies), and
//! exits with the child's status: its exit code, or 128+N when signal N killed it. An exec
//! failure exits 127 (not found) or 126 (permission denied), as tini.
//!
//! Built by `build.rs` as a static executable without cargo: it may use only std and the few
//! libc functions declared below (glibc's, linked statically).

use std::ffi::{c_int, OsString};
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

/// glibc's `sigset_t` (1024 bits on every Linux architecture).
#[repr(C)]
struct SigSet([u64; 16]);

extern "C" {
    fn sigfillset(set: *mut SigSet) -> c_int;
    fn sigemptyset(set: *mut SigSet) -> c_int;
    fn sigdelset(set: *mut SigSet, sig: c_int) -> c_int;
    fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigwaitinfo(set: *const SigSet, info: *mut u8) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
}

const SIG_BLOCK: c_int = 0;
const SIG_SETMASK: c_int = 2;
const WNOHANG: c_int = 1;
const SIGCHLD: c_int = 17;
/// Signals the kernel raises synchronously for a fault of this process (never forwarded), and
/// the job-control stops a background tty reader/writer would get.
const NOT_BLOCKED: [c_int; 9] = [4, 5, 6, 7, 8, 11, 31, 21, 22];

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("usage: pier-init [--] PROGRAM [ARGS...]");
        exit(1);
    }
    let mut set = SigSet([0; 16]);
    // SAFETY: `set` is a valid, writable sigset_t; the calls only touch it and this thread's
    // signal mask (the process has no other thread).
    unsafe {
        sigfillset(&mut set);
        for s in NOT_BLOCKED {
            sigdelset(&mut set, s);
        }
        sigprocmask(SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    // SAFETY: between fork and exec the closure only calls the async-signal-safe
    // sigemptyset/sigprocmask on a stack value: the child starts with no signal blocked.
    unsafe {
        cmd.pre_exec(|| {
            let mut empty = SigSet([0; 16]);
            sigemptyset(&mut empty);
            sigprocmask(SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let (code, why) = match e.kind() {
                ErrorKind::NotFound => (127, "No such file or directory".to_string()),
                ErrorKind::PermissionDenied => (126, "Permission denied".to_string()),
                _ => (1, e.to_string()),
            };
            eprintln!(
                "[FATAL pier-init] exec {} failed: {why}",
                args[0].to_string_lossy()
            );
            exit(code);
        }
    };
    let pid = child.id() as c_int;
    loop {
        // SAFETY: `set` is initialised; a null info pointer is allowed.
        let sig = unsafe { sigwaitinfo(&set, std::ptr::null_mut()) };
        if sig < 0 {
            continue;
        }
        if sig != SIGCHLD {
            // SAFETY: plain kill(2) of our own child.
            unsafe { kill(pid, sig) };
            continue;
        }
        let mut child_code = None;
        loop {
            let mut status: c_int = 0;
            // SAFETY: `status` is a valid out pointer.
            let r = unsafe { waitpid(-1, &mut status, WNOHANG) };
            if r <= 0 {
                break;
            }
            if r == pid {
                let term = status & 0x7f;
                child_code = Some(if term == 0 {
                    (status >> 8) & 0xff
                } else {
                    128 + term
                });
            }
        }
        if let Some(code) = child_code {
            exit(code);
        }
    }
}
