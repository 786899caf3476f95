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
    /// The parent's acknowledgement.
    Ok,
    /// Setup failed (either side).
    Error { msg: String },
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
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
    Ok((Channel { fd: a }, Channel { fd: b }))
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

    /// Next message, or `None` on EOF (the other side is gone).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match nix::sys::socket::recv(
                self.fd.as_raw_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::empty(),
            ) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    return serde_json::from_slice(&buf[..n])
                        .map(Some)
                        .map_err(|e| RuntimeError::Other(format!("bad sync message: {e}")))
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "sync socket recv".into()),
            }
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
