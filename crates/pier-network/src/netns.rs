//! Network namespaces: a [`Netns`] names one (a bind-mounted path such as `/run/netns/x`, or a
//! process's `/proc/<pid>/ns/net`), and [`Netns::run`] runs a closure inside it on a dedicated OS
//! thread that `setns`-es and then exits, so the namespace change never leaks into pierd's threads.
//! Sockets created there stay in that namespace (how the DNS listener binds 127.0.0.11:53).

use std::fs::File;
use std::path::PathBuf;

use nix::sched::{setns, CloneFlags};
use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Netns {
    /// A namespace file, e.g. `/run/netns/<name>` or `/proc/<pid>/ns/net`.
    Path(PathBuf),
    /// The network namespace of a running process.
    Pid(u32),
}

impl Netns {
    pub fn path(&self) -> PathBuf {
        match self {
            Netns::Path(p) => p.clone(),
            Netns::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/net")),
        }
    }

    pub(crate) fn open(&self) -> Result<File> {
        let path = self.path();
        File::open(&path).map_err(|source| NetError::Netns {
            path: path.display().to_string(),
            source,
        })
    }

    /// Runs `f` on a fresh thread inside this namespace and waits for it (blocking).
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let file = self.open()?;
        let path = self.path().display().to_string();
        std::thread::Builder::new()
            .name("pier-netns".into())
            .spawn(move || enter(file, &path).and_then(|()| f()))
            .map_err(crate::error::io_err("spawn netns thread"))?
            .join()
            .map_err(|_| NetError::Netlink("netns thread panicked".into()))?
    }

    /// Like [`Netns::run`] but awaits the thread instead of blocking the caller's executor thread.
    pub async fn run_async<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let file = self.open()?;
        let path = self.path().display().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("pier-netns".into())
            .spawn(move || {
                let _ = tx.send(enter(file, &path).and_then(|()| f()));
            })
            .map_err(crate::error::io_err("spawn netns thread"))?;
        rx.await
            .map_err(|_| NetError::Netlink("netns thread panicked".into()))?
    }

    /// Runs an async netlink job inside the namespace: a current-thread tokio runtime on the
    /// namespace thread, with an rtnetlink connection opened there.
    pub(crate) async fn netlink<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(rtnetlink::Handle) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>>,
        T: Send + 'static,
    {
        self.run_async(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(crate::error::io_err("netns runtime"))?;
            rt.block_on(async move {
                let handle = crate::bridge::connect()?;
                f(handle).await
            })
        })
        .await
    }

    /// Binds a UDP socket inside this namespace (blocking thread hop).
    pub fn bind_udp(&self, addr: std::net::SocketAddr) -> Result<std::net::UdpSocket> {
        self.run(move || {
            std::net::UdpSocket::bind(addr)
                .map_err(crate::error::io_err(format!("bind udp {addr}")))
        })
    }

    /// Binds a TCP listener inside this namespace (blocking thread hop).
    pub fn bind_tcp(&self, addr: std::net::SocketAddr) -> Result<std::net::TcpListener> {
        self.run(move || {
            std::net::TcpListener::bind(addr)
                .map_err(crate::error::io_err(format!("bind tcp {addr}")))
        })
    }
}

fn enter(file: File, path: &str) -> Result<()> {
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| NetError::Netns {
        path: path.to_string(),
        source: std::io::Error::from(e),
    })
}
