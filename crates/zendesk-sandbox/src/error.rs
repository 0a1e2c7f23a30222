//! Error answers shaped like Zendesk's.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One entry of a `RecordInvalid` answer's `details`.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// Zendesk's error code for the field, e.g. `BlankValue`, `InvalidValue`.
    pub error: String,
    /// A sentence naming the field and the problem.
    pub description: String,
}

/// Everything a sandbox endpoint can answer other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 for a body that is not valid JSON or lacks the root object.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 400 when an `Idempotency-Key` is reused with a different body.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    /// 401: missing or wrong credentials.
    #[error("could not authenticate")]
    Unauthorized,
    /// 403: authenticated but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// 404: no such record (the string names the kind of record).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404 for a path the sandbox does not serve.
    #[error("no route")]
    NoRoute,
    /// 422 with per-field details.
    #[error("record invalid")]
    RecordInvalid(BTreeMap<String, Vec<FieldError>>),
    /// 422 with a single description (search past its cap, invalid display_to_agent, ...).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// 429 from an endpoint limit or the account budget; the number is Retry-After in seconds.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the client may retry.
        retry_after: u64,
        /// Zendesk's explanation.
        description: String,
    },
}

impl ApiError {
    /// A `RecordInvalid` with one field error.
    pub fn invalid(field: &str, error: &str, description: impl Into<String>) -> ApiError {
        let mut details = BTreeMap::new();
        details.insert(
            field.to_string(),
            vec![FieldError {
                error: error.to_string(),
                description: description.into(),
            }],
        );
        ApiError::RecordInvalid(details)
    }
}

/// Collects field errors so a request with several problems names them all at once.
#[derive(Default)]
pub struct Invalid {
    details: BTreeMap<String, Vec<FieldError>>,
}

impl Invalid {
    /// Records one problem with a field.
    pub fn add(&mut self, field: &str, error: &str, description: impl Into<String>) {
        self.details
            .entry(field.to_string())
            .or_default()
            .push(FieldError {
                error: error.to_string(),
                description: description.into(),
            });
    }

    /// `Ok` when nothing was recorded, otherwise the 422 to answer.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.details.is_empty() {
            Ok(())
        } else {
            Err(ApiError::RecordInvalid(self.details))
        }
    }
}

fn details_json(details: &BTreeMap<String, Vec<FieldError>>) -> Value {
    let mut out = serde_json::Map::new();
    for (field, errors) in details {
        let list: Vec<Value> = errors
            .iter()
            .map(|e| json!({"description": e.description, "error": e.error}))
            .collect();
        out.insert(field.clone(), Value::Array(list));
    }
    Value::Object(out)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest(msg) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "InvalidRequest", "description": msg}),
            ),
            ApiError::IdempotencyMismatch => (
                StatusCode::BAD_REQUEST,
                json!({
                    "error": "IdempotentRequestError",
                    "description": "Request parameters don't match the given idempotency key"
                }),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "Couldn't authenticate you"}),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({
                    "error": "Forbidden",
                    "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."
                }),
            ),
            ApiError::NotFound(_) | ApiError::NoRoute => (
                StatusCode::NOT_FOUND,
                json!({"error": "RecordNotFound", "description": "Not found"}),
            ),
            ApiError::RecordInvalid(details) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": details_json(details)
                }),
            ),
            ApiError::Unprocessable(msg) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "InvalidValue", "description": msg}),
            ),
            ApiError::RateLimited {
                retry_after,
                description,
            } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"error": "APIRateLimitExceeded", "description": description})),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert("retry-after", v);
                }
                return response;
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            let mut response = (status, Json(body)).into_response();
            response.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Basic realm=\"Web Password\""),
            );
            return response;
        }
        (status, Json(body)).into_response()
    }
}
