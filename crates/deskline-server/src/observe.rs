//! Health and metrics: `/healthz` (the process answers), `/readyz` (the store can take a
//! write now: a database locked by another writer is reported while it lasts) and
//! `/metrics` (Prometheus text, behind the admin token).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::auth::check_admin;
use crate::state::AppState;
use crate::telemetry::metrics_handle;

/// Health and metrics routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.store.health().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "store is not healthy");
            let problem = e.outage().unwrap_or_else(|| e.to_string());
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "storage": "unavailable",
                    "message": format!("storage: {problem}"),
                })),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = check_admin(&headers, &state.admin_token) {
        return e.into_response();
    }
    if let Ok(counts) = state.store.count_jobs_by_state().await {
        for (job_state, n) in counts {
            metrics::gauge!("deskline_jobs", "state" => job_state.as_str()).set(n as f64);
        }
    }
    match metrics_handle() {
        Some(h) => h.render().into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}
