//! Handoffs at `POST /hooks/{source}` for sources of kind `handoff`: the same rules as calls
//! (the source's secret, a size-limited body, stored with its job in one transaction before
//! the answer, redeliveries recognised), with the body read by `deskline_core::handoff`.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use deskline_core::handoff::{self, Handoff, HandoffMode};
use deskline_core::phone::PartyNumber;
use deskline_core::sources::Inbound;
use deskline_store::{Ingested, NewInboundEvent, NewJob};
use serde_json::{json, Value};

use crate::auth::check_source_secret;
use crate::http_error::HttpError;
use crate::state::{AppState, Source};
use crate::worker::call_ticket::ZENDESK_QUEUE;
use crate::worker::handoff_ticket::{HandoffTicketArgs, HANDOFF_TICKET_JOB};

/// The key that serialises one contact's handoffs, so two sessions of one contact arriving
/// together cannot both open a ticket: the email, else the number, else the platform's id.
pub fn contact_ordering_key(source: &str, h: &Handoff) -> String {
    let who = match (&h.contact.email, &h.contact.phone, &h.contact.external_id) {
        (Some(email), _, _) => format!("email:{email}"),
        (None, PartyNumber::Known { phone }, _) => format!("phone:{}", phone.as_str()),
        (None, _, Some(id)) => format!("external:{source}:{id}"),
        _ => format!("session:{source}:{}", h.session_id),
    };
    format!("handoff:{who}")
}

/// Authenticates, parses and stores one handoff with its ticket job.
pub(crate) async fn receive(
    state: &AppState,
    name: &str,
    source: &Source,
    headers: &HeaderMap,
    kept_headers: Value,
    inbound: &Inbound<'_>,
) -> Result<Response, HttpError> {
    check_source_secret(headers, &source.config.secret_header, &source.secret)?;
    let handoff = handoff::parse(inbound, &source.config.phones)
        .map_err(|e| HttpError::bad_request("invalid_payload", e.to_string()))?;
    let dedupe_key = handoff::dedupe_key(&handoff);
    let kind = match handoff.mode {
        HandoffMode::HandedOff => "handoff.handed_off",
        HandoffMode::Resolved => "handoff.resolved",
    };
    let now = state.clock.now();
    let args = HandoffTicketArgs {
        source: name.to_string(),
        session_id: handoff.session_id.clone(),
    };
    let job = NewJob::new(HANDOFF_TICKET_JOB, ZENDESK_QUEUE, json!(args), now)
        .max_attempts(state.worker.max_attempts)
        .unique_key(format!("{HANDOFF_TICKET_JOB}:{name}:{dedupe_key}"))
        .ordering_key(contact_ordering_key(name, &handoff));
    let normalized = serde_json::to_value(&handoff).map_err(|e| {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    })?;
    let event = NewInboundEvent {
        source: name.to_string(),
        kind: kind.to_string(),
        dedupe_key,
        received_at: now,
        headers: kept_headers,
        raw_body: inbound.body.to_vec(),
        normalized,
    };
    let outcome = crate::ingress::store_event(state, event, vec![job]).await?;
    let duplicate = matches!(outcome, Ingested::Duplicate { .. });
    let (status, word) = if duplicate {
        (StatusCode::OK, "duplicate")
    } else {
        (StatusCode::ACCEPTED, "accepted")
    };
    Ok((
        status,
        Json(json!({
            "status": word,
            "event_id": outcome.event_id(),
            "kind": kind,
            "session_id": handoff.session_id,
        })),
    )
        .into_response())
}
