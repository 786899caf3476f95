//! The shim's error type. Its Display is what goes back to pierd in `{"error":"..."}`: the
//! runtime's message unchanged where the runtime failed, so pierd can map it to docker's words.

/// Errors of pier-shim.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(#[from] pier_runtime::RuntimeError),
    /// A runc-compatible binary failed; the message is its last stderr line.
    #[error("{0}")]
    RuntimeBinary(String),
    #[error("{op}: {source}")]
    Io { op: String, source: std::io::Error },
    #[error("{op}: {source}")]
    Sys {
        op: String,
        source: nix::errno::Errno,
    },
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("{0}")]
    State(String),
}

/// Result alias of the crate.
pub type Result<T, E = ShimError> = std::result::Result<T, E>;

/// Attach an operation name to an io or nix error.
pub trait Context<T> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| ShimError::Io { op: op(), source })
    }
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| ShimError::Sys { op: op(), source })
    }
}
