//! Webhooks and triggers over real HTTP: CRUD and its errors, triggers firing signed
//! deliveries to a loopback receiver, placeholders, event subscriptions, retries and timeouts.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use common::Sandbox;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use zendesk_sandbox::SandboxConfig;

const AGENT: &str = "priya.sharma@sandbox.test";
const REQUESTER: u64 = 50001;
/// How long to wait for an asynchronous delivery before failing.
const DEADLINE: Duration = Duration::from_secs(10);

/// A request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the webhook body is valid JSON")
    }
}

/// A loopback HTTP server standing in for deskline's webhook endpoint.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    /// Answers 500 to the first `fail_first` requests, waits `delay` before every answer.
    async fn start(fail_first: usize, delay: Duration) -> Receiver {
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

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }

    /// Waits until at least `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Hit> {
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

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
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

async fn create_webhook(sb: &Sandbox, webhook: Value) -> String {
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

fn trigger_webhook(endpoint: &str) -> Value {
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

async fn create_trigger(sb: &Sandbox, trigger: Value) -> u64 {
    let (status, body) = send(
        sb.admin(Method::POST, "/api/v2/triggers")
            .json(&json!({ "trigger": trigger })),
    )
    .await;
    assert_eq!(status, 201, "create trigger: {body}");
    body["trigger"]["id"].as_u64().expect("trigger id")
}

async fn secret(sb: &Sandbox, webhook_id: &str) -> String {
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
fn assert_signed(hit: &Hit, secret: &str) {
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

async fn deliveries(sb: &Sandbox) -> Vec<Value> {
    let v = sb.get_json("/sandbox/deliveries").await;
    v["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until every delivery has a final status.
async fn settled_deliveries(sb: &Sandbox, n: usize) -> Vec<Value> {
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

async fn update_ticket(req: reqwest::RequestBuilder, ticket: Value) {
    let (status, body) = send(req.json(&json!({ "ticket": ticket }))).await;
    assert_eq!(status, 200, "update ticket: {body}");
}

fn web(sb: &Sandbox, id: u64) -> reqwest::RequestBuilder {
    sb.as_agent_web(AGENT, Method::PUT, &format!("/api/v2/tickets/{id}"))
}

fn first_error_pointer(body: &Value) -> String {
    body["errors"][0]["source"]["pointer"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn webhook_crud_and_its_errors() {
    let sb = common::spawn().await;
    let id = create_webhook(&sb, trigger_webhook("https://example.com/hook")).await;
    assert_eq!(id.len(), 26, "{id}");
    assert!(
        id.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "{id}"
    );

    let shown = sb.get_json(&format!("/api/v2/webhooks/{id}")).await;
    let w = &shown["webhook"];
    assert_eq!(
        w["authentication"],
        json!({"type": "bearer_token", "add_position": "header"})
    );
    assert!(
        !shown.to_string().contains("tok-123"),
        "credentials are never shown"
    );
    let listed = sb.get_json("/api/v2/webhooks").await;
    assert_eq!(listed["webhooks"][0]["id"], id.as_str());
    assert_eq!(listed["meta"]["has_more"], false);
    assert!(listed["links"].is_object());
    let filtered = sb
        .get_json("/api/v2/webhooks?filter[status]=inactive")
        .await;
    assert_eq!(filtered["webhooks"], json!([]));

    // PUT replaces, PATCH merges; both answer 204.
    let mut replacement = trigger_webhook("https://example.com/other");
    replacement["name"] = json!("Renamed");
    let (status, _) = send(
        sb.admin(Method::PUT, &format!("/api/v2/webhooks/{id}"))
            .json(&json!({"webhook": replacement})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        sb.admin(Method::PATCH, &format!("/api/v2/webhooks/{id}"))
            .json(&json!({"webhook": {"status": "inactive"}})),
    )
    .await;
    assert_eq!(status, 204);
    let w = sb.get_json(&format!("/api/v2/webhooks/{id}")).await["webhook"].clone();
    assert_eq!(
        (
            w["name"].as_str(),
            w["endpoint"].as_str(),
            w["status"].as_str()
        ),
        (
            Some("Renamed"),
            Some("https://example.com/other"),
            Some("inactive")
        )
    );
    assert_eq!(
        w["authentication"]["type"], "bearer_token",
        "PUT without data keeps the credentials"
    );

    // The connection method cannot change.
    let mut to_events = trigger_webhook("https://example.com/hook");
    to_events["subscriptions"] = json!(["zen:event-type:ticket.created"]);
    let (status, body) = send(
        sb.admin(Method::PUT, &format!("/api/v2/webhooks/{id}"))
            .json(&json!({"webhook": to_events})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_error_pointer(&body), "/webhook/subscriptions");

    // Validation errors name the field.
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": null}), "/webhook/name"),
        (
            json!({"endpoint": "ftp://example.com"}),
            "/webhook/endpoint",
        ),
        (json!({"endpoint": "not a url"}), "/webhook/endpoint"),
        (json!({"http_method": "FETCH"}), "/webhook/http_method"),
        (json!({"request_format": "yaml"}), "/webhook/request_format"),
        (json!({"status": "on"}), "/webhook/status"),
        (
            json!({"subscriptions": ["conditional_ticket_events", "zen:event-type:ticket.created"]}),
            "/webhook/subscriptions",
        ),
        (
            json!({"subscriptions": ["ticket.created"]}),
            "/webhook/subscriptions",
        ),
        (
            json!({"subscriptions": ["zen:event-type:ticket.created"], "http_method": "GET"}),
            "/webhook/http_method",
        ),
        (
            json!({"subscriptions": ["zen:event-type:ticket.created"], "request_format": "xml"}),
            "/webhook/request_format",
        ),
        (
            json!({"authentication": {"type": "oauth", "data": {}}}),
            "/webhook/authentication/type",
        ),
        (
            json!({"authentication": {"type": "basic_auth", "data": {"username": "u"}}}),
            "/webhook/authentication/data/password",
        ),
        (
            json!({"custom_headers": {"Authorization": "x"}}),
            "/webhook/custom_headers",
        ),
    ];
    for (change, pointer) in cases {
        let mut w = trigger_webhook("https://example.com/hook");
        for (k, v) in change.as_object().expect("object") {
            w[k] = v.clone();
        }
        let (status, body) = send(
            sb.admin(Method::POST, "/api/v2/webhooks")
                .json(&json!({"webhook": w})),
        )
        .await;
        assert_eq!(status, 400, "{change}: {body}");
        let pointers: Vec<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["source"]["pointer"].as_str())
            .collect();
        assert!(pointers.contains(&pointer), "{change}: {body}");
        assert!(
            body["errors"][0]["detail"].is_string() && body["errors"][0]["code"].is_string(),
            "{body}"
        );
    }
    let (status, body) = send(
        sb.admin(Method::POST, "/api/v2/webhooks")
            .body("{oops")
            .header("content-type", "application/json"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("JSON"),
        "{body}"
    );

    // Signing secret: shown, reset (201, different).
    let before = secret(&sb, &id).await;
    let (status, body) = send(sb.admin(
        Method::POST,
        &format!("/api/v2/webhooks/{id}/signing_secret"),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    let after = body["signing_secret"]["secret"].as_str().expect("secret");
    assert_ne!(before, after);
    assert_eq!(secret(&sb, &id).await, after);

    // Unknown ids, roles and credentials.
    for (method, path) in [
        (Method::GET, "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000"),
        (Method::PATCH, "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000"),
        (
            Method::DELETE,
            "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000",
        ),
        (
            Method::GET,
            "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000/signing_secret",
        ),
        (
            Method::GET,
            "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000/invocations",
        ),
    ] {
        let (status, body) = send(
            sb.admin(method.clone(), path)
                .json(&json!({"webhook": {"name": "x"}})),
        )
        .await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(body["errors"].is_array(), "{body}");
    }
    let (status, _) = send(sb.as_agent_api(AGENT, Method::GET, "/api/v2/webhooks")).await;
    assert_eq!(status, 403);
    let (status, _) = send(sb.as_agent_api(
        AGENT,
        Method::GET,
        &format!("/api/v2/webhooks/{id}/signing_secret"),
    ))
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(sb.http.get(format!("{}/api/v2/webhooks", sb.base))).await;
    assert_eq!(status, 401);
    let (status, _) = send(sb.as_agent_api(AGENT, Method::GET, "/sandbox/deliveries")).await;
    assert_eq!(status, 403);

    let (status, _) = send(sb.admin(Method::DELETE, &format!("/api/v2/webhooks/{id}"))).await;
    assert_eq!(status, 204);
    let (status, _) = send(sb.admin(Method::GET, &format!("/api/v2/webhooks/{id}"))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn trigger_crud_and_its_errors() {
    let sb = common::spawn().await;
    let hook = create_webhook(&sb, trigger_webhook("https://example.com/hook")).await;
    let mut events = trigger_webhook("https://example.com/events");
    events["subscriptions"] = json!(["zen:event-type:ticket.created"]);
    events["authentication"] = Value::Null;
    let event_hook = create_webhook(&sb, events).await;
    let valid = json!({
        "title": "Sync public agent replies",
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "true"},
        ], "any": []},
        "actions": [{"field": "notification_webhook", "value": [hook, "{\"id\":\"{{ticket.id}}\"}"]}],
    });
    let first = create_trigger(&sb, valid.clone()).await;
    let second = create_trigger(&sb, valid.clone()).await;
    let shown = sb.get_json(&format!("/api/v2/triggers/{second}")).await;
    assert_eq!(shown["trigger"]["active"], true);
    let first_pos =
        sb.get_json(&format!("/api/v2/triggers/{first}")).await["trigger"]["position"].as_u64();
    assert!(
        shown["trigger"]["position"].as_u64() > first_pos,
        "new triggers go last"
    );
    let listed = sb.get_json("/api/v2/triggers").await;
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["triggers"][0]["id"], first);

    // Errors name the field (422 RecordInvalid).
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"title": ""}), "title", "Title"),
        (
            json!({"actions": []}),
            "actions",
            "Trigger must contain at least one action",
        ),
        (
            json!({"actions": null}),
            "actions",
            "Trigger must contain at least one action",
        ),
        (
            json!({"actions": [{"field": "notification_user", "value": ["requester_id", "s", "b"]}]}),
            "actions",
            "notification_user",
        ),
        (
            json!({"actions": [{"field": "notification_webhook", "value": [event_hook, "{}"]}]}),
            "actions",
            event_hook.as_str(),
        ),
        (
            json!({"actions": [{"field": "notification_webhook", "value": ["01NOSUCHWEBHOOK00000000000", "{}"]}]}),
            "actions",
            "01NOSUCHWEBHOOK00000000000",
        ),
        (
            json!({"conditions": {"all": [{"field": "subject_includes_word", "operator": "includes", "value": "x"}]}}),
            "conditions",
            "subject_includes_word",
        ),
        (
            json!({"conditions": {"all": [{"field": "status", "operator": "sounds_like", "value": "open"}]}}),
            "conditions",
            "sounds_like",
        ),
        (
            json!({"conditions": {"all": [], "any": []}}),
            "conditions",
            "at least one condition",
        ),
    ];
    for (change, field, named) in cases {
        let mut t = valid.clone();
        for (k, v) in change.as_object().expect("object") {
            t[k] = v.clone();
        }
        let (status, body) = send(
            sb.admin(Method::POST, "/api/v2/triggers")
                .json(&json!({"trigger": t})),
        )
        .await;
        assert_eq!(status, 422, "{change}: {body}");
        assert_eq!(body["error"], "RecordInvalid");
        let text = body["details"][field].to_string();
        assert!(text.contains(named), "{change}: {body}");
    }

    // PUT replaces given properties; conditions without actions clears the actions (422).
    let (status, body) = send(
        sb.admin(Method::PUT, &format!("/api/v2/triggers/{first}"))
            .json(&json!({"trigger": {"title": "Renamed", "active": false}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trigger"]["title"], "Renamed");
    assert_eq!(body["trigger"]["active"], false);
    assert_eq!(body["trigger"]["actions"], valid["actions"]);
    let (status, body) = send(
        sb.admin(Method::PUT, &format!("/api/v2/triggers/{first}"))
            .json(&json!({"trigger": {"conditions": valid["conditions"]}})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["details"]["actions"]
            .to_string()
            .contains("at least one action"),
        "{body}"
    );
    let active = sb.get_json("/api/v2/triggers?active=true").await;
    assert_eq!(active["count"], 1);

    // Unknown ids, roles and credentials.
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, _) = send(
            sb.admin(method.clone(), "/api/v2/triggers/999999")
                .json(&json!({"trigger": {"title": "x"}})),
        )
        .await;
        assert_eq!(status, 404, "{method}");
    }
    let (status, _) = send(
        sb.as_agent_api(AGENT, Method::POST, "/api/v2/triggers")
            .json(&json!({"trigger": valid})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(sb.http.get(format!("{}/api/v2/triggers", sb.base))).await;
    assert_eq!(status, 401);

    let (status, _) = send(sb.admin(Method::DELETE, &format!("/api/v2/triggers/{first}"))).await;
    assert_eq!(status, 204);
    let (status, _) = send(sb.admin(Method::GET, &format!("/api/v2/triggers/{first}"))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_public_agent_reply_fires_a_signed_webhook_and_notes_and_api_updates_do_not() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let hook = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    create_trigger(&sb, json!({
        "title": "Sync public agent replies",
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "true"},
            {"field": "current_via_id", "operator": "is_not", "value": "5"},
        ]},
        "actions": [{"field": "notification_webhook", "value": [hook,
            "{\"ticket_id\":\"{{ticket.id}}\",\"external_id\":\"{{ticket.external_id}}\",\"author\":\"{{current_user.email}}\",\"reply\":\"{{ticket.latest_public_comment}}\",\"status\":\"{{ticket.status}}\",\"requester\":\"{{ticket.requester.email}}\"}"]}],
    })).await;
    let id = sb
        .create_ticket(json!({"subject": "Call back", "comment": {"body": "Missed call"}, "requester_id": REQUESTER, "external_id": "call-1"}))
        .await;

    // An internal note in the agent workspace and a public reply through the API token fire
    // nothing: deliveries are recorded before the update answers, so the log is already final.
    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": "note to self", "public": false}}),
    )
    .await;
    update_ticket(
        sb.as_agent_api(AGENT, Method::PUT, &format!("/api/v2/tickets/{id}")),
        json!({"comment": {"body": "api reply", "public": true}}),
    )
    .await;
    assert!(deliveries(&sb).await.is_empty());

    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": "We will call you back", "public": true}, "status": "pending"}),
    )
    .await;
    let hits = rx.wait_for(1).await;
    let hit = &hits[0];
    assert_eq!(
        (hit.method.as_str(), hit.path.as_str()),
        ("POST", "/zendesk/webhook")
    );
    assert_signed(hit, &secret(&sb, &hook).await);
    assert_eq!(hit.header("x-zendesk-webhook-id"), hook);
    assert_eq!(hit.header("x-zendesk-account-id"), "9000001");
    assert_eq!(hit.header("content-type"), "application/json");
    assert_eq!(hit.header("authorization"), "Bearer tok-123");
    assert_eq!(hit.header("x-env"), "test");
    assert_eq!(
        hit.json(),
        json!({"ticket_id": id.to_string(), "external_id": "call-1", "author": AGENT,
               "reply": "We will call you back", "status": "Pending", "requester": "anita@acme-logistics.example"})
    );

    let log = settled_deliveries(&sb, 1).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], "success");
    assert_eq!(
        hit.header("x-zendesk-webhook-invocation-id"),
        log[0]["invocation_id"].as_str().unwrap_or_default()
    );
    assert_eq!(log[0]["request_headers"]["authorization"], "[redacted]");
    let invocations = sb
        .get_json(&format!("/api/v2/webhooks/{hook}/invocations"))
        .await;
    let inv = &invocations["invocations"][0];
    assert_eq!(inv["status"], "success");
    assert_eq!(inv["id"], log[0]["invocation_id"]);
    assert!(inv["latest_completed_at"].is_string(), "{inv}");
}

#[tokio::test]
async fn placeholders_render_and_stay_valid_json() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let hook = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    create_trigger(&sb, json!({
        "title": "Every agent comment",
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "not_relevant"},
            {"field": "role", "operator": "is", "value": "agent"},
        ]},
        "actions": [{"field": "notification_webhook", "value": [hook,
            "{\"public\":\"{{ticket.latest_public_comment}}\",\"latest\":\"{{ticket.latest_comment}}\",\"title\":\"{{ticket.title}}\",\"link\":\"{{ticket.link}}\",\"via\":\"{{ticket.via}}\",\"tags\":\"{{ticket.tags}}\",\"requester\":\"{{ticket.requester.name}}|{{ticket.requester.phone}}|{{ticket.requester.external_id}}\",\"user\":\"{{current_user.name}}|{{current_user.id}}|{{current_user.role}}\",\"updated\":\"{{ticket.updated_at_with_timestamp}}\",\"unknown\":\"{{ticket.no_such_thing}}\",\"spaced\":\"{{ ticket.id }}\"}"]}],
    })).await;
    let id = sb
        .create_ticket(json!({"subject": "Quote \"me\"", "comment": {"body": "first"}, "requester_id": REQUESTER, "tags": ["voice"]}))
        .await;
    let tricky = "He said \"call me\"\nat 5\\6 {{not a placeholder}}";
    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": tricky, "public": true}}),
    )
    .await;
    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": "internal only", "public": false}}),
    )
    .await;
    let hits = rx.wait_for(2).await;
    // Two separate requests may arrive in either order; tell them apart by the latest comment.
    let bodies: Vec<Value> = hits.iter().map(Hit::json).collect();
    let after_reply = bodies
        .iter()
        .find(|b| b["latest"] != "internal only")
        .expect("reply body");
    let after_note = bodies
        .iter()
        .find(|b| b["latest"] == "internal only")
        .expect("note body");
    let stored = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
    let reply_text = stored["comments"][1]["body"].clone();
    assert_eq!(after_reply["public"], reply_text);
    assert_eq!(after_reply["latest"], reply_text);
    assert_eq!(
        after_note["public"], reply_text,
        "latest_public_comment skips the internal note"
    );
    assert_eq!(after_reply["title"], "Quote \"me\"");
    assert_eq!(
        after_reply["link"],
        format!("{}/agent/tickets/{id}", sb.base)
    );
    assert_eq!(after_reply["via"], "Web Service");
    assert_eq!(after_reply["tags"], "voice");
    assert_eq!(
        after_reply["requester"],
        "Anita Desai|+919876543210|crm-1001"
    );
    assert_eq!(after_reply["user"], "Priya Sharma|30011|agent");
    assert_eq!(after_reply["unknown"], "");
    assert_eq!(after_reply["spaced"], id.to_string());
    let ticket = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(after_note["updated"], ticket["ticket"]["updated_at"]);
}

#[tokio::test]
async fn event_subscriptions_receive_ticket_events() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let hook = create_webhook(&sb, json!({
        "name": "Ticket events",
        "endpoint": rx.url,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["zen:event-type:ticket.created", "zen:event-type:ticket.status_changed", "zen:event-type:ticket.comment_added"],
    })).await;
    let id = sb
        .create_ticket(json!({"subject": "Voice call", "comment": {"body": "Call log"}, "requester_id": REQUESTER, "external_id": "call-9"}))
        .await;
    update_ticket(
        web(&sb, id),
        json!({"status": "pending", "comment": {"body": "Called back", "public": true}}),
    )
    .await;
    let hits = rx.wait_for(3).await;
    let key = secret(&sb, &hook).await;
    let mut by_type = std::collections::BTreeMap::new();
    for hit in &hits {
        assert_signed(hit, &key);
        let body = hit.json();
        by_type.insert(body["type"].as_str().unwrap_or_default().to_string(), body);
    }
    let created = &by_type["zen:event-type:ticket.created"];
    assert_eq!(created["account_id"], 9_000_001);
    assert_eq!(created["subject"], format!("zen:ticket:{id}"));
    assert_eq!(created["zendesk_event_version"], "2022-11-06");
    assert_eq!(created["detail"]["id"], id.to_string());
    assert_eq!(created["detail"]["external_id"], "call-9");
    assert_eq!(created["detail"]["status"], "NEW");
    assert_eq!(created["detail"]["requester_id"], REQUESTER.to_string());
    assert_eq!(created["id"].as_str().map(str::len), Some(36));
    let status = &by_type["zen:event-type:ticket.status_changed"];
    assert_eq!(status["event"]["current"], "PENDING");
    assert_eq!(status["event"]["previous"], "NEW");
    assert_eq!(status["detail"]["actor_id"], "30011");
    let comment = &by_type["zen:event-type:ticket.comment_added"];
    assert_eq!(comment["event"]["comment"]["body"], "Called back");
    assert_eq!(comment["event"]["comment"]["is_public"], true);
    assert_eq!(
        comment["event"]["comment"]["author"],
        json!({"id": "30011", "is_staff": true, "name": "Priya Sharma"})
    );
    // Events of one update share a sequence.
    assert_eq!(
        status["event"]["meta"]["sequence"]["id"],
        comment["event"]["meta"]["sequence"]["id"]
    );
    assert_ne!(
        status["event"]["meta"]["sequence"]["position"],
        comment["event"]["meta"]["sequence"]["position"]
    );
}

#[tokio::test]
async fn a_5xx_is_retried_and_the_attempts_are_logged() {
    let sb = common::spawn_with(SandboxConfig {
        webhook_retry_backoff: Duration::from_millis(20),
        ..SandboxConfig::default()
    })
    .await;
    let rx = Receiver::start(1, Duration::ZERO).await;
    let hook = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    create_trigger(&sb, json!({
        "title": "On create",
        "conditions": {"all": [{"field": "update_type", "value": "Create"}]},
        "actions": [{"field": "notification_webhook", "value": [hook, "{\"id\":{{ticket.id}}}"]}],
    })).await;
    sb.create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    let log = settled_deliveries(&sb, 1).await;
    let d = &log[0];
    assert_eq!(d["status"], "success", "{d}");
    let attempts = d["attempts"].as_array().expect("attempts");
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(200)]);
    assert_eq!(attempts[0]["outcome"], "server error");
    let hits = rx.wait_for(2).await;
    assert_eq!(
        hits[0].header("x-zendesk-webhook-invocation-id"),
        hits[1].header("x-zendesk-webhook-invocation-id")
    );
    let key = secret(&sb, &hook).await;
    for hit in &hits {
        assert_signed(hit, &key);
    }
    let inv_id = d["invocation_id"].as_str().expect("invocation id");
    let listed = sb
        .get_json(&format!(
            "/api/v2/webhooks/{hook}/invocations/{inv_id}/attempts"
        ))
        .await;
    let codes: Vec<&Value> = listed["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| &a["response_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(200)]);
    let filtered = sb
        .get_json(&format!(
            "/api/v2/webhooks/{hook}/invocations?filter[status]=failed"
        ))
        .await;
    assert_eq!(filtered["invocations"], json!([]));
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_a_4xx_is_final() {
    let sb = common::spawn_with(SandboxConfig {
        webhook_timeout: Duration::from_millis(300),
        webhook_retries: 1,
        webhook_retry_backoff: Duration::from_millis(10),
        ..SandboxConfig::default()
    })
    .await;
    let slow = Receiver::start(0, Duration::from_secs(3)).await;
    let hook = create_webhook(&sb, trigger_webhook(&slow.url)).await;
    create_trigger(
        &sb,
        json!({
            "title": "On create",
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "notification_webhook", "value": [hook, "{}"]}],
        }),
    )
    .await;
    sb.create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    let log = settled_deliveries(&sb, 1).await;
    assert_eq!(log[0]["status"], "timeout", "{:?}", log[0]);
    let attempts = log[0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "one try and one retry");
    for a in attempts {
        assert_eq!(a["outcome"], "timeout");
        assert!(a["status"].is_null());
        assert!(
            a["error"]
                .as_str()
                .unwrap_or_default()
                .contains("timed out"),
            "{a}"
        );
    }

    // A 4xx is not retried. Point the webhook at a path the sandbox itself answers 401 on.
    let (status, _) = send(sb.admin(Method::PATCH, &format!("/api/v2/webhooks/{hook}")).json(&json!({"webhook": {"endpoint": format!("{}/api/v2/users/me", sb.base), "http_method": "GET", "authentication": null}}))).await;
    assert_eq!(status, 204);
    let (status, _) = send(sb.admin(Method::DELETE, "/sandbox/deliveries")).await;
    assert_eq!(status, 200);
    sb.create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    let log = settled_deliveries(&sb, 1).await;
    assert_eq!(log[0]["status"], "client error");
    assert_eq!(log[0]["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(log[0]["attempts"][0]["status"], 401);
}

#[tokio::test]
async fn inactive_webhooks_and_triggers_do_not_fire() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let mut inactive_hook = trigger_webhook(&rx.url);
    inactive_hook["status"] = json!("inactive");
    let off = create_webhook(&sb, inactive_hook).await;
    let on = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    let on_create = json!({"all": [{"field": "update_type", "operator": "is", "value": "Create"}]});
    create_trigger(
        &sb,
        json!({"title": "To an inactive webhook", "conditions": on_create,
        "actions": [{"field": "notification_webhook", "value": [off, "{}"]}]}),
    )
    .await;
    create_trigger(&sb, json!({"title": "Inactive", "active": false, "conditions": on_create,
        "actions": [{"field": "notification_webhook", "value": [on, "{}"]}, {"field": "current_tags", "value": "never"}]})).await;
    let id = sb
        .create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    assert!(deliveries(&sb).await.is_empty());
    assert!(rx.hits().is_empty());
    let t = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(t["ticket"]["tags"], json!([]));
}

#[tokio::test]
async fn trigger_actions_change_the_ticket() {
    let sb = common::spawn().await;
    create_trigger(
        &sb,
        json!({
            "title": "Triage voice tickets",
            "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "Create"},
                {"field": "current_tags", "operator": "includes", "value": "voice missed"},
            ]},
            "actions": [
                {"field": "current_tags", "value": "triaged"},
                {"field": "remove_tags", "value": "missed"},
                {"field": "priority", "value": "high"},
                {"field": "group_id", "value": "20003"},
            ],
        }),
    )
    .await;
    let (status, body) = send(sb.admin(Method::POST, "/api/v2/tickets").json(&json!({"ticket": {"subject": "Missed call", "comment": {"body": "y"}, "tags": ["missed"]}}))).await;
    assert_eq!(status, 201, "{body}");
    let t = &body["ticket"];
    assert_eq!(t["tags"], json!(["triaged"]));
    assert_eq!(t["priority"], "high");
    assert_eq!(t["group_id"], 20003);
    let id = t["id"].as_u64().expect("id");
    let stored = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(stored["ticket"]["tags"], json!(["triaged"]));
    // Not tagged: the trigger does not fire.
    let other = sb
        .create_ticket(json!({"subject": "Email", "comment": {"body": "y"}}))
        .await;
    let stored = sb.get_json(&format!("/api/v2/tickets/{other}")).await;
    assert_eq!(stored["ticket"]["priority"], Value::Null);
}
