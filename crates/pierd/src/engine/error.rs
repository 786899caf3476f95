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
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// docker's 403: the request is understood and refused (predefined network, in use).
    #[error("{0}")]
    Forbidden(String),
    /// The container is already in the state asked for (docker answers 304).
    #[error("container already in that state")]
    NotModified,
    /// The runtime refused to start the process (docker's 400 with the runtime's message).
    #[error("{0}")]
    StartFailed(String),
    #[error("{0}")]
    InvalidParameter(String),
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
    #[error(transparent)]
    Snapshot(#[from] pier_image::SnapshotError),
    #[error(transparent)]
    Layer(#[from] pier_image::LayerError),
    #[error(transparent)]
    Registry(#[from] pier_registry::RegistryError),
    /// pier's own fault or the host's (I/O, a task that died).
    #[error("{0}")]
    System(String),
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NoSuchImage(_)
            | EngineError::NoSuchContainer(_)
            | EngineError::NoSuchExec(_)
            | EngineError::NoSuchNetwork(_) => ErrorKind::NotFound,
            EngineError::Forbidden(_) => ErrorKind::Forbidden,
            EngineError::StartFailed(_) => ErrorKind::InvalidParameter,
            EngineError::NotModified => ErrorKind::Conflict,
            EngineError::InvalidParameter(_) | EngineError::Reference(_) => {
                ErrorKind::InvalidParameter
            }
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::NotImplemented(_) => ErrorKind::NotImplemented,
            EngineError::Registry(e) => registry_kind(e),
            EngineError::Content(_)
            | EngineError::Store(_)
            | EngineError::Snapshot(_)
            | EngineError::Layer(_)
            | EngineError::System(_) => ErrorKind::System,
        }
    }

    pub fn system(context: &str, e: impl std::fmt::Display) -> EngineError {
        EngineError::System(format!("{context}: {e}"))
    }
}

/// How dockerd classifies registry failures: "not found" answers (unknown manifest or
/// repository, denied access, no manifest for the platform) are 404, a bad platform or auth
/// header is 400, a 401 from the registry with credentials is 401; transport failures and
/// protocol violations are 500.
fn registry_kind(e: &pier_registry::RegistryError) -> ErrorKind {
    use pier_registry::RegistryError as R;
    if e.is_not_found() {
        return ErrorKind::NotFound;
    }
    match e {
        R::InvalidArgument(_) => ErrorKind::InvalidParameter,
        R::Registry { cause } if cause.status == 401 => ErrorKind::Unauthorized,
        R::Registry { cause } if cause.status == 403 => ErrorKind::Forbidden,
        _ => ErrorKind::System,
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
