//! `POST /hooks/{source}`: authenticate, parse, normalise, and store the event with its job in
//! one transaction before answering. A redelivered event is answered 2xx without new work.

use axum::body::{to_bytes, Body};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use deskline_core::sources::myoperator;
use deskline_store::{Ingested, NewInboundEvent, NewJob};
use serde_json::{json, Map, Value};

use crate::auth::check_source_secret;
use crate::config::SourceKind;
use crate::http_error::HttpError;
use crate::state::{AppState, Source};
use crate::worker::call_ticket::{CallTicketArgs, CALL_TICKET_JOB, ZENDESK_QUEUE};

/// The ingress routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/hooks/{source}", post(receive))
}

/// Headers worth keeping with the raw event; credentials are never stored.
fn kept_headers(headers: &HeaderMap, secret_header: &str) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let n = name.as_str();
        if n == "authorization" || n.eq_ignore_ascii_case(secret_header) || n == "cookie" {
            continue;
        }
        if let Ok(v) = value.to_str() {
            out.insert(n.to_string(), Value::String(v.to_string()));
        }
    }
    Value::Object(out)
}

async fn read_body(body: Body, limit: usize, headers: &HeaderMap) -> Result<Vec<u8>, HttpError> {
    let too_large = || {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| too_large())
}

async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let source: &Source = state.sources.get(&name).ok_or_else(|| {
        HttpError::not_found(
            "unknown_source",
            format!("no source named {name:?} is configured"),
        )
    })?;
    check_source_secret(&headers, &source.config.secret_header, &source.secret)?;
    let raw = read_body(body, state.max_body_bytes, &headers).await?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let now = state.clock.now();
    let (event, job) = match source.config.kind {
        SourceKind::Myoperator => {
            let call = myoperator::parse_after_call(&raw, content_type, &source.config.phones)
                .map_err(|e| HttpError::bad_request("invalid_payload", e.to_string()))?;
            let normalized = serde_json::to_value(&call).map_err(|e| {
                HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?;
            let args = CallTicketArgs {
                source: name.clone(),
                call_id: call.call_id.clone(),
            };
            let job = NewJob::new(CALL_TICKET_JOB, ZENDESK_QUEUE, json!(args), now)
                .max_attempts(state.worker.max_attempts)
                .unique_key(format!("{CALL_TICKET_JOB}:{name}:{}", call.call_id))
                .ordering_key(format!("call:{name}:{}", call.call_id));
            let event = NewInboundEvent {
                source: name.clone(),
                kind: "call".to_string(),
                dedupe_key: call.call_id.clone(),
                received_at: now,
                headers: kept_headers(&headers, &source.config.secret_header),
                raw_body: raw,
                normalized,
            };
            (event, job)
        }
    };
    let outcome = state
        .store
        .ingest(event, vec![job])
        .await
        .map_err(|e| HttpError::storage(&e))?;
    metrics::counter!("deskline_events_received_total", "source" => name.clone(),
        "outcome" => if matches!(outcome, Ingested::Duplicate { .. }) { "duplicate" } else { "stored" })
    .increment(1);
    Ok(match outcome {
        Ingested::Stored { event_id, .. } => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "accepted", "event_id": event_id})),
        )
            .into_response(),
        Ingested::Duplicate { event_id } => (
            StatusCode::OK,
            Json(json!({"status": "duplicate", "event_id": event_id})),
        )
            .into_response(),
    })
}
