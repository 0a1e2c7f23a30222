//! Sends webhook requests, signed as Zendesk signs them, with timeouts and retries, and keeps
//! an activity log (`GET /sandbox/deliveries`, `GET /api/v2/webhooks/{id}/invocations`).
//!
//! Lock order: `dispatch` runs while the caller holds the account lock and takes the delivery
//! log's lock inside it, so nothing may lock the account while holding the delivery log.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

use crate::app::{lock, AppState};
use crate::change::Outbound;
use crate::model::Webhook;
use crate::render::timestamp;

/// Deliveries kept in the log; the oldest are dropped first.
pub const DELIVERY_LOG_CAPACITY: usize = 10_000;
/// How much of a receiver's answer is kept per attempt.
const RESPONSE_EXCERPT_BYTES: usize = 1024;
/// Shown instead of credentials in the activity log.
const REDACTED: &str = "[redacted]";

/// How an invocation (or one attempt) ended, named as Zendesk's invocation statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Queued or still being attempted.
    #[serde(rename = "accepted")]
    Accepted,
    /// The receiver answered 2xx.
    #[serde(rename = "success")]
    Success,
    /// The receiver answered 4xx (or 3xx), which is not retried.
    #[serde(rename = "client error")]
    ClientError,
    /// The receiver answered 5xx.
    #[serde(rename = "server error")]
    ServerError,
    /// No answer within the webhook timeout.
    #[serde(rename = "timeout")]
    Timeout,
    /// No connection, or the request could not be sent at all.
    #[serde(rename = "failed")]
    Failed,
}

impl Outcome {
    /// Whether another attempt may succeed: timeouts, connection errors and 5xx.
    fn retryable(self) -> bool {
        matches!(
            self,
            Outcome::ServerError | Outcome::Timeout | Outcome::Failed
        )
    }
}

/// One try at sending a delivery.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    /// 1 for the first try.
    pub attempt: u32,
    /// When the attempt started.
    pub at: DateTime<Utc>,
    /// The `X-Zendesk-Webhook-Signature-Timestamp` sent.
    pub signature_timestamp: String,
    /// The receiver's status code, when it answered.
    pub status: Option<u16>,
    /// What went wrong when it did not answer.
    pub error: Option<String>,
    /// How the attempt ended.
    pub outcome: Outcome,
    /// Time from sending to the end of the answer (or the error).
    pub duration_ms: u64,
    /// The start of the receiver's answer.
    pub response_body: Option<String>,
}

/// One webhook request and its attempts.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Position in the log, increasing from 1; use it with `?since=`.
    pub seq: u64,
    /// Sent as `x-zendesk-webhook-invocation-id`, the same on every attempt.
    pub invocation_id: String,
    /// The webhook sent through.
    pub webhook_id: String,
    /// The trigger that fired, for trigger webhooks.
    pub trigger_id: Option<u64>,
    /// The event type, for event-subscription webhooks.
    pub event_type: Option<String>,
    /// When the delivery was queued.
    pub created_at: DateTime<Utc>,
    /// HTTP method used.
    pub method: Option<String>,
    /// Where it was sent.
    pub endpoint: Option<String>,
    /// The rendered body (not sent for GET and DELETE).
    pub body: String,
    /// Headers of the latest attempt, credentials redacted.
    pub request_headers: BTreeMap<String, String>,
    /// Every attempt so far.
    pub attempts: Vec<Attempt>,
    /// The final outcome, or `accepted` while attempts remain.
    pub status: Outcome,
    /// When the last attempt ended.
    pub completed_at: Option<DateTime<Utc>>,
}

/// Every delivery and its attempts, oldest first, bounded.
#[derive(Debug)]
pub struct DeliveryLog {
    entries: VecDeque<Delivery>,
    capacity: usize,
    next_seq: u64,
}

impl Default for DeliveryLog {
    fn default() -> Self {
        DeliveryLog {
            entries: VecDeque::new(),
            capacity: DELIVERY_LOG_CAPACITY,
            next_seq: 1,
        }
    }
}

impl DeliveryLog {
    /// Records a new delivery; returns its sequence number and invocation id.
    fn open(&mut self, out: &Outbound, now: DateTime<Utc>) -> (u64, String) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let invocation_id = ulid(now);
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(Delivery {
            seq,
            invocation_id: invocation_id.clone(),
            webhook_id: out.webhook_id.clone(),
            trigger_id: out.trigger_id,
            event_type: out.event_type.clone(),
            created_at: now,
            method: None,
            endpoint: None,
            body: out.body.clone(),
            request_headers: BTreeMap::new(),
            attempts: Vec::new(),
            status: Outcome::Accepted,
            completed_at: None,
        });
        (seq, invocation_id)
    }

    /// The delivery numbered `seq`, unless it has been dropped from the log.
    fn get_mut(&mut self, seq: u64) -> Option<&mut Delivery> {
        // Sequence numbers are consecutive, so the position is computed, not searched.
        let first = self.entries.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get_mut(index)
    }

    fn finish(&mut self, seq: u64, outcome: Outcome, at: DateTime<Utc>) {
        if let Some(d) = self.get_mut(seq) {
            d.status = outcome;
            d.completed_at = Some(at);
        }
    }

    /// Deliveries after `since`, optionally of one webhook, oldest first.
    pub fn list(&self, webhook_id: Option<&str>, since: u64) -> Vec<Delivery> {
        self.entries
            .iter()
            .filter(|d| d.seq > since && webhook_id.is_none_or(|w| d.webhook_id == w))
            .cloned()
            .collect()
    }

    /// Forgets every delivery (sequence numbers keep increasing).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID-like id (26 characters of Crockford base32: 48 bits of milliseconds, 80 random
/// bits), the form of Zendesk's webhook ids. Ids made later sort after earlier ones.
pub fn ulid(at: DateTime<Utc>) -> String {
    let ms = u128::try_from(at.timestamp_millis()).unwrap_or_default() & ((1 << 48) - 1);
    let random = rand::random::<u128>() & ((1 << 80) - 1);
    let value = (ms << 80) | random;
    (0..26)
        .rev()
        .map(|i| char::from(CROCKFORD[usize::from(((value >> (i * 5)) & 0x1f) as u8)]))
        .collect()
}

/// Zendesk's signature: base64(HMAC-SHA256(key = signing secret, message = timestamp + body)).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(body);
    Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Sends each request in the background, one task per request. Callable from synchronous
/// code inside a tokio runtime; it neither blocks nor touches the account (the caller holds
/// its lock), so each task looks its webhook up when it runs.
pub fn dispatch(state: &AppState, outbound: Vec<Outbound>) {
    if outbound.is_empty() {
        return;
    }
    let runtime = tokio::runtime::Handle::try_current();
    for out in outbound {
        let now = Utc::now();
        let (seq, invocation_id) = lock(&state.deliveries).open(&out, now);
        match &runtime {
            Ok(handle) => {
                handle.spawn(deliver(state.clone(), seq, invocation_id, out));
            }
            Err(_) => {
                tracing::error!(webhook_id = %out.webhook_id, "webhook delivery outside a tokio runtime; not sent");
                lock(&state.deliveries).finish(seq, Outcome::Failed, now);
            }
        }
    }
}

/// What one attempt produced.
struct Tried {
    status: Option<u16>,
    error: Option<String>,
    outcome: Outcome,
    response_body: Option<String>,
}

impl Tried {
    fn failed(outcome: Outcome, error: String) -> Tried {
        Tried {
            status: None,
            error: Some(error),
            outcome,
            response_body: None,
        }
    }
}

async fn deliver(state: AppState, seq: u64, invocation_id: String, out: Outbound) {
    // A short lock of its own: the request that caused this delivery may still hold the
    // account, in which case this waits for it briefly.
    let webhook = state.lock_account().webhooks.get(&out.webhook_id).cloned();
    let webhook = match webhook {
        Some(w) if w.status == "active" => w,
        other => {
            // Deactivated or deleted between the change and the send: nothing goes out.
            let why = if other.is_some() {
                "the webhook is inactive"
            } else {
                "the webhook was deleted"
            };
            let now = Utc::now();
            let mut log = lock(&state.deliveries);
            if let Some(d) = log.get_mut(seq) {
                d.attempts.push(Attempt {
                    attempt: 1,
                    at: now,
                    signature_timestamp: String::new(),
                    status: None,
                    error: Some(format!("not sent: {why}")),
                    outcome: Outcome::Failed,
                    duration_ms: 0,
                    response_body: None,
                });
            }
            log.finish(seq, Outcome::Failed, now);
            return;
        }
    };
    let attempts = state.config.webhook_retries.saturating_add(1);
    let mut backoff = state.config.webhook_retry_backoff;
    for n in 1..=attempts {
        // Signed afresh at each attempt with the current time, so a receiver's replay window
        // judges the attempt, not the original event. Whether Zendesk re-signs its retries
        // is UNVERIFIED.
        let at = Utc::now();
        let signature_timestamp = timestamp(at);
        let started = Instant::now();
        let (tried, headers) = attempt(
            &state,
            &webhook,
            &invocation_id,
            &out.body,
            &signature_timestamp,
        )
        .await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = n == attempts || !tried.outcome.retryable();
        {
            let mut log = lock(&state.deliveries);
            if let Some(d) = log.get_mut(seq) {
                d.method = Some(webhook.http_method.clone());
                d.endpoint = Some(webhook.endpoint.clone());
                d.request_headers = headers;
                d.attempts.push(Attempt {
                    attempt: n,
                    at,
                    signature_timestamp,
                    status: tried.status,
                    error: tried.error,
                    outcome: tried.outcome,
                    duration_ms,
                    response_body: tried.response_body,
                });
            }
            if last {
                log.finish(seq, tried.outcome, Utc::now());
            }
        }
        if last {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2);
    }
}

fn content_type(request_format: &str) -> &'static str {
    match request_format {
        "xml" => "application/xml",
        "form_encoded" => "application/x-www-form-urlencoded",
        _ => "application/json",
    }
}

/// Whether the method carries a body. GET and DELETE webhooks send none (and sign an empty
/// body); the sandbox does not turn a trigger's body into query parameters.
fn sends_body(method: &str) -> bool {
    !matches!(method, "GET" | "DELETE")
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The headers of one attempt, and the same headers as shown in the log (credentials
/// redacted).
fn headers(
    state: &AppState,
    w: &Webhook,
    invocation_id: &str,
    signature: &str,
    signature_timestamp: &str,
    has_body: bool,
) -> Result<(HeaderMap, BTreeMap<String, String>), String> {
    let mut list: Vec<(String, String, bool)> = Vec::new();
    // Custom headers first, so the sandbox's own headers win should one slip through.
    for (k, v) in &w.custom_headers {
        list.push((k.to_ascii_lowercase(), v.clone(), false));
    }
    if let Some(auth) = &w.authentication {
        let data = auth.get("data");
        let field = |name: &str| text(data.and_then(|d| d.get(name)));
        match auth.get("type").and_then(Value::as_str) {
            Some("bearer_token") => {
                list.push((
                    "authorization".into(),
                    format!("Bearer {}", field("token")),
                    true,
                ));
            }
            Some("basic_auth") => {
                let pair = format!("{}:{}", field("username"), field("password"));
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                list.push(("authorization".into(), format!("Basic {encoded}"), true));
            }
            Some("api_key") => {
                list.push((field("name").to_ascii_lowercase(), field("value"), true))
            }
            _ => {}
        }
    }
    if has_body {
        list.push((
            "content-type".into(),
            content_type(&w.request_format).into(),
            false,
        ));
    }
    list.push(("user-agent".into(), "Zendesk Webhook".into(), false));
    list.push((
        "x-zendesk-account-id".into(),
        state.config.account_id.to_string(),
        false,
    ));
    list.push(("x-zendesk-webhook-id".into(), w.id.clone(), false));
    list.push((
        "x-zendesk-webhook-invocation-id".into(),
        invocation_id.into(),
        false,
    ));
    list.push((
        "x-zendesk-webhook-signature".into(),
        signature.into(),
        false,
    ));
    list.push((
        "x-zendesk-webhook-signature-timestamp".into(),
        signature_timestamp.into(),
        false,
    ));
    let mut map = HeaderMap::new();
    let mut shown = BTreeMap::new();
    for (name, value, secret) in list {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("not sent: {name:?} is not a valid header name"))?;
        let header_value = HeaderValue::from_str(&value)
            .map_err(|_| format!("not sent: the value of header {name} is not valid"))?;
        map.insert(header, header_value);
        shown.insert(name, if secret { REDACTED.to_string() } else { value });
    }
    Ok((map, shown))
}

async fn attempt(
    state: &AppState,
    w: &Webhook,
    invocation_id: &str,
    body: &str,
    signature_timestamp: &str,
) -> (Tried, BTreeMap<String, String>) {
    let has_body = sends_body(&w.http_method);
    let sent_body = if has_body { body } else { "" };
    let Some(signature) = sign(&w.signing_secret, signature_timestamp, sent_body.as_bytes()) else {
        return (
            Tried::failed(Outcome::Failed, "not sent: cannot sign".into()),
            BTreeMap::new(),
        );
    };
    let (header_map, shown) = match headers(
        state,
        w,
        invocation_id,
        &signature,
        signature_timestamp,
        has_body,
    ) {
        Ok(h) => h,
        Err(e) => return (Tried::failed(Outcome::ClientError, e), BTreeMap::new()),
    };
    let Ok(method) = reqwest::Method::from_bytes(w.http_method.as_bytes()) else {
        let error = format!("not sent: {:?} is not an HTTP method", w.http_method);
        return (Tried::failed(Outcome::ClientError, error), shown);
    };
    let mut request = state.http.request(method, &w.endpoint).headers(header_map);
    if has_body {
        request = request.body(sent_body.to_string());
    }
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return (transport_error(&e), shown),
    };
    let status = response.status();
    let mut excerpt = Vec::new();
    // Read only the start of the answer; the rest is dropped with the connection.
    while excerpt.len() < RESPONSE_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            Ok(None) => break,
            // A receiver that answered but is slow to finish its body still answered.
            Err(_) => break,
        }
    }
    excerpt.truncate(RESPONSE_EXCERPT_BYTES);
    let outcome = if status.is_success() {
        Outcome::Success
    } else if status.is_server_error() {
        Outcome::ServerError
    } else {
        Outcome::ClientError
    };
    let tried = Tried {
        status: Some(status.as_u16()),
        error: None,
        outcome,
        response_body: Some(String::from_utf8_lossy(&excerpt).into_owned()),
    };
    (tried, shown)
}

fn transport_error(e: &reqwest::Error) -> Tried {
    if e.is_timeout() {
        Tried::failed(Outcome::Timeout, format!("timed out: {e}"))
    } else if e.is_connect() {
        Tried::failed(Outcome::Failed, format!("connection failed: {e}"))
    } else {
        Tried::failed(Outcome::Failed, format!("request failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_computation() {
        // Computed with Python: base64(hmac.new(b"s3cret", b"2021-03-25T05:09:27Z" +
        // b'{"a":1}', sha256).digest()).
        let sig = sign("s3cret", "2021-03-25T05:09:27Z", br#"{"a":1}"#).expect("signs");
        assert_eq!(sig, "GEPlWlBtZzB9iccOlQHKnpQpqOUpU9D9S8FucyTEq7Q=");
    }

    #[test]
    fn ulids_are_26_crockford_characters_in_time_order() {
        let early = ulid(DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(1));
        let late = ulid(Utc::now());
        assert_eq!(early.len(), 26);
        assert!(
            late.chars().all(|c| CROCKFORD.contains(&(c as u8))),
            "{late}"
        );
        assert!(early < late);
    }

    #[test]
    fn the_log_is_bounded_and_finds_entries_by_sequence() {
        let mut log = DeliveryLog {
            capacity: 2,
            ..DeliveryLog::default()
        };
        let out = Outbound {
            webhook_id: "W".into(),
            body: "{}".into(),
            trigger_id: None,
            event_type: None,
        };
        for _ in 0..3 {
            log.open(&out, Utc::now());
        }
        assert!(log.get_mut(1).is_none());
        assert_eq!(log.get_mut(3).map(|d| d.seq), Some(3));
        assert_eq!(log.list(Some("W"), 2).len(), 1);
        assert!(log.list(Some("X"), 0).is_empty());
    }
}
