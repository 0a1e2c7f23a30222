//! `/admin/*`: inspect and steer the queue, the events, the directory and agent mismatches.
//! Every route needs `Authorization: Bearer <admin token>`.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use deskline_store::{EventId, JobFilter, JobId, JobState};
use serde::Deserialize;
use serde_json::json;

use crate::auth::check_admin;
use crate::http_error::HttpError;
use crate::state::AppState;
use crate::worker::call_ticket::{call_link_key, CALL_TICKET_LINK};
use crate::worker::directory::sync_directory;

/// The admin routes, behind the admin token.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/jobs", get(list_jobs))
        .route("/admin/jobs/{id}", get(show_job))
        .route("/admin/jobs/{id}/retry", post(retry_job))
        .route("/admin/jobs/{id}/cancel", post(cancel_job))
        .route("/admin/events/{id}", get(show_event))
        .route("/admin/calls/{source}/{call_id}", get(show_call))
        .route(
            "/admin/conversations/{source}/{session_id}",
            get(show_conversation),
        )
        .route(
            "/admin/tickets/{ticket_id}/conversations",
            get(ticket_conversations),
        )
        .route("/admin/agents/mismatches", get(mismatches))
        .route("/admin/directory", get(directory_status))
        .route("/admin/directory/sync", post(sync_now))
        .route("/admin/queue", get(queue_status))
        .route("/admin/status", get(service_status))
        .route_layer(middleware::from_fn_with_state(state, require_admin))
}

/// One conversation as stored: its channel, contact, ticket and reply state.
async fn show_conversation(
    State(state): State<AppState>,
    Path((source, session_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let conversation = state
        .store
        .get_conversation(&source, &session_id)
        .await
        .map_err(storage)?;
    let Some(conversation) = conversation else {
        known_source(&state, &source)?;
        return Err(HttpError::not_found(
            "unknown_conversation",
            format!("no conversation {session_id:?} from source {source:?}"),
        ));
    };
    Ok(Json(json!({ "conversation": conversation })))
}

/// Refuses a source that is not configured, so a typo is not answered like a call or session
/// that simply has nothing yet. Checked only when the store holds nothing: what a source
/// removed from the configuration left behind can still be inspected.
fn known_source(state: &AppState, source: &str) -> Result<(), HttpError> {
    if state.sources.contains_key(source) {
        return Ok(());
    }
    Err(HttpError::not_found(
        "unknown_source",
        format!("no source named {source:?} is configured"),
    ))
}

/// The conversations on a Zendesk ticket, most recently changed first (the first one is
/// where agents' replies go).
async fn ticket_conversations(
    State(state): State<AppState>,
    Path(ticket_id): Path<u64>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let conversations = state
        .store
        .conversations_for_ticket(ticket_id)
        .await
        .map_err(storage)?;
    Ok(Json(json!({ "conversations": conversations })))
}

async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check_admin(req.headers(), &state.admin_token) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn storage(e: deskline_store::StoreError) -> HttpError {
    HttpError::storage(&e)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobQuery {
    state: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
    after_id: Option<i64>,
}

async fn list_jobs(
    State(state): State<AppState>,
    Query(q): Query<JobQuery>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let job_state = q
        .state
        .as_deref()
        .map(str::parse::<JobState>)
        .transpose()
        .map_err(|e| {
            HttpError::bad_request(
                "invalid_state",
                format!(
                    "{e}; use available, running, retryable, completed, discarded or cancelled"
                ),
            )
        })?;
    let filter = JobFilter {
        state: job_state,
        kind: q.kind,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        after_id: q.after_id.map(JobId),
        ..JobFilter::default()
    };
    let jobs = state.store.list_jobs(&filter).await.map_err(storage)?;
    Ok(Json(json!({ "jobs": jobs })))
}

fn parse_id(raw: &str, what: &'static str) -> Result<i64, HttpError> {
    raw.parse()
        .map_err(|_| HttpError::bad_request("invalid_id", format!("{raw:?} is not a {what} id")))
}

async fn show_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let id = JobId(parse_id(&id, "job")?);
    let detail = state
        .store
        .get_job(id)
        .await
        .map_err(storage)?
        .ok_or_else(|| HttpError::not_found("unknown_job", format!("no job {id}")))?;
    Ok(Json(json!({ "job": detail })))
}

/// The two things an operator can do to a job.
#[derive(Clone, Copy)]
enum JobAction {
    Retry,
    Cancel,
}

async fn act_on_job(
    state: &AppState,
    raw_id: &str,
    action: JobAction,
) -> Result<Response, HttpError> {
    let id = JobId(parse_id(raw_id, "job")?);
    let now = state.clock.now();
    let (done, status) = match action {
        JobAction::Retry => (state.store.retry_now(id, now).await, "available"),
        JobAction::Cancel => (state.store.cancel(id, now).await, "cancelled"),
    };
    done.map_err(|e| job_action_error(id, status, e))?;
    Ok((
        StatusCode::OK,
        Json(json!({"status": status, "job_id": id})),
    )
        .into_response())
}

async fn retry_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    act_on_job(&state, &id, JobAction::Retry).await
}

async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    act_on_job(&state, &id, JobAction::Cancel).await
}

fn job_action_error(id: JobId, action: &str, e: deskline_store::StoreError) -> HttpError {
    use deskline_store::StoreError as E;
    match e {
        E::NotFound { .. } => HttpError::not_found("unknown_job", format!("no job {id}")),
        E::InvalidState { .. } => HttpError::new(
            StatusCode::CONFLICT,
            "invalid_transition",
            format!("job {id} cannot be made {action} now: {e}"),
        ),
        other => storage(other),
    }
}

async fn show_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let id = EventId(parse_id(&id, "event")?);
    let event = state
        .store
        .get_event(id)
        .await
        .map_err(storage)?
        .ok_or_else(|| HttpError::not_found("unknown_event", format!("no event {id}")))?;
    let jobs = state.store.jobs_for_event(id).await.map_err(storage)?;
    Ok(Json(json!({
        "event": {
            "id": event.id,
            "source": event.source,
            "kind": event.kind,
            "dedupe_key": event.dedupe_key,
            "received_at": event.received_at,
            "headers": event.headers,
            "raw_body": String::from_utf8_lossy(&event.raw_body),
            "normalized": event.normalized,
        },
        "jobs": jobs,
    })))
}

/// The ticket a call became, with the Zendesk ticket itself when it exists.
async fn show_call(
    State(state): State<AppState>,
    Path((source, call_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let link = state
        .store
        .get_link(CALL_TICKET_LINK, &call_link_key(&source, &call_id))
        .await
        .map_err(storage)?;
    let Some(link) = link else {
        known_source(&state, &source)?;
        return Ok(Json(
            json!({"source": source, "call_id": call_id, "ticket_id": null}),
        ));
    };
    let ticket_id: u64 = link.value.parse().unwrap_or_default();
    let ticket = match state.zendesk.show_ticket(ticket_id).await {
        Ok(t) => serde_json::to_value(t).unwrap_or_default(),
        Err(e) => json!({"error": e.to_string()}),
    };
    // Names from the synced directory, so the command line can show people, not only ids.
    let id = |key: &str| ticket[key].as_u64().and_then(|v| i64::try_from(v).ok());
    let assignee = match id("assignee_id") {
        Some(a) => state.store.agent_by_zendesk_id(a).await.ok().flatten(),
        None => None,
    };
    let group = match id("group_id") {
        Some(g) => state.store.group_by_id(g).await.ok().flatten(),
        None => None,
    };
    Ok(Json(json!({
        "source": source, "call_id": call_id, "ticket_id": ticket_id, "ticket": ticket,
        "assignee": assignee.map(|a| json!({"name": a.name, "email": a.email})),
        "group": group.map(|g| json!({"name": g.name})),
    })))
}

async fn mismatches(State(state): State<AppState>) -> Result<Json<serde_json::Value>, HttpError> {
    let list = state.store.list_agent_mismatches().await.map_err(storage)?;
    Ok(Json(json!({ "mismatches": list })))
}

async fn directory_status(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let status = state.store.directory_status().await.map_err(storage)?;
    Ok(Json(json!({ "directory": status })))
}

async fn sync_now(State(state): State<AppState>) -> Result<Json<serde_json::Value>, HttpError> {
    let replaced = sync_directory(&state)
        .await
        .map_err(|e| HttpError::new(StatusCode::BAD_GATEWAY, "sync_failed", e.to_string()))?;
    Ok(Json(json!({ "synced": replaced })))
}

/// What `/readyz` reports, with job counts: what `deskline status` shows.
async fn service_status(
    State(state): State<AppState>,
) -> Json<crate::health::report::StatusReport> {
    Json(crate::health::report::build(&state, state.zendesk_address_key, true).await)
}

async fn queue_status(State(state): State<AppState>) -> Result<Json<serde_json::Value>, HttpError> {
    let counts = state.store.count_jobs_by_state().await.map_err(storage)?;
    let paused = state
        .store
        .queue_paused_until(crate::worker::call_ticket::ZENDESK_QUEUE, state.clock.now())
        .await
        .map_err(storage)?;
    let b = state.zendesk.budget().snapshot();
    let budget = json!({
        "limit": b.limit,
        "remaining": b.remaining,
        "reset_seconds": b.reset.map(|d| d.as_secs()),
        "reserve_pauses": b.reserve_pauses,
        "rate_limited": b.rate_limited,
    });
    Ok(Json(
        json!({ "jobs_by_state": counts, "paused": paused, "zendesk_budget": budget }),
    ))
}
