//! The HTTP surface: one router per resource, merged here.

mod directory;
mod sandbox;
mod tickets;
mod triggers;
mod users;
mod webhooks;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::error::ApiError;

/// The whole sandbox router, with its state applied.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(tickets::router())
        .merge(users::router())
        .merge(directory::router())
        .merge(webhooks::router())
        .merge(triggers::router())
        .merge(sandbox::router())
        .fallback(|| async { ApiError::NoRoute })
        .with_state(state)
}

/// Parses a JSON request body; malformed JSON is a 400 naming the problem.
pub fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "the request body is empty; a JSON object was expected".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

/// The object under `key` (`{"ticket": {...}}`), or a 400 saying it is missing.
pub fn root<'a>(value: &'a Value, key: &str) -> Result<&'a Map<String, Value>, ApiError> {
    value.get(key).and_then(Value::as_object).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "the body must be a JSON object with a \"{key}\" object"
        ))
    })
}

/// A JSON answer with a status and an optional `Location`.
pub fn respond(status: StatusCode, body: Value, location: Option<String>) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("location", loc);
    }
    response
}
