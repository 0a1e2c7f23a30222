//! Zendesk's own webhooks into deskline, over real HTTP: the sandbox's trigger fires a signed
//! delivery when an agent replies publicly; deskline verifies and stores it once; bad, missing
//! or stale signatures and an unknown secret are refused with nothing stored.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use chrono::Utc;
use common::*;
use deskline_server::zendesk_hook::{SIGNING_SECRET_LINK, ZENDESK_SOURCE};
use deskline_store::EventFilter;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn zendesk_events(app: &TestApp) -> Vec<deskline_store::EventSummary> {
    app.service
        .state
        .store
        .list_events(&EventFilter {
            source: Some(ZENDESK_SOURCE.to_string()),
            ..EventFilter::default()
        })
        .await
        .expect("events")
}

async fn sandbox_admin(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = app
        .http
        .request(method, format!("{}{path}", app.sandbox_url))
        .basic_auth(format!("{SANDBOX_ADMIN}/token"), Some(SANDBOX_TOKEN))
        .json(&body)
        .send()
        .await
        .expect("sandbox request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn post_signed(
    app: &TestApp,
    secret: &str,
    timestamp: &str,
    body: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{}/zendesk/webhook", app.url))
        .header("content-type", "application/json")
        .header("x-zendesk-webhook-signature-timestamp", timestamp)
        .header("x-zendesk-webhook-signature", sign(secret, timestamp, body))
        .body(body.to_string())
        .send()
        .await
        .expect("post")
}

fn now_stamp() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test]
async fn an_agents_public_reply_arrives_signed_and_is_stored_once_and_a_note_sends_nothing() {
    let app = spawn_app().await;
    let webhook = sandbox_admin(
        &app,
        reqwest::Method::POST,
        "/api/v2/webhooks",
        json!({"webhook": {"name": "deskline", "endpoint": format!("{}/zendesk/webhook", app.url),
            "http_method": "POST", "request_format": "json", "status": "active",
            "subscriptions": ["conditional_ticket_events"]}}),
    )
    .await;
    let webhook_id = webhook["webhook"]["id"]
        .as_str()
        .expect("webhook id")
        .to_string();
    sandbox_admin(
        &app,
        reqwest::Method::POST,
        "/api/v2/triggers",
        json!({"trigger": {"title": "deskline replies",
            "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "Change"},
                {"field": "comment_is_public", "operator": "is", "value": "true"},
                {"field": "current_via_id", "operator": "is_not", "value": "5"}], "any": []},
            "actions": [{"field": "notification_webhook", "value": [webhook_id.clone(),
                "{\"ticket_id\":\"{{ticket.id}}\",\"comment\":\"{{ticket.latest_public_comment}}\"}"]}]}}),
    )
    .await;
    let secret = app
        .sandbox_get(&format!("/api/v2/webhooks/{webhook_id}/signing_secret"))
        .await["signing_secret"]["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let (kind, key) = SIGNING_SECRET_LINK;
    app.service
        .state
        .store
        .put_link(kind, key, &secret, Utc::now())
        .await
        .expect("store the secret");

    let ticket = sandbox_admin(
        &app,
        reqwest::Method::POST,
        "/api/v2/tickets",
        json!({"ticket": {"comment": {"body": "Call", "public": false}, "requester_id": ANITA}}),
    )
    .await;
    let id = ticket["ticket"]["id"].as_u64().expect("ticket id");
    let reply = |public: bool, text: &str| {
        app.http
            .put(format!("{}/api/v2/tickets/{id}", app.sandbox_url))
            .basic_auth("priya.sharma@sandbox.test", Some("agent-password"))
            .json(&json!({"ticket": {"comment": {"body": text, "public": public}}}))
            .send()
    };
    assert!(reply(false, "internal only")
        .await
        .expect("note")
        .status()
        .is_success());
    assert!(reply(true, "We are calling you back")
        .await
        .expect("reply")
        .status()
        .is_success());

    let deadline = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let events = zendesk_events(&app).await;
        if !events.is_empty() || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(events.len(), 1, "only the public reply fires the trigger");
    let stored = app
        .service
        .state
        .store
        .get_event(events[0].id)
        .await
        .expect("event")
        .expect("stored");
    assert_eq!(stored.kind, "zendesk.trigger");
    assert_eq!(stored.normalized["ticket_id"], id.to_string());
    assert_eq!(stored.normalized["comment"], "We are calling you back");
    assert!(stored.headers.get("x-zendesk-webhook-signature").is_none());

    // The same body delivered again (a retry) is recognised.
    let body = String::from_utf8(stored.raw_body.clone()).expect("utf-8");
    let again = post_signed(&app, &secret, &now_stamp(), &body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(zendesk_events(&app).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn bad_missing_or_stale_signatures_and_an_unknown_secret_are_refused() {
    let app = spawn_app().await;
    let body = r#"{"type":"zen:event-type:ticket.created","id":"evt-1","detail":{"id":"5"}}"#;
    // No secret known yet: refused outright.
    let r = post_signed(&app, "whatever", &now_stamp(), body).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let msg: Value = r.json().await.expect("json");
    assert!(
        msg["message"]
            .as_str()
            .unwrap_or_default()
            .contains("signing secret"),
        "{msg}"
    );

    let secret = "a-signing-secret-0123456789";
    let (kind, key) = SIGNING_SECRET_LINK;
    app.service
        .state
        .store
        .put_link(kind, key, secret, Utc::now())
        .await
        .expect("store the secret");
    let wrong = post_signed(&app, "another-secret", &now_stamp(), body).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let stale_stamp = (Utc::now() - chrono::Duration::minutes(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let stale = post_signed(&app, secret, &stale_stamp, body).await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let unsigned = app
        .http
        .post(format!("{}/zendesk/webhook", app.url))
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let tampered = app
        .http
        .post(format!("{}/zendesk/webhook", app.url))
        .header("x-zendesk-webhook-signature-timestamp", now_stamp())
        .header(
            "x-zendesk-webhook-signature",
            sign(secret, &now_stamp(), body),
        )
        .body(body.replace("evt-1", "evt-2"))
        .send()
        .await
        .expect("post");
    assert_eq!(tampered.status(), StatusCode::UNAUTHORIZED);
    assert!(
        zendesk_events(&app).await.is_empty(),
        "nothing refused is stored"
    );

    // Correctly signed: stored once, its redelivery recognised by the envelope id.
    let ok = post_signed(&app, secret, &now_stamp(), body).await;
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    let again = post_signed(&app, secret, &now_stamp(), body).await;
    assert_eq!(again.status(), StatusCode::OK);
    let events = zendesk_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "zendesk.ticket.created");
    assert_eq!(events[0].dedupe_key, "evt-1");
    app.stop().await;
}

/// Waits until a Zendesk event of `kind` is stored.
async fn wait_for_event_of_kind(app: &TestApp, kind: &str) -> deskline_store::EventSummary {
    eventually(&format!("a stored {kind} event"), || async {
        zendesk_events(app)
            .await
            .into_iter()
            .find(|e| e.kind == kind)
    })
    .await
}

#[tokio::test]
async fn a_configured_secret_does_not_disable_the_secrets_provisioning_stored() {
    let configured = "a-configured-secret-no-provisioned-webhook-uses";
    let app = spawn_app_with(sandbox_config(), |config| {
        config.zendesk.webhook_secret = Some(configured.to_string());
    })
    .await;
    app.provision().await;

    // The events webhook's delivery, signed with its own (provisioned) secret.
    let ticket = sandbox_admin(
        &app,
        reqwest::Method::POST,
        "/api/v2/tickets",
        json!({"ticket": {"comment": {"body": "Call", "public": false}, "requester_id": ANITA}}),
    )
    .await;
    let id = ticket["ticket"]["id"].as_u64().expect("ticket id");
    wait_for_event_of_kind(&app, "zendesk.ticket.created").await;

    // An agent's public reply, through the trigger and the replies webhook (its own secret).
    let r = app
        .http
        .put(format!("{}/api/v2/tickets/{id}", app.sandbox_url))
        .basic_auth("priya.sharma@sandbox.test", Some("agent-password"))
        .json(&json!({"ticket": {"comment": {"body": "We are calling you back", "public": true}}}))
        .send()
        .await
        .expect("reply");
    assert!(r.status().is_success(), "{}", r.status());
    let reply = wait_for_event_of_kind(&app, "zendesk.trigger").await;
    let stored = app
        .service
        .state
        .store
        .get_event(reply.id)
        .await
        .expect("event")
        .expect("stored");
    assert_eq!(
        stored.normalized["latest_public_comment"],
        "We are calling you back"
    );

    // The configured secret is still accepted; a secret nobody knows is not.
    let body = r#"{"type":"zen:event-type:ticket.status_changed","id":"evt-configured","detail":{"id":"5"}}"#;
    let ok = post_signed(&app, configured, &now_stamp(), body).await;
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    let unknown = body.replace("evt-configured", "evt-unknown");
    let refused = post_signed(&app, "a-secret-nobody-configured", &now_stamp(), &unknown).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !zendesk_events(&app)
            .await
            .iter()
            .any(|e| e.dedupe_key == "evt-unknown"),
        "nothing refused is stored"
    );
    app.stop().await;
}
