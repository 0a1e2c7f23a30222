//! `POST /hooks/{source}` (and `GET`, for providers such as Exotel's Passthru applet):
//! authenticate, parse, normalise, and store each event with its job in one transaction before
//! answering. A redelivered event is answered 2xx without new work.

use axum::body::{to_bytes, Body};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use deskline_core::event::{CallEvent, ParsedEvent};
use deskline_core::sources::{aircall, exotel, generic, myoperator, twilio, Inbound, SourceError};
use deskline_store::{Ingested, NewInboundEvent, NewJob};
use serde_json::{json, Map, Value};

use crate::auth::{check_source_before_body, BodyProof};
use crate::config::{ResolvedSource, SourceKind};
use crate::http_error::HttpError;
use crate::state::{AppState, Source};
use crate::worker::call_ticket::{CallTicketArgs, CALL_TICKET_JOB, ZENDESK_QUEUE};

/// The ingress routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/hooks/{source}", post(receive).get(receive))
}

/// Headers worth keeping with the raw event; credentials are never stored.
fn kept_headers(headers: &HeaderMap, secret_header: &str) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let n = name.as_str();
        if n == "authorization"
            || n.eq_ignore_ascii_case(secret_header)
            || n == "cookie"
            || n == "x-twilio-signature"
        {
            continue;
        }
        if let Ok(v) = value.to_str() {
            out.insert(n.to_string(), Value::String(v.to_string()));
        }
    }
    Value::Object(out)
}

/// Reads a request body up to `limit` bytes; larger bodies (declared or sent) are a 413, and
/// one that does not arrive within the body read timeout a 408.
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
    headers: &HeaderMap,
) -> Result<Vec<u8>, HttpError> {
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
        .map_err(|e| match crate::listener::body_timed_out(&e) {
            Some(late) => HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                late.to_string(),
            ),
            None => too_large(),
        })
}

/// Stores an event with its jobs (one transaction, shared with concurrent deliveries), counts
/// it, and wakes the workers of the queues it added jobs to. Every inbound route stores through
/// here. When the database cannot take it, the answer is 503 with `Retry-After`, naming why.
pub(crate) async fn store_event(
    state: &AppState,
    event: NewInboundEvent,
    jobs: Vec<NewJob>,
) -> Result<Ingested, HttpError> {
    let source = event.source.clone();
    let mut queues: Vec<String> = jobs.iter().map(|j| j.queue.clone()).collect();
    queues.dedup();
    let outcome = state.ingest.ingest(event, jobs).await.map_err(|e| {
        let mut answer = HttpError::storage(&e);
        answer.message = format!("the event was not stored: {}", answer.message);
        answer
    })?;
    let duplicate = matches!(outcome, Ingested::Duplicate { .. });
    if !duplicate {
        for queue in &queues {
            state.queue_signals.notify(queue);
        }
    }
    metrics::counter!("deskline_events_received_total", "source" => source,
        "outcome" => if duplicate { "duplicate" } else { "stored" })
    .increment(1);
    Ok(outcome)
}

/// The URL the provider called, as it saw it: the configured public URL with this request's
/// path and query (signatures such as Twilio's cover the full URL).
fn public_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match &state.public_url {
        Some(base) => format!("{base}{path}"),
        None => {
            let host = headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}{path}")
        }
    }
}

fn unauthorized(e: deskline_core::sources::VerifyError) -> HttpError {
    HttpError::unauthorized(format!("the request's {e}"))
}

/// Finishes authenticating the request the provider's way (the proofs in the body; the
/// others were checked before it was read) and parses its events.
fn verify_and_parse(source: &Source, inbound: &Inbound<'_>) -> Result<Vec<ParsedEvent>, HttpError> {
    let secret = source.secret.as_str();
    match source.config.kind {
        SourceKind::Twilio => twilio::verify(inbound, secret).map_err(unauthorized)?,
        SourceKind::Aircall => aircall::verify(inbound, secret).map_err(unauthorized)?,
        // Checked by `check_source_before_body`.
        SourceKind::Myoperator | SourceKind::Generic | SourceKind::Exotel | SourceKind::Handoff => {
        }
    }
    parse_events(&source.config, inbound)
        .map_err(|e| HttpError::bad_request("invalid_payload", e.to_string()))
}

/// Parses a request's events with the source's adapter (no authentication: callers check it).
pub fn parse_events(
    source: &ResolvedSource,
    inbound: &Inbound<'_>,
) -> Result<Vec<ParsedEvent>, SourceError> {
    let phones = &source.phones;
    match source.kind {
        SourceKind::Myoperator => myoperator::parse(inbound, phones),
        SourceKind::Twilio => twilio::parse(inbound, phones),
        SourceKind::Aircall => aircall::parse(inbound, phones),
        SourceKind::Exotel => {
            let settings = exotel::ExotelSettings {
                time_zone: source.plan.time_zone,
            };
            exotel::parse(inbound, phones, &settings)
        }
        SourceKind::Generic => match &source.mapping {
            Some(mapping) => generic::parse(inbound, phones, mapping),
            None => Ok(Vec::new()),
        },
        // Handoffs are not calls; they have their own path (`handoff_hook`).
        SourceKind::Handoff => Err(SourceError::Shape(
            "a handoff source receives handoffs, not call events".to_string(),
        )),
    }
}

/// The body to store for a verified request: each adapter takes out the credentials its
/// provider puts in the body, as [`kept_headers`] does for headers.
fn stored_body(kind: SourceKind, body: &[u8]) -> Vec<u8> {
    match kind {
        // The envelope's `token` is the webhook's proof of origin.
        SourceKind::Aircall => aircall::stored_body(body),
        // Credentials in headers (the secret header, Basic auth, Twilio's signature, all left
        // out of the stored headers) or in the URL's query (Exotel's `secret`; the URL is not
        // stored, and a GET applet's parameters are only in it): none in the body.
        SourceKind::Myoperator
        | SourceKind::Twilio
        | SourceKind::Exotel
        | SourceKind::Generic
        | SourceKind::Handoff => body.to_vec(),
    }
}

/// The job for one event. Events of a call run in order (ordering key), except dispositions,
/// which wait for the call's ticket on their own and must not hold the call's queue.
fn job_for(state: &AppState, source: &str, event: &CallEvent, dedupe_key: &str) -> NewJob {
    let args = CallTicketArgs {
        source: source.to_string(),
        call_id: event.call_id().to_string(),
        event: Some(event.kind().to_string()),
    };
    let job = NewJob::new(
        CALL_TICKET_JOB,
        ZENDESK_QUEUE,
        json!(args),
        state.clock.now(),
    )
    .max_attempts(state.worker.max_attempts)
    .unique_key(format!("{CALL_TICKET_JOB}:{source}:{dedupe_key}"));
    match event {
        CallEvent::Disposition(_) => job,
        _ => job.ordering_key(format!("call:{source}:{}", event.call_id())),
    }
}

async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let source: &Source = state.sources.get(&name).ok_or_else(|| {
        HttpError::not_found(
            "unknown_source",
            format!("no source named {name:?} is configured"),
        )
    })?;
    let url = public_url(&state, &headers, &uri);
    // Whatever can be checked before the body is, so a wrong secret costs no body read.
    let limit = match check_source_before_body(source, &headers, &url)? {
        BodyProof::NotNeeded => state.max_body_bytes,
        BodyProof::Pending => state.signed_max_body_bytes,
    };
    let raw = read_body(body, limit, &headers).await?;
    let header_list: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let inbound = Inbound {
        body: &raw,
        headers: &header_list,
        url: &url,
    };
    if source.config.kind == SourceKind::Handoff {
        let kept = kept_headers(&headers, &source.config.secret_header);
        return crate::handoff_hook::receive(&state, &name, source, &headers, kept, &inbound).await;
    }
    let events = verify_and_parse(source, &inbound)?;
    if events.is_empty() {
        // Events deskline has no use for (ringing on one agent, recordings, chat): answered 2xx
        // so the provider does not retry, and nothing is stored.
        return Ok((StatusCode::OK, Json(json!({"status": "ignored"}))).into_response());
    }
    // Verified and parsed: the body's credentials have done their work.
    let raw = stored_body(source.config.kind, &raw);
    let now = state.clock.now();
    let mut results = Vec::new();
    let mut any_new = false;
    for parsed in events {
        let normalized = serde_json::to_value(&parsed.event).map_err(|e| {
            HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })?;
        let job = job_for(&state, &name, &parsed.event, &parsed.dedupe_key);
        let event = NewInboundEvent {
            source: name.clone(),
            kind: format!("call.{}", parsed.event.kind()),
            dedupe_key: parsed.dedupe_key.clone(),
            received_at: now,
            headers: kept_headers(&headers, &source.config.secret_header),
            raw_body: raw.clone(),
            normalized,
        };
        let outcome = store_event(&state, event, vec![job]).await?;
        let duplicate = matches!(outcome, Ingested::Duplicate { .. });
        any_new |= !duplicate;
        results.push(json!({
            "event_id": outcome.event_id(),
            "kind": parsed.event.kind(),
            "status": if duplicate { "duplicate" } else { "accepted" },
        }));
    }
    let (status, word) = if any_new {
        (StatusCode::ACCEPTED, "accepted")
    } else {
        (StatusCode::OK, "duplicate")
    };
    let event_id = results.first().map(|r| r["event_id"].clone());
    Ok((
        status,
        Json(json!({"status": word, "event_id": event_id, "events": results})),
    )
        .into_response())
}
