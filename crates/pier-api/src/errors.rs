//! Error classification, as moby's `errdefs`: every error pierd can answer with belongs to one
//! [`ErrorKind`], and the kind alone decides the HTTP status. The body is always
//! [`ErrorResponse`] (`{"message": "..."}`).

use serde::{Deserialize, Serialize};

/// The class of an error, which decides its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (bad reference, bad filter, bad JSON): 400.
    InvalidParameter,
    /// Credentials were refused: 401.
    Unauthorized,
    /// The request is understood but not allowed: 403.
    Forbidden,
    /// The named object does not exist: 404.
    NotFound,
    /// The request conflicts with the current state (image in use, name taken): 409.
    Conflict,
    /// The feature is not implemented by pier yet: 501.
    NotImplemented,
    /// A dependency (a registry) could not be reached: 503 is docker's for this class; dockerd
    /// reports unreachable registries as system errors, so pier does too (see [`ErrorKind::System`]).
    Unavailable,
    /// Anything else — pier's own fault or the host's: 500.
    System,
}

impl ErrorKind {
    /// The HTTP status dockerd answers for this class of error.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidParameter => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::System => 500,
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_dockerd() {
        assert_eq!(ErrorKind::InvalidParameter.status(), 400);
        assert_eq!(ErrorKind::NotFound.status(), 404);
        assert_eq!(ErrorKind::Conflict.status(), 409);
        assert_eq!(ErrorKind::NotImplemented.status(), 501);
        assert_eq!(ErrorKind::System.status(), 500);
        let body = serde_json::to_string(&ErrorResponse {
            message: "No such image: x:latest".into(),
        })
        .unwrap();
        assert_eq!(body, r#"{"message":"No such image: x:latest"}"#);
    }
}
