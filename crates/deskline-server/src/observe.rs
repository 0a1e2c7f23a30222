//! Health and metrics: `/healthz` (the process answers), `/readyz` (the store answers) and
//! `/metrics` (Prometheus text, behind the admin token).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::auth::check_admin;
use crate::state::AppState;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once; later calls reuse it (tests start several
/// services in one process).
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|_| handle)
        })
        .as_ref()
}

/// What made deskline create a ticket: the `origin` label of `deskline_tickets_created_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketOrigin {
    /// A call (its end, or its ringing when the source opens tickets on ring).
    Call,
    /// An AI or chat handoff.
    Handoff,
}

impl TicketOrigin {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketOrigin::Call => "call",
            TicketOrigin::Handoff => "handoff",
        }
    }
}

/// Counts a ticket deskline created in Zendesk (not one it added to or found again).
pub fn ticket_created(source: &str, origin: TicketOrigin) {
    metrics::counter!("deskline_tickets_created_total",
        "source" => source.to_string(), "origin" => origin.as_str())
    .increment(1);
}

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
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "message": "the store does not answer"})),
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
