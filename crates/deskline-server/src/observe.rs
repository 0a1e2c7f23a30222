//! Health and metrics: `/healthz` (the process answers), `/readyz` (calls are accepted, and
//! whether they can become tickets, with each problem's key and fix) and `/metrics`
//! (Prometheus text, behind the admin token).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::auth::check_admin;
use crate::health::report::{self, Overall};
use crate::state::AppState;
use crate::telemetry::metrics_handle;

/// Health and metrics routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
}

/// 200 while calls are accepted, even when the helpdesk is out or misconfigured (the body's
/// `status` says `degraded` and lists the problems): a load balancer that took deskline out of
/// rotation then would turn a helpdesk incident into lost calls. 503 only when the store does
/// not answer, since nothing can be acknowledged then.
async fn ready(State(state): State<AppState>) -> Response {
    let report = report::build(&state, state.zendesk_address_key, false).await;
    let status = if report.status == Overall::Unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report)).into_response()
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
