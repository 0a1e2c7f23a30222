//! Support for the webhook and trigger tests: a loopback receiver standing in for deskline's
//! webhook endpoint, and helpers for the webhook, trigger and delivery-log APIs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use super::Sandbox;

/// The seeded agent who replies in the agent workspace.
pub const AGENT: &str = "priya.sharma@sandbox.test";
/// How long to wait for an asynchronous delivery before failing.
const DEADLINE: Duration = Duration::from_secs(10);

/// A request the receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Hit {
    /// A header's value, or "" when it is missing or not text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the webhook body is valid JSON")
    }
}

/// A loopback HTTP server standing in for deskline's webhook endpoint.
pub struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    /// Answers 500 to the first `fail_first` requests, waits `delay` before every answer.
    pub async fn start(fail_first: usize, delay: Duration) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let failures = Arc::new(AtomicUsize::new(fail_first));
        let recorded = hits.clone();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let recorded = recorded.clone();
                let failures = failures.clone();
                async move {
                    recorded.lock().expect("hits").push(Hit {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        headers,
                        body: body.to_vec(),
                    });
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let fail = failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if fail {
                        (StatusCode::INTERNAL_SERVER_ERROR, "try again")
                    } else {
                        (StatusCode::OK, "ok")
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/zendesk/webhook"),
            hits,
        }
    }

    /// The requests received so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Hit> {
        let until = tokio::time::Instant::now() + DEADLINE;
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "expected {n} webhook requests, got {}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Sends a request; the status and the body as JSON (a string if it is not JSON, null if empty).
pub async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = req.send().await.expect("request");
    let status = StatusCode::from_u16(r.status().as_u16()).expect("status");
    let text = r.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Creates a webhook as admin and returns its id.
pub async fn create_webhook(sb: &Sandbox, webhook: Value) -> String {
    let (status, body) = send(
        sb.admin(Method::POST, "/api/v2/webhooks")
            .json(&json!({ "webhook": webhook })),
    )
    .await;
    assert_eq!(status, 201, "create webhook: {body}");
    body["webhook"]["id"]
        .as_str()
        .expect("webhook id")
        .to_string()
}

/// A valid trigger-connected webhook to `endpoint` with bearer auth and a custom header.
pub fn trigger_webhook(endpoint: &str) -> Value {
    json!({
        "name": "Agent replies",
        "endpoint": endpoint,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
        "authentication": {"type": "bearer_token", "data": {"token": "tok-123"}, "add_position": "header"},
        "custom_headers": {"X-Env": "test"},
    })
}

/// Creates a trigger as admin and returns its id.
pub async fn create_trigger(sb: &Sandbox, trigger: Value) -> u64 {
    let (status, body) = send(
        sb.admin(Method::POST, "/api/v2/triggers")
            .json(&json!({ "trigger": trigger })),
    )
    .await;
    assert_eq!(status, 201, "create trigger: {body}");
    body["trigger"]["id"].as_u64().expect("trigger id")
}

/// A webhook's signing secret.
pub async fn secret(sb: &Sandbox, webhook_id: &str) -> String {
    let v = sb
        .get_json(&format!("/api/v2/webhooks/{webhook_id}/signing_secret"))
        .await;
    assert_eq!(v["signing_secret"]["algorithm"], "SHA256");
    v["signing_secret"]["secret"]
        .as_str()
        .expect("secret")
        .to_string()
}

/// Checks a request's signature the way a receiver following Zendesk's docs does.
pub fn assert_signed(hit: &Hit, secret: &str) {
    let ts = hit.header("x-zendesk-webhook-signature-timestamp");
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "timestamp {ts:?} is ISO-8601 UTC"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(ts.as_bytes());
    mac.update(&hit.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(
        hit.header("x-zendesk-webhook-signature"),
        expected,
        "signature"
    );
}

/// The sandbox's delivery log.
pub async fn deliveries(sb: &Sandbox) -> Vec<Value> {
    let v = sb.get_json("/sandbox/deliveries").await;
    v["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until every delivery has a final status.
pub async fn settled_deliveries(sb: &Sandbox, n: usize) -> Vec<Value> {
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let list = deliveries(sb).await;
        if list.len() >= n && list.iter().all(|d| d["status"] != "accepted") {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "deliveries did not settle: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Updates a ticket with `req`, expecting 200.
pub async fn update_ticket(req: reqwest::RequestBuilder, ticket: Value) {
    let (status, body) = send(req.json(&json!({ "ticket": ticket }))).await;
    assert_eq!(status, 200, "update ticket: {body}");
}

/// A ticket update by `AGENT` in the agent workspace.
pub fn web(sb: &Sandbox, id: u64) -> reqwest::RequestBuilder {
    sb.as_agent_web(AGENT, Method::PUT, &format!("/api/v2/tickets/{id}"))
}

/// The JSON pointer named by a webhook API error body's first error.
pub fn first_error_pointer(body: &Value) -> String {
    body["errors"][0]["source"]["pointer"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
