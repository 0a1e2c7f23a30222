//! `POST /zendesk/webhook`: Zendesk's own webhooks (trigger payloads and event-subscription
//! envelopes). Every request is verified as Zendesk signs it (HMAC-SHA256 of the timestamp
//! followed by the raw body, base64), in constant time and within a bounded clock skew, and is
//! refused outright when no signing secret is known. A verified event is stored durably, and
//! deduplicated, before the answer.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use deskline_store::{Ingested, NewInboundEvent, NewJob, Store, StoreError};
use deskline_zendesk::signature::verify;
use deskline_zendesk::Secret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::secrets_equal;
use crate::http_error::HttpError;
use crate::state::AppState;
use crate::worker::voice_correlation::may_be_voice_ticket;

/// The source name Zendesk's events are stored under.
pub const ZENDESK_SOURCE: &str = "zendesk";
/// Link kind and key of the signing secret of the trigger-connected webhook, stored by
/// provisioning.
pub const SIGNING_SECRET_LINK: (&str, &str) = ("zendesk_webhook", "signing_secret");
/// Link kind and key of the signing secret of the event-subscription webhook. Zendesk cannot
/// mix trigger-connected and event-subscription webhooks, and each webhook has its own secret,
/// so a provisioned account has two.
pub const EVENTS_SIGNING_SECRET_LINK: (&str, &str) = ("zendesk_webhook", "events_signing_secret");

/// The Zendesk webhook route.
pub fn router() -> Router<AppState> {
    Router::new().route("/zendesk/webhook", post(receive))
}

/// The signing secrets provisioning stored (the replies webhook's and the events webhook's),
/// blanks left out.
pub async fn provisioned_secrets(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    let mut secrets = Vec::new();
    for (kind, key) in [SIGNING_SECRET_LINK, EVENTS_SIGNING_SECRET_LINK] {
        let link = store.get_link(kind, key).await?;
        secrets.extend(link.map(|l| l.value).filter(|v| !v.trim().is_empty()));
    }
    Ok(secrets)
}

/// The secrets a delivery may be signed with: the configured one and every one provisioning
/// stored. The configured secret does not replace the stored ones: each provisioned webhook
/// signs with its own, and a 401 to one of them would lose agents' replies (Zendesk does not
/// retry a 4xx). Empty means no Zendesk webhook is accepted.
async fn signing_secrets(state: &AppState) -> Result<Vec<String>, HttpError> {
    let mut secrets: Vec<String> = state
        .zendesk_webhook_secret
        .iter()
        .map(|s| s.to_string())
        .collect();
    let stored = provisioned_secrets(state.store.as_ref())
        .await
        .map_err(|e| HttpError::storage(&e))?;
    for s in stored {
        if !secrets.contains(&s) {
            secrets.push(s);
        }
    }
    Ok(secrets)
}

/// Whether the configured secret is none of the provisioned ones, which start-up warns about:
/// both are accepted, and the operator should know a secret other than the provisioned
/// webhooks' opens the door too (a stale copy, or a webhook deskline did not make).
pub fn configured_secret_differs(configured: Option<&str>, provisioned: &[String]) -> bool {
    match configured {
        None => false,
        Some(c) => {
            !provisioned.is_empty()
                && !provisioned
                    .iter()
                    .any(|p| secrets_equal(p.as_bytes(), c.as_bytes()))
        }
    }
}

/// Warns (naming no secret) when `zendesk.webhook_secret` differs from the signing secrets
/// provisioning stored.
pub async fn warn_if_configured_secret_differs(state: &AppState) {
    let Some(configured) = state.zendesk_webhook_secret.as_deref() else {
        return;
    };
    match provisioned_secrets(state.store.as_ref()).await {
        Ok(provisioned) if configured_secret_differs(Some(configured), &provisioned) => {
            tracing::warn!(
                "zendesk.webhook_secret differs from the signing secrets `deskline zendesk provision` stored; \
                 Zendesk deliveries signed with any of them are accepted. Remove zendesk.webhook_secret \
                 unless a webhook deskline did not provision signs with it"
            );
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the provisioned Zendesk signing secrets to compare them with zendesk.webhook_secret");
        }
    }
}

/// The job that acts on Zendesk's ticket events and reply triggers (reply sync, conversation
/// state).
pub const ZENDESK_EVENT_JOB: &str = "zendesk_event";
/// The job that ties a ticket Zendesk created (a Talk voice ticket) to a phone session.
pub const VOICE_CORRELATION_JOB: &str = "voice_correlation";

/// The ticket an event is about: `ticket_id` in deskline's trigger body, `detail.id` (or the
/// `zen:ticket:<id>` subject) in an event envelope.
pub fn ticket_id_of(body: &Value) -> Option<u64> {
    let as_id = |v: &Value| match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    body.get("ticket_id")
        .and_then(as_id)
        .or_else(|| body.pointer("/detail/id").and_then(as_id))
        .or_else(|| {
            body.get("subject")
                .and_then(Value::as_str)
                .and_then(|s| s.strip_prefix("zen:ticket:"))
                .and_then(|s| s.parse().ok())
        })
}

/// The job for a stored Zendesk event, if deskline acts on its kind. Events of one ticket run
/// in order, so a reply and the ticket being solved are applied as they happened.
fn job_for(state: &AppState, kind: &str, dedupe_key: &str, body: &Value) -> Option<NewJob> {
    let ticket_id = ticket_id_of(body)?;
    let job_kind = match kind {
        // Only tickets that can be Talk voice tickets: the others' jobs would do nothing but
        // fill the job list and the log.
        "zendesk.ticket.created" if !may_be_voice_ticket(body) => return None,
        "zendesk.ticket.created" => VOICE_CORRELATION_JOB,
        "zendesk.trigger" | "zendesk.ticket.comment_added" | "zendesk.ticket.status_changed" => {
            ZENDESK_EVENT_JOB
        }
        _ => return None,
    };
    Some(
        NewJob::new(
            job_kind,
            crate::worker::call_ticket::ZENDESK_QUEUE,
            json!({"ticket_id": ticket_id, "kind": kind}),
            state.clock.now(),
        )
        .max_attempts(state.worker.max_attempts)
        .unique_key(format!("{job_kind}:{dedupe_key}"))
        .ordering_key(format!("zendesk-ticket:{ticket_id}")),
    )
}

/// The fields of deskline's own trigger body that cannot contain quotes (ids, the status
/// label, the event name), read from a body that is not valid JSON.
///
/// Zendesk does not document whether it JSON-escapes placeholder values; if a reply with a
/// quote or a line break arrives unescaped, refusing it would lose the reply (Zendesk does not
/// retry a 4xx). The signature is already verified, so the body is Zendesk's; deskline reads
/// the comment itself from Zendesk and needs only these fields. Public for the fuzz targets.
pub fn lenient_trigger_body(raw: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(raw).ok()?;
    let field = |name: &str| -> Option<String> {
        let start = text.find(&format!("\"{name}\":\""))? + name.len() + 4;
        let len = text[start..].find('"')?;
        Some(text[start..start + len].to_string())
    };
    let event = field("deskline_event")?;
    let ticket_id = field("ticket_id").filter(|t| t.parse::<u64>().is_ok())?;
    let mut out = serde_json::Map::new();
    out.insert("deskline_event".into(), json!(event));
    out.insert("ticket_id".into(), json!(ticket_id));
    if let Some(status) = field("status") {
        out.insert("status".into(), json!(status));
    }
    out.insert("recovered_from_invalid_json".into(), json!(true));
    Some(Value::Object(out))
}

/// What kind of Zendesk event a body is, and the key that recognises its redelivery: the
/// envelope's own `id` for event subscriptions; for trigger payloads, which carry no id, a
/// digest of the body (a retried delivery sends the same body under a new timestamp).
/// Public for the fuzz targets.
pub fn classify(body: &Value, raw: &[u8]) -> (String, String) {
    let event_type = body.get("type").and_then(Value::as_str);
    let id = body.get("id").and_then(Value::as_str);
    match (event_type, id) {
        // A blank id would make every such event a duplicate of the first.
        (Some(t), Some(id)) if t.starts_with("zen:event-type:") && !id.trim().is_empty() => (
            format!("zendesk.{}", t.trim_start_matches("zen:event-type:")),
            id.to_string(),
        ),
        _ => {
            let digest = Sha256::digest(raw);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            ("zendesk.trigger".to_string(), format!("body:{hex}"))
        }
    }
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let secrets = signing_secrets(&state).await?;
    if secrets.is_empty() {
        return Err(HttpError::unauthorized(
            "no Zendesk webhook signing secret is configured, so no Zendesk webhook is accepted: run `deskline zendesk provision` or set zendesk.webhook_secret",
        ));
    }
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| HttpError::unauthorized(format!("missing {name}")))
    };
    let timestamp = header("x-zendesk-webhook-signature-timestamp")?;
    let signature = header("x-zendesk-webhook-signature")?;
    // The signature covers the body, so the body is read before it is trusted: with the
    // tighter limit, and only once the request at least carries a signature.
    let raw = crate::ingress::read_body(body, state.signed_max_body_bytes, &headers).await?;
    // Every secret is tried (each comparison is constant-time), so the answer does not tell
    // which webhook's secret came close.
    let mut verified = Ok(());
    for (i, secret) in secrets.into_iter().enumerate() {
        let outcome = verify(
            &Secret::new(secret),
            timestamp,
            &raw,
            signature,
            state.clock.now(),
            state.zendesk_webhook_max_skew,
        );
        if i == 0 || outcome.is_ok() {
            verified = outcome;
        }
    }
    verified.map_err(|e| HttpError::unauthorized(e.to_string()))?;
    let value: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(e) => lenient_trigger_body(&raw).ok_or_else(|| {
            HttpError::bad_request("invalid_payload", format!("malformed JSON: {e}"))
        })?,
    };
    let (kind, dedupe_key) = classify(&value, &raw);
    let kept: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-zendesk-") || k.as_str() == "content-type")
        .filter(|(k, _)| k.as_str() != "x-zendesk-webhook-signature")
        .filter_map(|(k, v)| Some((k.as_str().to_string(), json!(v.to_str().ok()?))))
        .collect();
    let jobs: Vec<NewJob> = job_for(&state, &kind, &dedupe_key, &value)
        .into_iter()
        .collect();
    let event = NewInboundEvent {
        source: ZENDESK_SOURCE.to_string(),
        kind: kind.clone(),
        dedupe_key,
        received_at: state.clock.now(),
        headers: Value::Object(kept),
        raw_body: raw.to_vec(),
        normalized: value,
    };
    let outcome = crate::ingress::store_event(&state, event, jobs).await?;
    Ok(match outcome {
        Ingested::Stored { event_id, .. } => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "accepted", "event_id": event_id, "kind": kind})),
        )
            .into_response(),
        Ingested::Duplicate { event_id } => (
            StatusCode::OK,
            Json(json!({"status": "duplicate", "event_id": event_id, "kind": kind})),
        )
            .into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `zendesk_trigger` fuzz target: an event envelope with a blank `id` got an
    /// empty dedupe key, so every such event after the first was taken for a redelivery.
    #[test]
    fn an_event_with_a_blank_id_is_keyed_by_its_body() {
        let raw = br#"{"type":"zen:event-type:etc","id":"","d1etail":{"id":"0"}}"#;
        let body: Value = serde_json::from_slice(raw).expect("JSON");
        let (kind, key) = classify(&body, raw);
        assert_eq!(kind, "zendesk.trigger");
        assert!(key.starts_with("body:") && key.len() > 5, "{key}");
        let named = json!({"type": "zen:event-type:ticket.created", "id": "evt-1"});
        assert_eq!(
            classify(&named, b"{}"),
            ("zendesk.ticket.created".to_string(), "evt-1".to_string())
        );
    }

    #[test]
    fn a_configured_secret_other_than_the_provisioned_ones_is_warned_about() {
        let provisioned = vec!["replies-secret".to_string(), "events-secret".to_string()];
        let cases: [(Option<&str>, &[String], bool); 6] = [
            (None, &provisioned, false),
            (None, &[], false),
            (Some("configured"), &[], false),
            (Some("configured"), &provisioned, true),
            (Some("replies-secret"), &provisioned, false),
            (Some("events-secret"), &provisioned[1..], false),
        ];
        for (configured, stored, warn) in cases {
            assert_eq!(
                configured_secret_differs(configured, stored),
                warn,
                "{configured:?} vs {stored:?}"
            );
        }
    }

    #[test]
    fn an_unescaped_trigger_body_still_names_its_ticket() {
        let raw = b"{\"deskline_event\":\"public_reply\",\"ticket_id\":\"42\",\"status\":\"Solved\",\"latest_public_comment\":\"He said \"hi\"\nbye\"}";
        assert!(serde_json::from_slice::<Value>(raw).is_err());
        let v = lenient_trigger_body(raw).expect("recovered");
        assert_eq!(v["ticket_id"], "42");
        assert_eq!(v["status"], "Solved");
        assert_eq!(ticket_id_of(&v), Some(42));
        assert!(lenient_trigger_body(b"{not json").is_none());
        assert!(lenient_trigger_body(b"{\"deskline_event\":\"x\",\"ticket_id\":\"4a\"").is_none());
    }

    #[test]
    fn envelopes_are_keyed_by_their_id_and_trigger_bodies_by_their_content() {
        let envelope = json!({"type": "zen:event-type:ticket.comment_added", "id": "e-1"});
        assert_eq!(
            classify(&envelope, b"x"),
            (
                "zendesk.ticket.comment_added".to_string(),
                "e-1".to_string()
            )
        );
        let trigger = json!({"ticket_id": "7"});
        let (kind, a) = classify(&trigger, b"{\"ticket_id\":\"7\"}");
        assert_eq!(kind, "zendesk.trigger");
        let (_, b) = classify(&trigger, b"{\"ticket_id\":\"7\"}");
        let (_, c) = classify(&trigger, b"{\"ticket_id\":\"8\"}");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
