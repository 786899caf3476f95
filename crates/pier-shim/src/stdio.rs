//! A process's stdio as the shim holds it: pipes (stdin optional — without it the process reads
//! /dev/null) or a pty master received over a console socket. [`Stdio::new`] returns our ends
//! and the ends the container process gets ([`ChildStdio`]).
//!
//! The in-process runtime forks the container's processes from the shim (it puts the child's
//! ends on their 0/1/2 itself), so they inherit the shim's signal mask and dispositions:
//! [`in_child_context`] unblocks every signal and restores SIGPIPE to its default for the
//! duration of a call and puts the shim's own settings back afterwards (the shim is single
//! threaded, so nothing else sees the switch).

use crate::error::{Context, Result};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

/// The fds a new container process gets as 0, 1 and 2.
#[derive(Debug)]
pub struct ChildStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Our ends of a process's stdio.
#[derive(Debug, Default)]
pub struct Stdio {
    /// Write end of the process's stdin pipe (pipes mode with stdin).
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    /// Pty master (tty mode): input and output.
    pub master: Option<File>,
}

impl Stdio {
    /// Pipes for a process (in tty mode only /dev/null: the runtime makes the pty slave its
    /// stdio and hands us the master).
    pub fn new(tty: bool, stdin: bool) -> Result<(Stdio, ChildStdio)> {
        let null = || dev_null();
        if tty {
            return Ok((
                Stdio::default(),
                ChildStdio {
                    stdin: null()?,
                    stdout: null()?,
                    stderr: null()?,
                },
            ));
        }
        let (in_r, in_w) = if stdin {
            let (r, w) = pipe()?;
            (r, Some(File::from(w)))
        } else {
            (null()?, None)
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        set_nonblocking(&out_r)?;
        set_nonblocking(&err_r)?;
        if let Some(w) = &in_w {
            set_nonblocking(w)?;
        }
        Ok((
            Stdio {
                stdin: in_w,
                stdout: Some(File::from(out_r)),
                stderr: Some(File::from(err_r)),
                master: None,
            },
            ChildStdio {
                stdin: in_r,
                stdout: out_w,
                stderr: err_w,
            },
        ))
    }
}

/// Open /dev/null read-write (close-on-exec).
pub fn dev_null() -> Result<OwnedFd> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
        .ctx(|| "open /dev/null".into())
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())
}

/// Make an fd non-blocking.
pub fn set_nonblocking(fd: impl AsFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(&fd, FcntlArg::F_GETFL).ctx(|| "fcntl".into())?;
    fcntl(
        &fd,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .ctx(|| "fcntl".into())?;
    Ok(())
}

/// Put `fds` on 0, 1 and 2.
pub fn stdio_to(fds: [&OwnedFd; 3]) -> Result<()> {
    nix::unistd::dup2_stdin(fds[0]).ctx(|| "dup2 stdin".into())?;
    nix::unistd::dup2_stdout(fds[1]).ctx(|| "dup2 stdout".into())?;
    nix::unistd::dup2_stderr(fds[2]).ctx(|| "dup2 stderr".into())?;
    Ok(())
}

/// The signals the shim blocks (received through its signalfd).
pub fn shim_sigmask() -> SigSet {
    let mut s = SigSet::empty();
    s.add(Signal::SIGCHLD);
    s
}

fn set_sigpipe(h: SigHandler) {
    // SAFETY: installs SIG_DFL or SIG_IGN, not a handler function, so no code runs in signal
    // context; the shim is single threaded.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGPIPE, h) };
}

/// Run `f` with no blocked signals and SIGPIPE at its default, as the container's processes
/// must start (they are forked inside `f` and keep both across `execve`); restore the shim's
/// settings afterwards.
pub fn in_child_context<R>(f: impl FnOnce() -> R) -> R {
    set_sigpipe(SigHandler::SigDfl);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    let r = f();
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&shim_sigmask()), None);
    set_sigpipe(SigHandler::SigIgn);
    r
}
