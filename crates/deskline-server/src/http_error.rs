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
    /// Seconds after which the same request may succeed (`Retry-After`), for answers that
    /// say "not now" rather than "never".
    pub retry_after: Option<u64>,
}

/// How long a provider is asked to wait after deskline could not store its event: long enough
/// for a busy database to drain, short enough that the call is not held up for long.
pub const STORAGE_RETRY_AFTER_SECS: u64 = 2;

impl HttpError {
    /// Builds an error answer.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
            retry_after: None,
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

    /// 503 with `Retry-After` for a storage failure, naming the problem: providers retry a
    /// 503 (many give up on a 500), and the database's trouble is usually over in seconds.
    pub fn storage(e: &deskline_store::StoreError) -> HttpError {
        tracing::error!(error = %e, "storage failure");
        let problem = e.outage().unwrap_or_else(|| e.to_string());
        HttpError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "storage_unavailable",
            message: format!("storage is unavailable: {problem}; retry later"),
            retry_after: Some(STORAGE_RETRY_AFTER_SECS),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
