//! Terminals: `--console-socket` (runc's protocol: the init creates a pty inside the container's
//! devpts, sends the master over the unix socket with SCM_RIGHTS and makes the slave its stdio
//! and controlling terminal) and a local receiver for the foreground `run`/`exec --tty` case,
//! where pier-runc itself proxies its own stdio to the master.

use crate::error::{Context, Result, RuntimeError};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Connect to the caller's console socket.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let s =
        UnixStream::connect(path).ctx(|| format!("connect console socket {}", path.display()))?;
    Ok(OwnedFd::from(s))
}

/// Open a new pty pair in the devpts mounted at /dev/pts (call after pivot_root). Returns
/// (master, slave).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    let ptmx = if Path::new("/dev/pts/ptmx").exists() {
        "/dev/pts/ptmx"
    } else {
        "/dev/ptmx"
    };
    let master = nix::fcntl::open(
        ptmx,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open {ptmx}"))?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int we own; TIOCGPTPEER returns a new fd we then own.
    let slave = unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0 {
            return Err(RuntimeError::Sys {
                op: "unlockpt".into(),
                source: nix::errno::Errno::last(),
            });
        }
        let fd = libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return Err(RuntimeError::Sys {
                op: "open pty slave".into(),
                source: nix::errno::Errno::last(),
            });
        }
        OwnedFd::from_raw_fd(fd)
    };
    Ok((master, slave))
}

/// Set the window size of a terminal.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

/// Copy the window size of `from` to `to`.
pub fn copy_size(from: RawFd, to: RawFd) {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes into a winsize we own.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) } == 0 {
        set_size(to, ws.ws_row, ws.ws_col);
    }
}

/// Make `slave` the controlling terminal and stdio of the calling process (a session leader).
pub fn become_tty(slave: &OwnedFd) -> Result<()> {
    let fd = slave.as_raw_fd();
    // SAFETY: TIOCSCTTY on an fd we own; dup2 onto the stdio numbers.
    unsafe {
        if libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
            return Err(RuntimeError::Sys {
                op: "set controlling terminal".into(),
                source: nix::errno::Errno::last(),
            });
        }
        for target in 0..3 {
            if libc::dup2(fd, target) < 0 {
                return Err(RuntimeError::Sys {
                    op: "dup2 pty".into(),
                    source: nix::errno::Errno::last(),
                });
            }
        }
    }
    Ok(())
}

/// The path of a pty slave fd (for the /dev/console bind mount).
pub fn slave_path(slave: &OwnedFd) -> Result<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).ctx(|| "readlink pty".into())
}

/// Proxy between our stdio and a pty master until the master hangs up (foreground tty mode).
/// Our stdin is put in raw mode for the duration if it is a terminal.
pub fn proxy(master: OwnedFd) {
    use nix::sys::termios;
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &raw);
        copy_size(0, master.as_raw_fd());
    }
    let master = std::fs::File::from(master);
    let (mut m_read, mut m_write) = match master.try_clone() {
        Ok(c) => (master, c),
        Err(_) => return,
    };
    let out = std::thread::spawn(move || {
        let _ = std::io::copy(&mut m_read, &mut std::io::stdout());
    });
    let _in = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut m_write);
    });
    let _ = out.join();
    if let Some(t) = saved {
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &t);
    }
}
