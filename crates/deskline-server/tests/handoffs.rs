//! AI and chat handoffs end to end, over real HTTP: a handoff becomes a ticket with every part;
//! the same contact joins their open ticket; deskline's provisioned trigger fires signed
//! webhooks when an agent replies in the sandbox, and the reply reaches a loopback channel
//! receiver signed with the Standard Webhooks headers; internal notes never do; a failing
//! receiver is retried and dead-lettered; the 24-hour window and closed conversations hold
//! replies back (with an injected clock).

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use common::*;
use deskline_core::conversation::ConversationState;
use deskline_server::config::{ConnectorConfig, HandoffConfig, SourceKind};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

const AI: &str = "ai";
const AI_SECRET: &str = "e2e-ai-source-secret-0123456789";
/// 32 random bytes, base64, as Standard Webhooks secrets are written.
const CONNECTOR_SECRET: &str = "whsec_C2FtcGxlLWNvbm5lY3Rvci1zZWNyZXQtMzItYnl0ZXM=";
const PRIYA_EMAIL: &str = "priya.sharma@sandbox.test";
const AGENT_PASSWORD: &str = "agent-password";

/// One request the channel receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON reply")
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

/// A loopback "channel" (the AI platform's reply endpoint): records every request and answers
/// with the scripted statuses, then 200.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app = Router::new()
            .route("/replies", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/replies", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, url)
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.script
            .lock()
            .expect("script")
            .extend(statuses.iter().copied());
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().expect("received").clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    r.got.lock().expect("received").push(Received {
        headers,
        body: body.to_vec(),
    });
    let status = r.script.lock().expect("script").pop_front().unwrap_or(200);
    AxumStatus::from_u16(status).unwrap_or(AxumStatus::OK)
}

/// Checks a delivery's Standard Webhooks signature by hand (not with the library deskline
/// signs with): HMAC-SHA256 over `id.timestamp.body` with the base64-decoded secret.
fn assert_signed(r: &Received) {
    let id = r.header("webhook-id");
    let ts = r.header("webhook-timestamp");
    assert!(!id.is_empty() && !ts.is_empty(), "{:?}", r.headers);
    let stamp: i64 = ts.parse().expect("a Unix timestamp");
    assert!((chrono::Utc::now().timestamp() - stamp).abs() < 300);
    let key = base64::engine::general_purpose::STANDARD
        .decode(CONNECTOR_SECRET.trim_start_matches("whsec_"))
        .expect("secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&r.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(r.header("webhook-signature"), format!("v1,{expected}"));
}

/// deskline with an `ai` handoff source and one connector (serving every channel) pointing at
/// `receiver_url`; `configure` adjusts the configuration.
async fn spawn(
    receiver_url: &str,
    configure: impl FnOnce(&mut deskline_server::config::Config),
) -> TestApp {
    let mut source = source_config(SourceKind::Handoff, AI_SECRET);
    source.handoff = Some(HandoffConfig::default());
    let url = receiver_url.to_string();
    spawn_app_with_sources(vec![(AI, source)], move |config| {
        config.connectors.insert(
            "chat".to_string(),
            ConnectorConfig {
                url,
                secret: CONNECTOR_SECRET.to_string(),
                channels: vec!["*".to_string()],
                timeout: std::time::Duration::from_secs(5),
            },
        );
        configure(config);
    })
    .await
}

fn handoff(session: &str, email: &str, last_message: &str) -> Value {
    json!({
        "sessionId": session,
        "contact": {"name": "Tom Okafor", "email": email, "phone": "+14155550123",
                    "externalId": "cust-77"},
        "channel": "WhatsApp",
        "summary": "Customer was charged twice for order 1182 and wants a refund.",
        "transcript": [
            {"role": "user", "text": "I was charged twice", "at": "2026-11-20T10:00:00Z"},
            {"role": "assistant", "text": "Let me find a colleague.", "at": "2026-11-20T10:00:09Z"},
            {"role": "user", "text": last_message, "at": "2026-11-20T10:00:30Z"}
        ],
        "language": "pt-BR",
        "sentiment": "Angry",
        "mode": "handed_off",
        "sessionLink": format!("https://ai.example/sessions/{session}"),
        "customData": {
            "dataCapture.ticketField.10001": "order-1182",
            "dataCapture.systemField.tags": "Billing, double charge",
            "plan": "pro"
        }
    })
}

async fn post_handoff(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let r = app
        .hook_to(AI)
        .header(SECRET_HEADER, AI_SECRET)
        .json(body)
        .send()
        .await
        .expect("POST /hooks/ai");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Waits for the one ticket of a session and returns it.
async fn ticket_of(app: &TestApp, session: &str) -> Value {
    eventually(&format!("the ticket of session {session}"), || async {
        app.tickets_with_external_id(session)
            .await
            .into_iter()
            .next()
    })
    .await
}

/// Waits until the handoff jobs are all completed.
async fn settled(app: &TestApp, kind: &str, n: usize) {
    eventually(&format!("{n} completed {kind} jobs"), || async {
        let done = app
            .jobs(Some("completed"))
            .await
            .into_iter()
            .filter(|j| j["kind"] == kind)
            .count();
        (done >= n).then_some(())
    })
    .await;
}

async fn conversation(app: &TestApp, session: &str) -> deskline_store::Conversation {
    app.service
        .state
        .store
        .get_conversation(AI, session)
        .await
        .expect("store")
        .expect("the conversation")
}

/// An agent acting in the Agent Workspace (web, not the API): this is what fires the trigger.
async fn agent_comment(app: &TestApp, ticket: u64, public: bool, text: &str, status: Option<&str>) {
    let mut t = json!({"comment": {"body": text, "public": public}});
    if let Some(s) = status {
        t["status"] = json!(s);
    }
    let r = app
        .http
        .put(format!("{}/api/v2/tickets/{ticket}", app.sandbox_url))
        .basic_auth(PRIYA_EMAIL, Some(AGENT_PASSWORD))
        .json(&json!({"ticket": t}))
        .send()
        .await
        .expect("agent comment");
    assert!(r.status().is_success(), "agent comment: {}", r.status());
}

/// Waits until `n` zendesk_event jobs are finished (the trigger and event webhooks processed).
async fn zendesk_events_settled(app: &TestApp, n: usize) {
    eventually(&format!("{n} finished zendesk_event jobs"), || async {
        let finished = app
            .jobs(None)
            .await
            .into_iter()
            .filter(|j| j["kind"] == "zendesk_event")
            .filter(|j| j["state"] == "completed" || j["state"] == "discarded")
            .count();
        (finished >= n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_handoff_becomes_a_ticket_with_every_part_once() {
    let (_receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    let body = handoff("sess-1", "tom@okafor.example", "Please hurry");
    let (status, answer) = post_handoff(&app, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["kind"], "handoff.handed_off");
    let ticket = ticket_of(&app, "sess-1").await;
    settled(&app, "handoff_ticket", 1).await;
    let id = ticket["id"].as_u64().expect("id");

    assert_eq!(
        ticket["subject"],
        "Customer was charged twice for order 1182 and wants a refund."
    );
    let tags: Vec<&str> = ticket["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tag in [
        "deskline",
        "deskline_handedoff",
        "deskline_channel_whatsapp",
        "deskline_sentiment_angry",
        "deskline_language_pt_br",
        "deskline_ticket_created_on_handoff",
        "billing",
        "double_charge",
    ] {
        assert!(tags.contains(&tag), "{tag} missing from {tags:?}");
    }
    let field = ticket["custom_fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["id"] == 10001)
        .cloned()
        .unwrap_or_default();
    assert_eq!(field["value"], "order-1182");
    assert!(
        ticket["assignee_id"].is_null(),
        "no default assignee: routing decides"
    );

    // The requester, found or created by email, with the number.
    let requester = app
        .sandbox_get(&format!("/api/v2/users/{}", ticket["requester_id"]))
        .await;
    assert_eq!(requester["user"]["email"], "tom@okafor.example");
    assert_eq!(requester["user"]["name"], "Tom Okafor");

    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 2, "{comments:#?}");
    let summary = comments[0]["body"].as_str().unwrap_or_default();
    assert!(
        summary.contains("Summary: Customer was charged twice"),
        "{summary}"
    );
    assert_eq!(
        comments[0]["public"], false,
        "nothing AI-written reaches the customer"
    );
    let transcript = comments[1]["body"].as_str().unwrap_or_default();
    assert!(
        transcript.starts_with("Transcript (WhatsApp, 3 messages):"),
        "{transcript}"
    );
    assert!(
        transcript.contains("Customer: Please hurry"),
        "{transcript}"
    );
    assert!(transcript.contains("Session: https://ai.example/sessions/sess-1"));
    assert_eq!(
        comments[1]["public"], false,
        "the transcript is internal by default"
    );

    let c = conversation(&app, "sess-1").await;
    assert_eq!(c.ticket_id, Some(id));
    assert_eq!(c.channel, "whatsapp");
    assert_eq!(c.email.as_deref(), Some("tom@okafor.example"));
    assert_eq!(c.phone.as_deref(), Some("+14155550123"));
    assert_eq!(c.status.state, ConversationState::Open);

    // Inspectable through the admin API.
    let (status, shown) = app.admin_get("/admin/conversations/ai/sess-1").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["conversation"]["ticket_id"], id);
    assert_eq!(shown["conversation"]["status"]["state"], "open");
    let (status, listed) = app
        .admin_get(&format!("/admin/tickets/{id}/conversations"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["conversations"][0]["session_id"], "sess-1");
    let (status, _) = app.admin_get("/admin/conversations/ai/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anonymous = app
        .http
        .get(format!("{}/admin/conversations/ai/sess-1", app.url))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Delivered again: recognised, one ticket, no new comment.
    let (status, answer) = post_handoff(&app, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "duplicate");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.tickets_with_external_id("sess-1").await.len(), 1);
    assert_eq!(app.comments(id).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn the_same_contact_joins_their_open_ticket_until_it_is_solved() {
    let (_receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    post_handoff(&app, &handoff("first", "amy@example.test", "hello")).await;
    let first = ticket_of(&app, "first").await;
    settled(&app, "handoff_ticket", 1).await;
    let id = first["id"].as_u64().expect("id");

    // Another session of the same contact (matched by email, any case) while it is open.
    let mut again = handoff("second", "AMY@example.test", "me again");
    again["channel"] = json!("web");
    let (status, _) = post_handoff(&app, &again).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    settled(&app, "handoff_ticket", 2).await;
    assert!(app.tickets_with_external_id("second").await.is_empty());
    let comments = app.comments(id).await;
    assert_eq!(
        comments.len(),
        3,
        "summary, transcript, then the second handoff"
    );
    let added = comments[2]["body"].as_str().unwrap_or_default();
    assert!(
        added.contains("Web chat conversation with Tom Okafor"),
        "{added}"
    );
    assert!(added.contains("Customer: me again"), "{added}");
    let tags = app.ticket(id).await["tags"].clone();
    assert!(tags
        .as_array()
        .expect("tags")
        .contains(&json!("deskline_channel_web")));
    assert_eq!(conversation(&app, "second").await.ticket_id, Some(id));

    // Solved: the next handoff opens a new ticket.
    let r = app
        .sandbox(reqwest::Method::PUT, &format!("/api/v2/tickets/{id}"))
        .json(&json!({"ticket": {"status": "solved"}}))
        .send()
        .await
        .expect("solve");
    assert!(r.status().is_success());
    post_handoff(&app, &handoff("third", "amy@example.test", "new problem")).await;
    let third = ticket_of(&app, "third").await;
    assert_ne!(third["id"].as_u64(), Some(id));
    assert_eq!(
        third["requester_id"], first["requester_id"],
        "the same requester"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_handoffs_are_refused_and_change_nothing() {
    let (_receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    let body = handoff("bad-1", "x@example.test", "hi");
    let r = app.hook_to(AI).json(&body).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .hook_to(AI)
        .header(SECRET_HEADER, "wrong-secret-0123456789")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let mut no_contact = body.clone();
    no_contact["contact"] = json!({"name": "Nobody"});
    let (status, answer) = post_handoff(&app, &no_contact).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("contact"),
        "{answer}"
    );
    let r = app
        .hook_to(AI)
        .header(SECRET_HEADER, AI_SECRET)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(app.jobs(None).await.is_empty(), "nothing stored or queued");
    app.stop().await;
}

#[tokio::test]
async fn an_agents_public_reply_reaches_the_channel_signed_and_a_note_never_does() {
    let (receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    app.provision().await;
    post_handoff(&app, &handoff("chat-1", "rita@example.test", "hello?")).await;
    let id = ticket_of(&app, "chat-1").await["id"].as_u64().expect("id");
    settled(&app, "handoff_ticket", 1).await;

    agent_comment(&app, id, false, "internal: check the refund system", None).await;
    agent_comment(
        &app,
        id,
        true,
        "Hi Rita, I have refunded the duplicate.",
        None,
    )
    .await;
    let delivered = eventually("the reply at the receiver", || async {
        let got = receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    zendesk_events_settled(&app, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let delivered_now = receiver.received();
    assert_eq!(
        delivered_now.len(),
        1,
        "one delivery, the note sent nothing"
    );
    let r = &delivered[0];
    assert_signed(r);
    let body = r.json();
    assert_eq!(body["type"], "agent.reply");
    assert_eq!(
        body["data"]["comment"]["body"],
        "Hi Rita, I have refunded the duplicate."
    );
    assert_eq!(body["data"]["conversation"]["session_id"], "chat-1");
    assert_eq!(body["data"]["conversation"]["channel"], "whatsapp");
    assert_eq!(
        body["data"]["conversation"]["contact"]["email"],
        "rita@example.test"
    );
    assert_eq!(body["data"]["ticket_id"], id);
    assert_eq!(body["data"]["agent"]["id"], PRIYA);
    assert_eq!(body["data"]["agent"]["email"], PRIYA_EMAIL);
    assert!(!String::from_utf8_lossy(&r.body).contains("internal: check"));
    let c = conversation(&app, "chat-1").await;
    assert_eq!(c.status.state, ConversationState::Assigned);
    assert_eq!(c.status.agent_id, Some(PRIYA));

    // Every Zendesk webhook delivered twice has one effect: re-send each stored one signed.
    let secret = app
        .service
        .state
        .store
        .get_link("zendesk_webhook", "signing_secret")
        .await
        .expect("store")
        .expect("provisioned secret")
        .value;
    let stored = app
        .service
        .state
        .store
        .list_events(&deskline_store::EventFilter {
            source: Some("zendesk".to_string()),
            ..deskline_store::EventFilter::default()
        })
        .await
        .expect("events");
    assert!(!stored.is_empty());
    for e in &stored {
        let event = app
            .service
            .state
            .store
            .get_event(e.id)
            .await
            .expect("store")
            .expect("event");
        let raw = String::from_utf8(event.raw_body).expect("utf-8");
        let events_secret = app
            .service
            .state
            .store
            .get_link("zendesk_webhook", "events_signing_secret")
            .await
            .expect("store")
            .expect("provisioned secret")
            .value;
        let key = if e.kind == "zendesk.trigger" {
            &secret
        } else {
            &events_secret
        };
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("key");
        mac.update(stamp.as_bytes());
        mac.update(raw.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let again = app
            .http
            .post(format!("{}/zendesk/webhook", app.url))
            .header("content-type", "application/json")
            .header("x-zendesk-webhook-signature-timestamp", stamp)
            .header("x-zendesk-webhook-signature", sig)
            .body(raw)
            .send()
            .await
            .expect("redeliver");
        assert_eq!(again.status(), StatusCode::OK, "recognised as a duplicate");
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "still one delivery");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_channel_is_retried_with_the_same_message_then_dead_lettered() {
    let (receiver, url) = Receiver::start().await;
    let app = spawn(&url, |config| config.worker.max_attempts = 3).await;
    app.provision().await;
    post_handoff(&app, &handoff("flaky", "flo@example.test", "hi")).await;
    let id = ticket_of(&app, "flaky").await["id"].as_u64().expect("id");
    settled(&app, "handoff_ticket", 1).await;

    // Two failures, then success: three attempts of one message.
    receiver.answer_next(&[500, 503]);
    agent_comment(&app, id, true, "First answer", None).await;
    settled(&app, "reply_delivery", 1).await;
    let got = receiver.received();
    assert_eq!(got.len(), 3, "two failures and the success");
    let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one message id: {ids:?}");
    got.iter().for_each(assert_signed);

    // Failing every time: the dead letter, with the receiver's answer as the reason.
    receiver.answer_next(&[500, 500, 500]);
    agent_comment(&app, id, true, "Second answer", None).await;
    let dead = eventually("the delivery in the dead letter", || async {
        app.jobs(Some("discarded"))
            .await
            .into_iter()
            .find(|j| j["kind"] == "reply_delivery")
    })
    .await;
    let text = dead.to_string();
    assert!(text.contains("answered 500"), "{text}");
    assert_eq!(receiver.received().len(), 6);
    app.stop().await;
}

#[tokio::test]
async fn the_24_hour_window_and_closed_conversations_hold_replies_back() {
    let (receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    app.provision().await;
    // The customer wrote 25 hours ago (deskline's clock moved back while it arrived).
    app.clock.shift(chrono::Duration::hours(-25));
    post_handoff(&app, &handoff("late", "lee@example.test", "anyone?")).await;
    let id = ticket_of(&app, "late").await["id"].as_u64().expect("id");
    settled(&app, "handoff_ticket", 1).await;
    app.clock.shift(chrono::Duration::zero());

    agent_comment(&app, id, true, "Sorry for the wait", None).await;
    zendesk_events_settled(&app, 1).await;
    assert!(
        receiver.received().is_empty(),
        "outside the window: not sent"
    );
    let note = eventually("the note telling the agent", || async {
        app.comments(id).await.into_iter().find(|c| {
            c["public"] == false
                && c["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("did not send this reply"))
        })
    })
    .await;
    assert!(note["body"]
        .as_str()
        .unwrap_or_default()
        .contains("24 hours"));

    // The customer writes again: the window restarts, the reply goes out.
    post_handoff(&app, &handoff("late", "lee@example.test", "still there?")).await;
    settled(&app, "handoff_ticket", 2).await;
    assert_eq!(
        app.tickets_with_external_id("late").await.len(),
        1,
        "the same ticket"
    );
    agent_comment(&app, id, true, "Yes, refunded now.", None).await;
    let got = eventually("the reply", || async {
        let got = receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(
        got[0].json()["data"]["comment"]["body"],
        "Yes, refunded now."
    );

    // Reply and solve in one update: the reply still goes out, then the conversation closes.
    agent_comment(&app, id, true, "Closing this, thanks!", Some("solved")).await;
    eventually("the closing reply", || async {
        (receiver.received().len() == 2).then_some(())
    })
    .await;
    eventually("the conversation closed", || async {
        let c = conversation(&app, "late").await;
        (c.status.state == ConversationState::Closed).then_some(())
    })
    .await;
    // Closed: an agent's later reply is not sent.
    let before = app
        .jobs(None)
        .await
        .into_iter()
        .filter(|j| j["kind"] == "zendesk_event")
        .count();
    agent_comment(&app, id, true, "One more thing", None).await;
    zendesk_events_settled(&app, before + 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "a closed conversation gets nothing"
    );
    app.stop().await;
}

/// The API requests the sandbox logged after `before`, as `METHOD path`, without the test's own
/// polling: it lists tickets by external id without paging parameters, while deskline's client
/// always pages, so deskline's own look-ups still count.
async fn deskline_requests_since(app: &TestApp, before: u64) -> Vec<String> {
    app.sandbox_requests(before)
        .await
        .iter()
        .filter(|r| {
            r["path"].as_str().is_some_and(|p| {
                p.starts_with("/api/") && !p.starts_with("/api/v2/tickets?external_id=")
            })
        })
        .map(|r| format!("{} {}", r["method"], r["path"]).replace('"', ""))
        .collect()
}

#[tokio::test]
async fn a_handoff_costs_three_zendesk_requests_and_joining_an_open_ticket_two() {
    let (_receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    let before = app.last_request_seq().await;
    post_handoff(&app, &handoff("cost-1", "carl@example.test", "hi")).await;
    ticket_of(&app, "cost-1").await;
    settled(&app, "handoff_ticket", 1).await;
    let first = deskline_requests_since(&app, before).await;
    assert_eq!(
        first.len(),
        3,
        "user create_or_update, ticket create, transcript: {first:#?}"
    );

    let before = app.last_request_seq().await;
    post_handoff(&app, &handoff("cost-2", "carl@example.test", "again")).await;
    settled(&app, "handoff_ticket", 2).await;
    let second = deskline_requests_since(&app, before).await;
    assert_eq!(
        second.len(),
        2,
        "the ticket's status, then the appended handoff: {second:#?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn handoffs_through_zendesk_5xx_end_as_one_ticket_and_one_transcript_each() {
    let (_receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    // Few handoffs: each new contact's create_or_update waits for that endpoint's own limit
    // (one call per 1.1 s), failed calls included.
    app.set_faults(json!({"error_rate": 0.3})).await;
    for i in 0..5 {
        let mut body = handoff(&format!("flaky-{i}"), &format!("c{i}@example.test"), "hi");
        body["contact"]["phone"] = json!(format!("+1415555020{i}"));
        body["contact"]["externalId"] = json!(format!("cust-{i}"));
        let (status, body) = post_handoff(&app, &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let jobs = app.jobs(None).await;
        let done = jobs
            .iter()
            .filter(|j| j["kind"] == "handoff_ticket" && j["state"] == "completed")
            .count();
        if done == 5 {
            break;
        }
        if std::time::Instant::now() > deadline {
            panic!("the handoffs did not all complete: {jobs:#?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.clear_faults().await;
    for i in 0..5 {
        let tickets = app.tickets_with_external_id(&format!("flaky-{i}")).await;
        assert_eq!(tickets.len(), 1, "session flaky-{i}: {tickets:#?}");
        let id = tickets[0]["id"].as_u64().expect("id");
        let transcripts = app
            .comments(id)
            .await
            .iter()
            .filter(|c| {
                c["body"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("Transcript"))
            })
            .count();
        assert_eq!(transcripts, 1, "ticket {id}");
    }
    assert!(app.jobs(Some("discarded")).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn quick_successive_replies_are_each_delivered_once_in_order() {
    let (receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    app.provision().await;
    post_handoff(&app, &handoff("quick", "quinn@example.test", "hi")).await;
    let id = ticket_of(&app, "quick").await["id"].as_u64().expect("id");
    settled(&app, "handoff_ticket", 1).await;
    // Three replies without waiting: a trigger may be handled after later comments exist.
    for text in ["One", "Two", "Three"] {
        agent_comment(&app, id, true, text, None).await;
    }
    let got = eventually("three deliveries", || async {
        let got = receiver.received();
        (got.len() >= 3).then_some(got)
    })
    .await;
    zendesk_events_settled(&app, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let bodies: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.json()["data"]["comment"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(bodies, ["One", "Two", "Three"], "each once, in order");
    let ids: std::collections::BTreeSet<String> =
        got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_ticket_solved_without_a_reply_closes_its_conversation_through_the_event_webhook() {
    let (receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    app.provision().await;
    post_handoff(&app, &handoff("solved-quietly", "sam@example.test", "hi")).await;
    let id = ticket_of(&app, "solved-quietly").await["id"]
        .as_u64()
        .expect("id");
    settled(&app, "handoff_ticket", 1).await;
    // Solved through the API: no public comment, so only ticket.status_changed tells deskline.
    let r = app
        .sandbox(reqwest::Method::PUT, &format!("/api/v2/tickets/{id}"))
        .json(&json!({"ticket": {"status": "solved"}}))
        .send()
        .await
        .expect("solve");
    assert!(r.status().is_success());
    eventually("the conversation closed", || async {
        let c = conversation(&app, "solved-quietly").await;
        (c.status.state == ConversationState::Closed).then_some(())
    })
    .await;
    let c = conversation(&app, "solved-quietly").await;
    assert!(c.status.closed_at.is_some());
    assert!(receiver.received().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn queued_jobs_wake_the_workers_instead_of_waiting_for_the_next_poll() {
    let (receiver, url) = Receiver::start().await;
    // A poll far longer than the test may take: only the wake-up can explain a quick result.
    let app = spawn(&url, |config| {
        config.worker.poll_interval = std::time::Duration::from_secs(120);
    })
    .await;
    app.provision().await;
    let started = std::time::Instant::now();
    post_handoff(&app, &handoff("awake", "ada@example.test", "hi")).await;
    let id = ticket_of(&app, "awake").await["id"].as_u64().expect("id");
    settled(&app, "handoff_ticket", 1).await;
    agent_comment(&app, id, true, "Hello Ada", None).await;
    eventually("the reply", || async {
        (!receiver.received().is_empty()).then_some(())
    })
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "handoff, ticket, reply and delivery took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn reply_and_solve_is_sent_even_when_the_status_event_is_handled_first() {
    let (receiver, url) = Receiver::start().await;
    let app = spawn(&url, |_| {}).await;
    app.provision().await;
    // Without the reply trigger only ticket.status_changed arrives: the hardest order.
    let trigger = app
        .service
        .state
        .store
        .get_link("zendesk_provision", "reply_trigger_id")
        .await
        .expect("store")
        .expect("provisioned trigger")
        .value;
    let r = app
        .sandbox(
            reqwest::Method::DELETE,
            &format!("/api/v2/triggers/{trigger}"),
        )
        .send()
        .await
        .expect("delete the trigger");
    assert!(r.status().is_success(), "{}", r.status());
    post_handoff(&app, &handoff("solve-first", "sol@example.test", "hi")).await;
    let id = ticket_of(&app, "solve-first").await["id"]
        .as_u64()
        .expect("id");
    settled(&app, "handoff_ticket", 1).await;
    agent_comment(&app, id, true, "Refunded, closing.", Some("solved")).await;
    let got = eventually("the reply", || async {
        let got = receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(
        got[0].json()["data"]["comment"]["body"],
        "Refunded, closing."
    );
    eventually("the conversation closed", || async {
        let c = conversation(&app, "solve-first").await;
        (c.status.state == ConversationState::Closed).then_some(())
    })
    .await;
    app.stop().await;
}
