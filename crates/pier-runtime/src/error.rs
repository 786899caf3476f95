//! The runtime's error type. Every fallible library call returns [`RuntimeError`]; its Display is
//! the message `pier-runc` prints on stderr (runc's wording where runc has one).

use std::path::PathBuf;

/// Errors of the OCI runtime library.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("container does not exist")]
    NotFound(String),
    #[error("invalid container id {0:?}: must match [A-Za-z0-9][A-Za-z0-9_.+-]*")]
    InvalidId(String),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("cannot read {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rootfs ({0}) does not exist")]
    MissingRootfs(PathBuf),
    #[error("container is in state {state}: {op} requires {want}")]
    BadState {
        op: &'static str,
        state: String,
        want: &'static str,
    },
    #[error("cgroup: {0}")]
    Cgroup(String),
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("hook {path}: {msg}")]
    Hook { path: String, msg: String },
    #[error("container init: {0}")]
    Init(String),
    #[error("{op}: {source}")]
    Sys {
        op: String,
        source: nix::errno::Errno,
    },
    #[error("{op}: {source}")]
    Io { op: String, source: std::io::Error },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Other(String),
}

/// Result alias of the crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Attach an operation name to a nix or io error.
pub(crate) trait Context<T> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| RuntimeError::Sys { op: op(), source })
    }
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| RuntimeError::Io { op: op(), source })
    }
}
