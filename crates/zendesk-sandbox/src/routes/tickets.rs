//! `/api/v2/tickets`, ticket comments and the Talk Partner Edition voice endpoint.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use super::{parse_json, respond, root};
use crate::app::{lock, AppState};
use crate::auth::Actor;
use crate::change::TicketChange;
use crate::error::ApiError;
use crate::idempotency::{self, Lookup, Remembered};
use crate::limits::Admission;
use crate::params::{page, Paging, Params};
use crate::tickets::{self as ops, Author, CreateContext};
use crate::{delivery, render, rules};

/// Ticket endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/tickets", post(create_ticket).get(list_tickets))
        .route("/api/v2/tickets/{id}", get(show_ticket).put(update_ticket))
        .route("/api/v2/tickets/{id}/comments", get(list_comments))
        .route("/api/v2/channels/voice/tickets", post(create_voice_ticket))
}

fn index_delay(state: &AppState) -> chrono::Duration {
    chrono::Duration::from_std(state.config.search_index_delay).unwrap_or_default()
}

/// Runs business rules for a change and renders the answer, all under one lock; the webhook
/// requests are sent after the lock is released.
fn finish_change(
    state: &AppState,
    change: Result<TicketChange, ApiError>,
    account: &mut crate::model::Account,
) -> Result<(Value, u64), ApiError> {
    let change = change?;
    let outbound =
        rules::after_ticket_change(account, &state.base_url, state.config.account_id, &change);
    let audit = ops::audit(account, &change);
    let ticket = account
        .tickets
        .get(&change.ticket_id)
        .map(|t| render::ticket(&state.base_url, t))
        .ok_or(ApiError::NotFound("ticket"))?;
    delivery::dispatch(state, outbound);
    Ok((json!({"ticket": ticket, "audit": audit}), change.ticket_id))
}

fn create_in_account(
    state: &AppState,
    actor: &Actor,
    body: &Value,
    voice_endpoint: bool,
) -> Result<(Value, u64), ApiError> {
    let ticket = root(body, "ticket")?;
    let ctx = CreateContext {
        author: Author {
            user_id: actor.user_id,
            via_id: actor.via_id,
        },
        now: Utc::now(),
        index_delay: index_delay(state),
    };
    let mut account = state.change_account();
    if voice_endpoint {
        if let Some(agent) = body.get("display_to_agent").filter(|v| !v.is_null()) {
            let ok = agent
                .as_u64()
                .and_then(|id| account.users.get(&id))
                .is_some_and(|u| u.role.is_staff());
            if !ok {
                return Err(ApiError::Unprocessable(format!(
                    "display_to_agent: {agent} is not a valid agent id"
                )));
            }
        }
    }
    let change = ops::create(&mut account, ticket, &ctx, voice_endpoint);
    finish_change(state, change, &mut account)
}

fn created(state: &AppState, body: Value, id: u64) -> Response {
    respond(
        StatusCode::CREATED,
        body,
        Some(state.url_for("tickets", id)),
    )
}

async fn create_ticket(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(&body)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        let (out, id) = create_in_account(&state, &actor, &value, false)?;
        return Ok(created(&state, out, id));
    };
    if key.len() > 255 {
        return Err(ApiError::BadRequest(
            "Idempotency-Key must be at most 255 characters".into(),
        ));
    }
    let digest = idempotency::digest(&body);
    let now = Instant::now();
    // The cache stays locked through the create, so two requests racing with one key still
    // make one ticket.
    let mut cache = lock(&state.idempotency);
    match cache.lookup(key, &digest, state.config.idempotency_ttl, now) {
        Lookup::Hit(remembered) => {
            let status = StatusCode::from_u16(remembered.status).unwrap_or(StatusCode::CREATED);
            let body: Value = serde_json::from_slice(&remembered.response).unwrap_or(Value::Null);
            let location = body
                .pointer("/ticket/id")
                .and_then(Value::as_u64)
                .map(|id| state.url_for("tickets", id));
            let mut response = respond(status, body, location);
            response
                .headers_mut()
                .insert("x-idempotency-lookup", HeaderValue::from_static("hit"));
            Ok(response)
        }
        Lookup::Mismatch => Err(ApiError::IdempotencyMismatch),
        Lookup::Miss => {
            let (out, id) = create_in_account(&state, &actor, &value, false)?;
            cache.remember(
                key.to_string(),
                Remembered {
                    body_digest: digest,
                    status: StatusCode::CREATED.as_u16(),
                    response: serde_json::to_vec(&out).unwrap_or_default(),
                    stored_at: now,
                },
            );
            drop(cache);
            let mut response = created(&state, out, id);
            response
                .headers_mut()
                .insert("x-idempotency-lookup", HeaderValue::from_static("miss"));
            Ok(response)
        }
    }
}

async fn create_voice_ticket(
    State(state): State<AppState>,
    actor: Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(&body)?;
    let (out, id) = create_in_account(&state, &actor, &value, true)?;
    Ok(created(&state, out, id))
}

fn ticket_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound("ticket"))
}

async fn show_ticket(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = ticket_id(&id)?;
    let account = state.lock_account();
    let t = account
        .tickets
        .get(&id)
        .ok_or(ApiError::NotFound("ticket"))?;
    Ok(respond(
        StatusCode::OK,
        json!({"ticket": render::ticket(&state.base_url, t)}),
        None,
    ))
}

async fn list_tickets(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    let paging = Paging::from_params(&params)?;
    let external_id = params.get("external_id");
    let account = state.lock_account();
    let items: Vec<(u64, Value)> = account
        .tickets
        .values()
        .filter(|t| external_id.is_none_or(|e| t.external_id.as_deref() == Some(e)))
        .map(|t| (t.id, render::ticket(&state.base_url, t)))
        .collect();
    let keep: Vec<(String, String)> = external_id
        .map(|e| vec![("external_id".to_string(), e.to_string())])
        .unwrap_or_default();
    let list_url = format!("{}/api/v2/tickets.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("tickets", items, paging, &list_url, &keep),
        None,
    ))
}

fn check_update_limits(state: &AppState, actor: &Actor, id: u64) -> Result<(), ApiError> {
    let now = Instant::now();
    if let Admission::Refused { retry_after } = state
        .limits
        .ticket_updates_per_ticket
        .admit((actor.user_id, id), now)
    {
        return Err(ApiError::RateLimited {
            retry_after,
            description: "Rate limit for ticket updates exceeded, please wait before updating this ticket again".into(),
        });
    }
    if let Admission::Refused { retry_after } = state.limits.ticket_updates.admit((), now) {
        return Err(ApiError::RateLimited {
            retry_after,
            description: "Rate limit for ticket updates across the account exceeded".into(),
        });
    }
    Ok(())
}

async fn update_ticket(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = ticket_id(&id)?;
    let value = parse_json(&body)?;
    let ticket = root(&value, "ticket")?;
    if !state.lock_account().tickets.contains_key(&id) {
        return Err(ApiError::NotFound("ticket"));
    }
    check_update_limits(&state, &actor, id)?;
    let author = Author {
        user_id: actor.user_id,
        via_id: actor.via_id,
    };
    let mut account = state.change_account();
    let change = ops::update(&mut account, id, ticket, author, Utc::now());
    let (out, _) = finish_change(&state, change, &mut account)?;
    Ok(respond(StatusCode::OK, out, None))
}

async fn list_comments(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = ticket_id(&id)?;
    let paging = Paging::from_params(&params)?;
    let descending = matches!(params.get("sort"), Some("-created_at"))
        || matches!(params.get("sort_order"), Some("desc"));
    let account = state.lock_account();
    let t = account
        .tickets
        .get(&id)
        .ok_or(ApiError::NotFound("ticket"))?;
    // Cursors are opaque, so newest-first paging keys each comment by its id mirrored; the
    // cursor paging code then only ever walks ascending keys.
    let items: Vec<(u64, Value)> = if descending {
        t.comments
            .iter()
            .rev()
            .map(|c| (u64::MAX - c.id, render::comment(c)))
            .collect()
    } else {
        t.comments
            .iter()
            .map(|c| (c.id, render::comment(c)))
            .collect()
    };
    let keep: Vec<(String, String)> = if descending {
        vec![("sort".to_string(), "-created_at".to_string())]
    } else {
        Vec::new()
    };
    let list_url = format!("{}/api/v2/tickets/{id}/comments.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("comments", items, paging, &list_url, &keep),
        None,
    ))
}
