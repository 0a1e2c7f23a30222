//! Sandbox-only controls under `/sandbox/`: health, faults, limits, the request log and the
//! webhook delivery log. All but health need the admin's credentials.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::{parse_json, respond};
use crate::app::{lock, AppState};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::faults::FaultSettings;
use crate::params::Params;

/// Sandbox control endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sandbox/health", get(health))
        .route("/sandbox/info", get(info))
        .route(
            "/sandbox/faults",
            get(show_faults).put(set_faults).delete(clear_faults),
        )
        .route("/sandbox/limits", put(set_limits))
        .route(
            "/sandbox/requests",
            get(list_requests).delete(clear_requests),
        )
}

async fn health() -> Response {
    respond(StatusCode::OK, json!({"status": "ok"}), None)
}

async fn info(State(state): State<AppState>, _admin: Admin) -> Response {
    let account = state.lock_account();
    respond(
        StatusCode::OK,
        json!({
            "base_url": state.base_url,
            "subdomain": state.config.subdomain,
            "account_id": state.config.account_id,
            "admin_email": state.config.admin_email,
            "plan": state.config.plan.name(),
            "rate_limit_per_window": state.limits.account.limit(),
            "rate_window_seconds": state.config.rate_window.as_secs_f64(),
            "idempotency_ttl_seconds": state.config.idempotency_ttl.as_secs_f64(),
            "search_index_delay_seconds": state.config.search_index_delay.as_secs_f64(),
            "counts": {
                "tickets": account.tickets.len(),
                "users": account.users.len(),
                "groups": account.groups.len(),
                "ticket_fields": account.ticket_fields.len(),
                "webhooks": account.webhooks.len(),
                "triggers": account.triggers.len(),
            }
        }),
        None,
    )
}

async fn show_faults(State(state): State<AppState>, _admin: Admin) -> Response {
    let report = state.faults.report(Instant::now());
    respond(StatusCode::OK, json!({"faults": report}), None)
}

async fn set_faults(
    State(state): State<AppState>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(&body)?;
    let settings: FaultSettings = serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("fault settings: {e}")))?;
    settings.validate().map_err(ApiError::BadRequest)?;
    let now = Instant::now();
    state.faults.apply(settings, now);
    Ok(respond(
        StatusCode::OK,
        json!({"faults": state.faults.report(now)}),
        None,
    ))
}

async fn clear_faults(State(state): State<AppState>, _admin: Admin) -> Response {
    state.faults.clear();
    respond(
        StatusCode::OK,
        json!({"faults": state.faults.report(Instant::now())}),
        None,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    rate_limit_per_minute: u32,
}

async fn set_limits(
    State(state): State<AppState>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(&body)?;
    let limits: LimitsBody =
        serde_json::from_value(value).map_err(|e| ApiError::BadRequest(format!("limits: {e}")))?;
    if limits.rate_limit_per_minute == 0 {
        return Err(ApiError::BadRequest(
            "rate_limit_per_minute must be at least 1".into(),
        ));
    }
    state.limits.account.set_limit(limits.rate_limit_per_minute);
    Ok(respond(
        StatusCode::OK,
        json!({"rate_limit_per_minute": limits.rate_limit_per_minute}),
        None,
    ))
}

async fn list_requests(
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
    let entries = lock(&state.request_log).since(since);
    Ok(respond(StatusCode::OK, json!({"requests": entries}), None))
}

async fn clear_requests(State(state): State<AppState>, _admin: Admin) -> Response {
    lock(&state.request_log).clear();
    respond(StatusCode::OK, json!({"requests": []}), None)
}
