//! One error type for deskline's own HTTP answers: a status and a message naming the problem.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An HTTP error answer: `{"error": code, "message": text}`.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct HttpError {
    /// The status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl HttpError {
    /// Builds an error answer.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with a message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 with a message.
    pub fn unauthorized(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 404 with a message.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 500 for a storage failure; the detail goes to the log, not to the caller.
    pub fn storage(e: &deskline_store::StoreError) -> HttpError {
        tracing::error!(error = %e, "storage failure");
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the event could not be stored; retry later",
        )
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}
