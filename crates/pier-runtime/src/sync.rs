//! The parent ↔ child channel used while a container (or an exec'd process) is being set up: a
//! `SOCK_SEQPACKET` socketpair (close-on-exec on both ends), one small JSON message per packet.
//! The child reports its progress (`Pid`, `IdMap`, `Hooks`, `Ready`) or an `Error`; the parent
//! answers `Ok` (or `Error`) where the child must wait for it. EOF without `Ready` means the child
//! died.

use crate::error::{Context, Result, RuntimeError};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

/// One message on the setup channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Msg {
    /// The namespace helper unshared a user namespace: write its uid/gid maps.
    IdMap { pid: i32 },
    /// The pid (in the caller's pid namespace) of the container's init / exec'd process.
    Pid { pid: i32 },
    /// Namespaces and mounts are ready: run the prestart and createRuntime hooks.
    Hooks,
    /// Setup finished; the init now waits on exec.fifo.
    Ready,
    /// The seccomp notify fd rides along (SCM_RIGHTS): give it to the agent, then `Ok`.
    SeccompFd,
    /// The parent's acknowledgement.
    Ok,
    /// Setup failed (either side).
    Error { msg: String },
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    /// An fd that came with the last message (see [`Channel::take_fd`]).
    received: std::cell::RefCell<Option<OwnedFd>>,
}

/// A connected pair: (parent end, child end).
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair".into())?;
    let ch = |fd| Channel {
        fd,
        received: Default::default(),
    };
    Ok((ch(a), ch(b)))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let buf = serde_json::to_vec(msg).expect("serializable");
        nix::sys::socket::send(
            self.fd.as_raw_fd(),
            &buf,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )
        .ctx(|| "sync socket send".into())?;
        Ok(())
    }

    /// Send a message with an fd attached.
    pub fn send_with_fd(&self, msg: &Msg, fd: &OwnedFd) -> Result<()> {
        let buf = serde_json::to_vec(msg).expect("serializable");
        crate::sys::send_fd(self.fd.as_raw_fd(), &buf, fd.as_raw_fd())
    }

    /// The fd that came with the last message received, if any.
    pub fn take_fd(&self) -> Option<OwnedFd> {
        self.received.borrow_mut().take()
    }

    /// Next message, or `None` on EOF (the other side is gone). An fd sent with it is kept for
    /// [`Channel::take_fd`].
    pub fn recv(&self) -> Result<Option<Msg>> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::FromRawFd;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let r = recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            );
            let (n, fd) = match r {
                Ok(m) => {
                    let mut fd = None;
                    for c in m.cmsgs().ctx(|| "sync socket recv".into())? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for f in fds {
                                // SAFETY: the kernel installed this fd for us.
                                fd = Some(unsafe { OwnedFd::from_raw_fd(f) });
                            }
                        }
                    }
                    (m.bytes, fd)
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "sync socket recv".into()),
            };
            if n == 0 {
                return Ok(None);
            }
            *self.received.borrow_mut() = fd;
            return match serde_json::from_slice(&buf[..n]) {
                Ok(m) => Ok(Some(m)),
                Err(_) if n >= 4 => Ok(Some(exec_failure(&buf[..n]))),
                Err(e) => Err(RuntimeError::Other(format!("bad sync message: {e}"))),
            };
        }
    }

    /// Wait for the parent's `Ok`; its `Error` or EOF become an error.
    pub fn wait_ok(&self) -> Result<()> {
        match self.recv()? {
            Some(Msg::Ok) => Ok(()),
            Some(Msg::Error { msg }) => Err(RuntimeError::Init(msg)),
            other => Err(RuntimeError::Init(format!(
                "unexpected sync message {other:?}"
            ))),
        }
    }

    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// The exec trampoline's report (`crate::exeseal`): the `execve` errno (u32, little endian),
/// then the program's path; as the error the runtime's own failed `execve` gives.
fn exec_failure(packet: &[u8]) -> Msg {
    let errno = u32::from_le_bytes(packet[..4].try_into().expect("4 bytes"));
    Msg::Error {
        msg: format!(
            "exec {}: {}",
            String::from_utf8_lossy(&packet[4..]),
            nix::errno::Errno::from_raw(errno as i32)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_eof() {
        let (a, b) = pair().unwrap();
        b.send(&Msg::Pid { pid: 7 }).unwrap();
        b.send(&Msg::Error { msg: "x".into() }).unwrap();
        assert_eq!(a.recv().unwrap(), Some(Msg::Pid { pid: 7 }));
        assert_eq!(a.recv().unwrap(), Some(Msg::Error { msg: "x".into() }));
        drop(b);
        assert_eq!(a.recv().unwrap(), None);
    }
}
