//! The engine's error: every failure of an engine call, each classified into an
//! [`ErrorKind`] that the API layer turns into an HTTP status. Messages are docker's where docker
//! has one, because the CLI prints them as they are.

use pier_api::ErrorKind;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The name given does not resolve to an image; holds the name as docker shows it
    /// ("busybox:latest", "sha256:…").
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error(transparent)]
    Reference(#[from] pier_image::ReferenceError),
    #[error(transparent)]
    Content(#[from] pier_image::ContentError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// pier's own fault or the host's (I/O, a task that died).
    #[error("{0}")]
    System(String),
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NoSuchImage(_) | EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::InvalidParameter(_) | EngineError::Reference(_) => {
                ErrorKind::InvalidParameter
            }
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::NotImplemented(_) => ErrorKind::NotImplemented,
            EngineError::Content(_) | EngineError::Store(_) | EngineError::System(_) => {
                ErrorKind::System
            }
        }
    }

    pub fn system(context: &str, e: impl std::fmt::Display) -> EngineError {
        EngineError::System(format!("{context}: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
