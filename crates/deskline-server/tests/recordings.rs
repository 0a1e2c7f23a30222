//! Recording links end to end over HTTP: a call's recording reaches the ticket as deskline's
//! stable link (`link = "deskline"`), which redirects to a fresh link from a fake MyOperator
//! pull API; forged, tampered and expired links open nothing; provider links stay the default.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::StatusCode as AxumStatus;
use axum::routing::get;
use axum::Router;
use chrono::{Duration, Utc};
use common::*;
use deskline_core::recording::{RecordingLinkMode, RecordingLinkSigner};
use deskline_server::app::StartError;
use deskline_server::config::Config;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// deskline's public URL in these tests (tickets get links on it; requests go to loopback).
const PUBLIC_URL: &str = "https://deskline.acme.test";
const LINK_KEY: &str = "e2e-recording-link-key-0123456789abcdef";
const API_TOKEN: &str = "e2e-myoperator-api-token-7f3a";
/// The recording in examples/myoperator/after-call-answered.json.
const PROVIDER_URL: &str = "https://app.myoperator.co/audio/a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b";
const FILE_NAME: &str = "a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b.mp3";
/// What the fake MyOperator API hands out.
const FRESH_URL: &str =
    "https://recordings.myoperator.test/a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b.mp3?expires=1&sig=ab%2Fcd";

/// A fake MyOperator pull API: answers `GET /recordings/link` with a settable answer and
/// records the token and file of every request.
#[derive(Clone)]
struct FakeMyOperator {
    url: String,
    asked: Arc<Mutex<Vec<(String, String)>>>,
    answer: Arc<Mutex<(u16, String)>>,
}

impl FakeMyOperator {
    async fn start() -> FakeMyOperator {
        let fake = FakeMyOperator {
            url: String::new(),
            asked: Arc::default(),
            answer: Arc::new(Mutex::new((
                200,
                json!({"status": "success", "data": {"url": FRESH_URL}}).to_string(),
            ))),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fake MyOperator API");
        let addr = listener.local_addr().expect("the fake's address");
        let app = Router::new()
            .route("/recordings/link", get(recording_link))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeMyOperator {
            url: format!("http://{addr}"),
            ..fake
        }
    }

    fn asked(&self) -> Vec<(String, String)> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn answer_with(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = (status, body.to_string());
    }
}

async fn recording_link(
    State(fake): State<FakeMyOperator>,
    Query(query): Query<HashMap<String, String>>,
) -> (AxumStatus, String) {
    fake.asked
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((
            query.get("token").cloned().unwrap_or_default(),
            query.get("file").cloned().unwrap_or_default(),
        ));
    let (status, body) = fake
        .answer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    (
        AxumStatus::from_u16(status).unwrap_or(AxumStatus::INTERNAL_SERVER_ERROR),
        body,
    )
}

/// The test configuration with deskline links on the MyOperator source, fetching fresh links
/// from `api_url` when given.
fn deskline_links(config: &mut Config, api_url: Option<&str>) {
    config.server.public_url = Some(PUBLIC_URL.to_string());
    config.server.recording_link_key = Some(LINK_KEY.to_string());
    let source = config
        .sources
        .get_mut(SOURCE)
        .expect("the MyOperator source");
    source.recordings.link = RecordingLinkMode::Deskline;
    source.recordings.link_lifetime_days = Some(365);
    if let Some(url) = api_url {
        source.recordings.api_token = Some(API_TOKEN.to_string());
        source.recordings.api_url = Some(url.to_string());
    }
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// `GET {deskline}/recordings/{token}`: status, Location, and the body as text.
async fn open(app: &TestApp, token: &str) -> (StatusCode, Option<String>, String) {
    let r = no_redirects()
        .get(format!("{}/recordings/{token}", app.url))
        .send()
        .await
        .expect("GET /recordings/{token}");
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, location, r.text().await.unwrap_or_default())
}

/// Delivers the answered example call and returns its ticket once every job has completed.
async fn answered_call_ticket(app: &TestApp) -> (String, Value) {
    let payload = answered_call();
    let call = call_id(&payload);
    app.deliver(&payload).await;
    let id = app.wait_for_ticket(&call).await;
    app.settle().await;
    (call, app.ticket(id).await)
}

/// The token of deskline's link in the ticket's recording field, checking the note has the
/// same link and neither has the provider's.
async fn deskline_token_in(app: &TestApp, ticket: &Value) -> String {
    let link = field(ticket, FIELD_RECORDING).expect("the recording field is set");
    let prefix = format!("{PUBLIC_URL}/recordings/");
    let token = link
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the field holds deskline's link, not {link}"))
        .to_string();
    let id = ticket["id"].as_u64().expect("a ticket id");
    let comments = app.comments(id).await;
    let note = comment_body(&comments[0]);
    assert!(
        note.contains(&format!("Recording: {link}")),
        "the note has deskline's link: {note}"
    );
    assert!(
        !note.contains(PROVIDER_URL),
        "not the provider's link: {note}"
    );
    token
}

fn assert_invalid_link(what: &str, (status, location, body): (StatusCode, Option<String>, String)) {
    assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    assert_eq!(location, None, "{what}");
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(
        body,
        json!({"error": "invalid_link", "message": "invalid or expired link"}),
        "{what}: one answer whatever the reason"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticket_gets_a_deskline_link_that_redirects_to_a_fresh_provider_link() {
    let fake = FakeMyOperator::start().await;
    let app = spawn_app_with(sandbox_config(), |c| deskline_links(c, Some(&fake.url))).await;
    let (_, ticket) = answered_call_ticket(&app).await;
    let token = deskline_token_in(&app, &ticket).await;
    assert!(
        fake.asked().is_empty(),
        "nothing is fetched until the link is opened"
    );

    let r = no_redirects()
        .get(format!("{}/recordings/{token}", app.url))
        .send()
        .await
        .expect("GET the link");
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(FRESH_URL),
        "redirected to the fresh link, byte for byte"
    );
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(
        fake.asked(),
        [(API_TOKEN.to_string(), FILE_NAME.to_string())],
        "MyOperator was asked once, with the API token and the call's file name"
    );

    // Opened again within hours: the link fetched is reused, sparing MyOperator's API quota.
    let again = open(&app, &token).await;
    assert_eq!(again.0, StatusCode::FOUND, "{}", again.2);
    assert_eq!(again.1.as_deref(), Some(FRESH_URL));
    assert_eq!(fake.asked().len(), 1, "reused, not fetched again");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tampered_and_expired_links_open_nothing() {
    let fake = FakeMyOperator::start().await;
    let app = spawn_app_with(sandbox_config(), |c| deskline_links(c, Some(&fake.url))).await;
    let (call, ticket) = answered_call_ticket(&app).await;
    let token = deskline_token_in(&app, &ticket).await;

    // One character of the signed payload changed (base64url keeps it a well-formed token).
    let mut tampered: Vec<char> = token.chars().collect();
    tampered[6] = if tampered[6] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    assert_ne!(tampered, token);
    assert_invalid_link("a tampered token", open(&app, &tampered).await);
    assert_invalid_link(
        "a truncated token",
        open(&app, &token[..token.len() - 4]).await,
    );
    assert_invalid_link("garbage", open(&app, "not-a-token").await);

    let ours = RecordingLinkSigner::new(LINK_KEY.as_bytes()).expect("the test key");
    let expired = ours.sign(SOURCE, &call, Some(Utc::now() - Duration::minutes(1)));
    assert_invalid_link("an expired link", open(&app, &expired).await);
    let unknown_call = ours.sign(SOURCE, "no-such-call", None);
    assert_invalid_link(
        "a call without a recording",
        open(&app, &unknown_call).await,
    );
    let theirs = RecordingLinkSigner::new(vec![7u8; 32]).expect("another key");
    assert_invalid_link(
        "a link signed with another key",
        open(&app, &theirs.sign(SOURCE, &call, None)).await,
    );
    assert!(
        fake.asked().is_empty(),
        "no refused link reaches MyOperator"
    );

    // The same call, correctly signed without expiry, does open.
    let (status, location, body) = open(&app, &ours.sign(SOURCE, &call, None)).await;
    assert_eq!(status, StatusCode::FOUND, "{body}");
    assert_eq!(location.as_deref(), Some(FRESH_URL));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_myoperator_fails_the_link_answers_502_without_the_api_token() {
    let fake = FakeMyOperator::start().await;
    let app = spawn_app_with(sandbox_config(), |c| deskline_links(c, Some(&fake.url))).await;
    let (_, ticket) = answered_call_ticket(&app).await;
    let token = deskline_token_in(&app, &ticket).await;

    fake.answer_with(500, &format!("internal error for token {API_TOKEN}"));
    let (status, location, body) = open(&app, &token).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(location, None);
    assert!(
        body.contains("MyOperator") && body.contains("HTTP 500"),
        "{body}"
    );
    assert!(
        !body.contains(API_TOKEN),
        "the API token is never echoed: {body}"
    );

    // A 200 whose body holds no link (an error in MyOperator's words, echoing the token).
    fake.answer_with(
        200,
        &json!({"status": "error", "message": format!("invalid token {API_TOKEN}")}).to_string(),
    );
    let (status, _, body) = open(&app, &token).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("no link in the answer"), "{body}");
    assert!(
        !body.contains(API_TOKEN),
        "the API token is never echoed: {body}"
    );

    // Failures are not cached: once MyOperator answers, the link opens (a plain-text answer).
    fake.answer_with(200, FRESH_URL);
    let (status, location, body) = open(&app, &token).await;
    assert_eq!(status, StatusCode::FOUND, "{body}");
    assert_eq!(location.as_deref(), Some(FRESH_URL));
    assert_eq!(fake.asked().len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_api_token_the_link_redirects_to_the_providers_link() {
    let app = spawn_app_with(sandbox_config(), |c| deskline_links(c, None)).await;
    let (_, ticket) = answered_call_ticket(&app).await;
    let token = deskline_token_in(&app, &ticket).await;
    let (status, location, body) = open(&app, &token).await;
    assert_eq!(status, StatusCode::FOUND, "{body}");
    assert_eq!(location.as_deref(), Some(PROVIDER_URL));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_links_are_the_default() {
    let app = spawn_app().await;
    let (_, ticket) = answered_call_ticket(&app).await;
    assert_eq!(
        field(&ticket, FIELD_RECORDING).as_deref(),
        Some(PROVIDER_URL)
    );
    let id = ticket["id"].as_u64().expect("a ticket id");
    let comments = app.comments(id).await;
    let note = comment_body(&comments[0]);
    assert!(
        note.contains(&format!("Recording: {PROVIDER_URL}")),
        "{note}"
    );
    // No key is configured, so no link of deskline's can open.
    let forged = RecordingLinkSigner::new(LINK_KEY.as_bytes())
        .expect("a key")
        .sign(SOURCE, "any", None);
    assert_invalid_link("no key configured", open(&app, &forged).await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deskline_links_without_a_signing_key_do_not_start() {
    let started = try_spawn_app_with(sandbox_config(), |c| {
        deskline_links(c, None);
        c.server.recording_link_key = None;
    })
    .await;
    match started {
        Err(StartError::RecordingLinks(message)) => {
            assert!(message.contains("server.recording_link_key"), "{message}")
        }
        Err(other) => panic!("the wrong start error: {other}"),
        Ok(app) => {
            app.stop().await;
            panic!("deskline started without a key for its recording links")
        }
    }
}
