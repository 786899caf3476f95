//! The CLI's error type. `Display` is exactly what docker prints on stderr for the same failure
//! (`Error response from daemon: No such image: x:latest`, `Cannot connect to the Docker daemon at
//! unix:///... Is the docker daemon running?`); [`CliError::exit_code`] is docker's exit status.

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon could not be reached at all.
    #[error("Cannot connect to the Docker daemon at {0}. Is the docker daemon running?")]
    Connect(String),
    #[error("permission denied while trying to connect to the Docker daemon socket at {0}: {1}")]
    Permission(String, String),
    /// An HTTP error status from the daemon, with its message.
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    /// An error status with no body (docker's wording).
    #[error("request returned {status_text} for API route and version {url}, check if the server supports the requested API version")]
    EmptyError {
        status: u16,
        status_text: String,
        url: String,
    },
    /// An error carried inside a JSON progress stream (`errorDetail`), printed as is.
    #[error("{0}")]
    Stream(String),
    #[error("{0}")]
    Format(#[from] crate::format::FormatError),
    /// Wrong usage detected by the command itself (docker prints these as they are).
    #[error("{0}")]
    Usage(String),
    /// Bad flag or argument count: docker exits 125 for flag errors, 1 for argument counts.
    #[error("{message}")]
    Flag { message: String, code: i32 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(String),
    /// Several failures already printed (docker's `rmi a b` with one missing): just the exit status.
    #[error("")]
    Silent(i32),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Flag { code, .. } => *code,
            CliError::Silent(c) => *c,
            _ => 1,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            CliError::Daemon { status, .. } | CliError::EmptyError { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
