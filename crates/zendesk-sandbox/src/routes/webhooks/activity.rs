//! What webhooks sent: `GET /api/v2/webhooks/{id}/invocations` (and their attempts) in
//! Zendesk's shape, and the sandbox's fuller delivery log at `/sandbox/deliveries`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{cursor_paging, not_found, HookError};
use crate::app::{lock, AppState};
use crate::auth::Admin;
use crate::delivery::Delivery;
use crate::error::ApiError;
use crate::params::{page, Params};
use crate::render;
use crate::routes::respond;

fn invocation(d: &Delivery) -> Value {
    json!({
        "id": d.invocation_id,
        "webhook_id": d.webhook_id,
        "status": d.status,
        "created_at": render::timestamp(d.created_at),
        "latest_completed_at": d.completed_at.map(render::timestamp),
    })
}

fn webhook_exists(state: &AppState, id: &str) -> Result<(), HookError> {
    // Checked under its own short lock: the delivery log must not be held with the account.
    if state.lock_account().webhooks.contains_key(id) {
        Ok(())
    } else {
        Err(not_found("webhook", id))
    }
}

pub(super) async fn invocations(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, HookError> {
    webhook_exists(&state, &id)?;
    let paging = cursor_paging(&params)?;
    let status = params.get("filter[status]");
    let deliveries = lock(&state.deliveries).list(Some(&id), 0);
    // Newest first, like the activity log; keys are mirrored so cursors walk ascending keys.
    let items: Vec<(u64, Value)> = deliveries
        .iter()
        .rev()
        .filter(|d| status.is_none_or(|s| serde_json::to_value(d.status).is_ok_and(|v| v == s)))
        .map(|d| (u64::MAX - d.seq, invocation(d)))
        .collect();
    let url = format!("{}/api/v2/webhooks/{id}/invocations", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("invocations", items, paging, &url, &[]),
        None,
    ))
}

pub(super) async fn attempts(
    State(state): State<AppState>,
    _admin: Admin,
    Path((id, invocation_id)): Path<(String, String)>,
) -> Result<Response, HookError> {
    webhook_exists(&state, &id)?;
    let deliveries = lock(&state.deliveries).list(Some(&id), 0);
    let d = deliveries
        .iter()
        .find(|d| d.invocation_id == invocation_id)
        .ok_or_else(|| not_found("invocation", &invocation_id))?;
    let list: Vec<Value> = d
        .attempts
        .iter()
        .map(|a| {
            let completed = a.at
                + chrono::Duration::milliseconds(i64::try_from(a.duration_ms).unwrap_or(i64::MAX));
            json!({
                "id": format!("{}-{}", d.invocation_id, a.attempt),
                "invocation_id": d.invocation_id,
                "status": a.outcome,
                "response_code": a.status,
                "response_body": a.response_body,
                "error": a.error,
                "created_at": render::timestamp(a.at),
                "completed_at": render::timestamp(completed),
            })
        })
        .collect();
    Ok(respond(StatusCode::OK, json!({"attempts": list}), None))
}

pub(super) async fn list_deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Response, ApiError> {
    let since = match params.get("since") {
        Some(v) => v.parse().map_err(|_| {
            ApiError::BadRequest(format!("since must be a sequence number, got {v:?}"))
        })?,
        None => 0,
    };
    let deliveries = lock(&state.deliveries).list(params.get("webhook_id"), since);
    Ok(respond(
        StatusCode::OK,
        json!({"deliveries": deliveries}),
        None,
    ))
}

pub(super) async fn clear_deliveries(State(state): State<AppState>, _admin: Admin) -> Response {
    lock(&state.deliveries).clear();
    respond(StatusCode::OK, json!({"deliveries": []}), None)
}
