//! The one place where errors become HTTP responses: an [`EngineError`]'s kind decides the status
//! (through [`pier_api::ErrorKind::status`]) and the body is `{"message": "..."}`, as dockerd
//! answers.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use pier_api::{ErrorKind, ErrorResponse};

use crate::engine::EngineError;

#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    pub fn not_implemented(method: &str, path: &str) -> Self {
        Self::new(
            ErrorKind::NotImplemented,
            format!("pier does not implement {method} {path} yet"),
        )
    }

    pub fn page_not_found() -> Self {
        Self::new(ErrorKind::NotFound, "page not found")
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        ApiError::new(e.kind(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            tracing::error!(status = status.as_u16(), message = %self.message, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), message = %self.message, "request refused");
        }
        let body = serde_json::to_vec(&ErrorResponse {
            message: self.message,
        })
        .unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
