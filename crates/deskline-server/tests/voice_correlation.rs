//! AI phone agents and Zendesk Talk, over real HTTP: the AI registers its phone session; the
//! sandbox creates a voice ticket for the caller and delivers its signed `ticket.created`
//! event; deskline ties the ticket to the session (exact E.164 match only) and enriches the
//! contact from the requester and their organization; the session's SIP headers then carry
//! `X-Zendesk-Ticket-Id` to SIP destinations only. Tickets of other channels, other numbers,
//! near-miss numbers and a session of an earlier call change nothing, and a repeated delivery
//! has one effect.

mod common;

use base64::Engine;
use chrono::Utc;
use common::*;
use deskline_server::config::SourceKind;
use deskline_server::zendesk_hook::{
    ticket_id_of, EVENTS_SIGNING_SECRET_LINK, VOICE_CORRELATION_JOB,
};
use deskline_store::{Conversation, JobId};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

/// The AI phone agent's handoff source.
const VOICEBOT: &str = "voicebot";
const VOICEBOT_SECRET: &str = "e2e-voicebot-secret-0123456789";
/// Anita's number (seeded in the sandbox, organization Acme Logistics).
const ANITA_PHONE: &str = "+919876543210";
/// The number the AI agent answers on.
const AI_NUMBER: &str = "+918040001234";
const ZENDESK_SIP: &str = "sip:support@acme.sip.twilio.com";

async fn spawn() -> TestApp {
    let source = source_config(SourceKind::Handoff, VOICEBOT_SECRET);
    // No wait for late sessions, so "no session" is the answer at once; the wait has its own
    // test.
    let app = spawn_app_with_sources(vec![(VOICEBOT, source)], |config| {
        config.zendesk.voice_session_wait = std::time::Duration::ZERO;
    })
    .await;
    subscribe_to_ticket_created(&app).await;
    app
}

/// An event-subscription webhook in the sandbox for `ticket.created`, pointing at deskline,
/// with its signing secret stored where provisioning keeps it.
async fn subscribe_to_ticket_created(app: &TestApp) -> String {
    let r = app
        .sandbox(Method::POST, "/api/v2/webhooks")
        .json(&json!({"webhook": {"name": "deskline events",
            "endpoint": format!("{}/zendesk/webhook", app.url),
            "http_method": "POST", "request_format": "json", "status": "active",
            "subscriptions": ["zen:event-type:ticket.created"]}}))
        .send()
        .await
        .expect("create the webhook");
    let (status, body) = answer(r).await;
    assert!(status.is_success(), "webhook: {body}");
    let id = body["webhook"]["id"].as_str().expect("webhook id");
    let secret = app
        .sandbox_get(&format!("/api/v2/webhooks/{id}/signing_secret"))
        .await["signing_secret"]["secret"]
        .as_str()
        .expect("signing secret")
        .to_string();
    let (kind, key) = EVENTS_SIGNING_SECRET_LINK;
    app.service
        .state
        .store
        .put_link(kind, key, &secret, Utc::now())
        .await
        .expect("store the signing secret");
    secret
}

fn sessions_url(app: &TestApp, source: &str) -> String {
    format!("{}/hooks/{source}/sessions", app.url)
}

async fn register_with(
    app: &TestApp,
    source: &str,
    secret: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let r = app
        .http
        .post(sessions_url(app, source))
        .header(SECRET_HEADER, secret)
        .json(body)
        .send()
        .await
        .expect("POST sessions");
    answer(r).await
}

async fn register(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    register_with(app, VOICEBOT, VOICEBOT_SECRET, body).await
}

/// `GET …/sip-headers` with `query` (already encoded) and the secret.
async fn sip_headers_with(
    app: &TestApp,
    session: &str,
    query: &str,
    secret: Option<&str>,
) -> (StatusCode, Value) {
    let url = format!(
        "{}/hooks/{VOICEBOT}/sessions/{session}/sip-headers{query}",
        app.url
    );
    let mut request = app.http.get(url);
    if let Some(s) = secret {
        request = request.header(SECRET_HEADER, s);
    }
    answer(request.send().await.expect("GET sip-headers")).await
}

async fn sip_headers(app: &TestApp, session: &str, destination: &str) -> Value {
    let query = format!("?destination={}", urlencode(destination));
    let (status, body) = sip_headers_with(app, session, &query, Some(VOICEBOT_SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["headers"].clone()
}

fn urlencode(s: &str) -> String {
    let mut url = reqwest::Url::parse("http://x.invalid/").expect("url");
    url.query_pairs_mut().append_pair("v", s);
    url.query()
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_string()
}

async fn conversation(app: &TestApp, session: &str) -> Option<Conversation> {
    app.service
        .state
        .store
        .get_conversation(VOICEBOT, session)
        .await
        .expect("the store answers")
}

/// A Talk-style voice ticket (an inbound call, via 45) from `from`: the sandbox finds the
/// requester by that exact number, or creates a caller with it. Its id.
async fn voice_ticket(app: &TestApp, from: &str) -> u64 {
    let r = app
        .sandbox(Method::POST, "/api/v2/channels/voice/tickets")
        .json(
            &json!({"ticket": {"via_id": 45, "subject": format!("Call from {from}"),
            "voice_comment": {"from": from, "to": AI_NUMBER,
                "started_at": Utc::now().to_rfc3339(), "call_duration": 95}}}),
        )
        .send()
        .await
        .expect("create a voice ticket");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::CREATED, "voice ticket: {body}");
    body["ticket"]["id"].as_u64().expect("ticket id")
}

/// A ticket made through the API (channel `api`) for Anita.
async fn api_ticket_for_anita(app: &TestApp) -> u64 {
    let r = app
        .sandbox(Method::POST, "/api/v2/tickets")
        .json(&json!({"ticket": {"subject": "Invoice question",
            "comment": {"body": "Please check my invoice", "public": false},
            "requester_id": ANITA}}))
        .send()
        .await
        .expect("create a ticket");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::CREATED, "ticket: {body}");
    body["ticket"]["id"].as_u64().expect("ticket id")
}

/// Waits for the completed `voice_correlation` job of `ticket`; what it reported.
async fn correlation_outcome(app: &TestApp, ticket: u64) -> String {
    let job = eventually(
        &format!("the correlation job of ticket {ticket}"),
        || async {
            app.jobs(Some("completed"))
                .await
                .into_iter()
                .find(|j| j["kind"] == VOICE_CORRELATION_JOB && j["args"]["ticket_id"] == ticket)
        },
    )
    .await;
    let id = job["id"].as_i64().expect("job id");
    let detail = app
        .service
        .state
        .store
        .get_job(JobId(id))
        .await
        .expect("the store answers")
        .expect("the job");
    detail
        .attempts
        .last()
        .and_then(|a| a.response_summary.clone())
        .unwrap_or_default()
}

async fn correlation_jobs(app: &TestApp) -> Vec<Value> {
    app.jobs(None)
        .await
        .into_iter()
        .filter(|j| j["kind"] == VOICE_CORRELATION_JOB)
        .collect()
}

/// Waits until the `ticket.created` event of `ticket` is stored (its jobs, if any, are queued
/// with it, in one transaction).
async fn wait_for_created_event(app: &TestApp, ticket: u64) {
    eventually(
        &format!("the ticket.created event of ticket {ticket}"),
        || async {
            let store = &app.service.state.store;
            let events = store
                .list_events(&deskline_store::EventFilter {
                    kind: Some("zendesk.ticket.created".into()),
                    limit: 1000,
                    ..deskline_store::EventFilter::default()
                })
                .await
                .expect("events");
            for e in events {
                let stored = store.get_event(e.id).await.expect("the store answers")?;
                if ticket_id_of(&stored.normalized) == Some(ticket) {
                    return Some(());
                }
            }
            None
        },
    )
    .await;
}

/// The `voice_correlation` jobs queued for `ticket`.
async fn correlation_jobs_of(app: &TestApp, ticket: u64) -> Vec<Value> {
    correlation_jobs(app)
        .await
        .into_iter()
        .filter(|j| j["args"]["ticket_id"] == ticket)
        .collect()
}

fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn post_signed(app: &TestApp, secret: &str, body: &str) -> (StatusCode, Value) {
    let stamp = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let r = app
        .http
        .post(format!("{}/zendesk/webhook", app.url))
        .header("content-type", "application/json")
        .header("x-zendesk-webhook-signature-timestamp", &stamp)
        .header("x-zendesk-webhook-signature", sign(secret, &stamp, body))
        .body(body.to_string())
        .send()
        .await
        .expect("post a Zendesk event");
    answer(r).await
}

#[tokio::test]
async fn a_voice_ticket_is_tied_to_the_callers_session_once_and_its_sip_headers_carry_the_ticket() {
    let app = spawn().await;
    let session = json!({"sessionId": "call-anita-1", "callerNumber": "98765 43210",
        "calledNumber": AI_NUMBER, "agentId": "voice-bot-7",
        "contact": {"externalId": "ai-contact-42"}});
    let (status, body) = register(&app, &session).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["caller_number"], ANITA_PHONE, "normalised to E.164");
    assert_eq!(body["ticket_id"], Value::Null);
    // The same registration again (snake_case this time) changes nothing.
    let again = json!({"session_id": "call-anita-1", "caller_number": ANITA_PHONE});
    let (status, body) = register(&app, &again).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "exists");

    // Before Zendesk's ticket: deskline's headers, no ticket header.
    let before = sip_headers(&app, "call-anita-1", ZENDESK_SIP).await;
    assert_eq!(
        before,
        json!({"X-Deskline-Source": VOICEBOT, "X-Deskline-Session-Id": "call-anita-1",
            "X-Deskline-Agent-Id": "voice-bot-7", "X-Deskline-Contact-Id": "ai-contact-42",
            "X-Deskline-Transfer": "true"})
    );

    let ticket = voice_ticket(&app, ANITA_PHONE).await;
    let outcome = correlation_outcome(&app, ticket).await;
    assert!(outcome.contains("tied ticket"), "{outcome}");
    let c = conversation(&app, "call-anita-1")
        .await
        .expect("the session");
    assert_eq!(c.ticket_id, Some(ticket));
    assert_eq!(c.email.as_deref(), Some("anita@acme-logistics.example"));
    assert_eq!(c.contact_external_id.as_deref(), Some("ai-contact-42"));
    assert_eq!(
        c.contact,
        json!({"name": "Anita Desai", "email": "anita@acme-logistics.example",
            "phone": ANITA_PHONE, "external_id": "ai-contact-42",
            "zendesk_user_id": ANITA, "zendesk_external_id": "crm-1001",
            "organization_id": 40001, "organization": "Acme Logistics",
            "plan": "enterprise",
            "org_tier": "gold", "org_account_manager": "Meera Iyer"}),
        "the contact, enriched from the requester and their organization"
    );

    // The same delivery again is deduplicated at the door: no second job.
    let events = app
        .service
        .state
        .store
        .list_events(&deskline_store::EventFilter {
            kind: Some("zendesk.ticket.created".into()),
            ..deskline_store::EventFilter::default()
        })
        .await
        .expect("events");
    assert_eq!(events.len(), 1, "one ticket.created event");
    let stored = app
        .service
        .state
        .store
        .get_event(events[0].id)
        .await
        .expect("the store answers")
        .expect("the event");
    let raw = String::from_utf8(stored.raw_body.clone()).expect("UTF-8");
    let secret = app
        .service
        .state
        .store
        .get_link(EVENTS_SIGNING_SECRET_LINK.0, EVENTS_SIGNING_SECRET_LINK.1)
        .await
        .expect("the store answers")
        .expect("the secret")
        .value;
    let (status, body) = post_signed(&app, &secret, &raw).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "duplicate");
    assert_eq!(correlation_jobs(&app).await.len(), 1);

    // The same event under a new envelope id gets through as a new job, which finds the
    // work done: one effect.
    let mut copy = stored.normalized.clone();
    copy["id"] = json!("a-second-delivery-of-the-same-ticket");
    let (status, body) = post_signed(&app, &secret, &copy.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let second = eventually("the second correlation job to finish", || async {
        let jobs = correlation_jobs(&app).await;
        (jobs.len() == 2 && jobs.iter().all(|j| j["state"] == "completed")).then_some(jobs)
    })
    .await;
    assert_eq!(second.len(), 2);
    let after = conversation(&app, "call-anita-1")
        .await
        .expect("the session");
    assert_eq!(after, c, "the second run changed nothing");

    // A second voice ticket from Anita does not move the session.
    let other = voice_ticket(&app, ANITA_PHONE).await;
    let outcome = correlation_outcome(&app, other).await;
    assert!(outcome.contains("no open phone session"), "{outcome}");
    let still = conversation(&app, "call-anita-1")
        .await
        .expect("the session");
    assert_eq!(still.ticket_id, Some(ticket));

    // The SIP headers now carry the ticket to SIP destinations only.
    let expected = |ticket_header: bool, transfer: &str| {
        let mut h = json!({"X-Deskline-Source": VOICEBOT,
            "X-Deskline-Session-Id": "call-anita-1", "X-Deskline-Agent-Id": "voice-bot-7",
            "X-Deskline-Contact-Id": "ai-contact-42",
            "X-Deskline-Zendesk-User-Id": ANITA.to_string(),
            "X-Deskline-Transfer": transfer});
        if ticket_header {
            h["X-Zendesk-Ticket-Id"] = json!(ticket.to_string());
        }
        h
    };
    assert_eq!(
        sip_headers(&app, "call-anita-1", ZENDESK_SIP).await,
        expected(true, "true")
    );
    assert_eq!(
        sip_headers(
            &app,
            "call-anita-1",
            "SIPS:Support@Acme.example;transport=tls"
        )
        .await,
        expected(true, "true")
    );
    for not_sip in ["tel:+14155550100", "+14155550100", "004415550100"] {
        assert_eq!(
            sip_headers(&app, "call-anita-1", not_sip).await,
            expected(false, "true"),
            "{not_sip}"
        );
    }
    let query = format!("?destination={}&transfer=false", urlencode(ZENDESK_SIP));
    let (status, body) =
        sip_headers_with(&app, "call-anita-1", &query, Some(VOICEBOT_SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["headers"], expected(true, "false"));
    app.stop().await;
}

#[tokio::test]
async fn tickets_of_other_channels_numbers_and_near_miss_numbers_leave_the_session_alone() {
    let app = spawn().await;
    let (status, body) = register(
        &app,
        &json!({"sessionId": "call-anita-2", "callerNumber": ANITA_PHONE}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A ticket made through the API for Anita: not a phone ticket, so no job at all.
    let api = api_ticket_for_anita(&app).await;
    wait_for_created_event(&app, api).await;
    assert!(correlation_jobs_of(&app, api).await.is_empty());
    // A call from John, who has no session.
    let john = voice_ticket(&app, "+14155550100").await;
    let outcome = correlation_outcome(&app, john).await;
    assert!(
        outcome.contains("no open phone session for +14155550100"),
        "{outcome}"
    );
    // Near misses of Anita's number: the last digit differs; the `+` is missing (a new
    // caller whose number has no country code, so it could be any country's).
    let last_digit = voice_ticket(&app, "+919876543211").await;
    let outcome = correlation_outcome(&app, last_digit).await;
    assert!(
        outcome.contains("no open phone session for +919876543211"),
        "{outcome}"
    );
    let no_plus = voice_ticket(&app, "919876543210").await;
    let outcome = correlation_outcome(&app, no_plus).await;
    assert!(outcome.contains("not an international"), "{outcome}");

    // A session that started hours before the call's ticket is another call.
    app.clock.shift(-chrono::Duration::hours(5));
    let (status, body) = register(
        &app,
        &json!({"sessionId": "yesterdays-call", "callerNumber": "+919820000003"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Back to the present, or Zendesk's signatures would look stale.
    app.clock.shift(chrono::Duration::zero());
    let later = voice_ticket(&app, "+919820000003").await;
    let outcome = correlation_outcome(&app, later).await;
    assert!(outcome.contains("too far"), "{outcome}");
    let stale = conversation(&app, "yesterdays-call")
        .await
        .expect("the session");
    assert_eq!(stale.ticket_id, None);

    let c = conversation(&app, "call-anita-2")
        .await
        .expect("the session");
    assert_eq!(c.ticket_id, None, "nothing stamped");
    assert_eq!(c.contact, json!({"phone": ANITA_PHONE}), "nothing enriched");
    let headers = sip_headers(&app, "call-anita-2", ZENDESK_SIP).await;
    assert!(headers.get("X-Zendesk-Ticket-Id").is_none(), "{headers}");

    // Anita's own call still matches.
    let hers = voice_ticket(&app, ANITA_PHONE).await;
    let outcome = correlation_outcome(&app, hers).await;
    assert!(outcome.contains("tied ticket"), "{outcome}");
    let c = conversation(&app, "call-anita-2")
        .await
        .expect("the session");
    assert_eq!(c.ticket_id, Some(hers));
    app.stop().await;
}

#[tokio::test]
async fn the_session_api_refuses_what_it_cannot_use_and_stores_nothing_then() {
    let app = spawn().await;
    let ok = json!({"sessionId": "s-1", "callerNumber": ANITA_PHONE});

    // Credentials.
    let (status, _) = register_with(&app, VOICEBOT, "wrong-secret", &ok).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = app
        .http
        .post(sessions_url(&app, VOICEBOT))
        .json(&ok)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(conversation(&app, "s-1").await.is_none(), "nothing stored");

    // Sources.
    let (status, body) = register_with(&app, "nope", VOICEBOT_SECRET, &ok).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "unknown_source");
    let (status, body) = register_with(&app, SOURCE, SECRET, &ok).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_a_handoff_source");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("handoff"),
        "{body}"
    );

    // Numbers that can never be correlated, named.
    for (caller, word) in [
        (json!("anonymous"), "withheld"),
        (json!("12"), "not a phone number"),
        (Value::Null, "required"),
    ] {
        let (status, body) =
            register(&app, &json!({"sessionId": "s-1", "callerNumber": caller})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("callerNumber") && message.contains(word),
            "{body}"
        );
    }
    let (status, body) = register(&app, &json!({"callerNumber": ANITA_PHONE})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("sessionId"));
    let too_big = json!({"sessionId": "s-1", "callerNumber": ANITA_PHONE,
        "contact": {"name": "x".repeat(MAX_BODY_BYTES)}});
    let (status, _) = register(&app, &too_big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(conversation(&app, "s-1").await.is_none(), "nothing stored");

    // A session id reused for another caller is a conflict, not an overwrite.
    let (status, _) = register(&app, &ok).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = register(
        &app,
        &json!({"sessionId": "s-1", "callerNumber": "+14155550100"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let c = conversation(&app, "s-1").await.expect("the session");
    assert_eq!(c.phone.as_deref(), Some(ANITA_PHONE));

    // The SIP-header route: credentials, a destination, a known session.
    let dest = format!("?destination={}", urlencode(ZENDESK_SIP));
    let (status, _) = sip_headers_with(&app, "s-1", &dest, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = sip_headers_with(&app, "s-1", &dest, Some("wrong-secret")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = sip_headers_with(&app, "s-1", "", Some(VOICEBOT_SECRET)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "missing_destination");
    let (status, body) =
        sip_headers_with(&app, "s-1", "?destination=%20", Some(VOICEBOT_SECRET)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let bad_transfer = format!("{dest}&transfer=maybe");
    let (status, body) = sip_headers_with(&app, "s-1", &bad_transfer, Some(VOICEBOT_SECRET)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) =
        sip_headers_with(&app, "no-such-session", &dest, Some(VOICEBOT_SECRET)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "unknown_session");
    let (status, _) = sip_headers_with(&app, "s-1", &dest, Some(VOICEBOT_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_session_registered_just_after_the_voice_ticket_is_still_tied() {
    let source = source_config(SourceKind::Handoff, VOICEBOT_SECRET);
    let app = spawn_app_with_sources(vec![(VOICEBOT, source)], |config| {
        config.zendesk.voice_session_wait = std::time::Duration::from_secs(60);
    })
    .await;
    subscribe_to_ticket_created(&app).await;
    let ticket = voice_ticket(&app, ANITA_PHONE).await;
    // The job is waiting for the session (snoozed, no attempt spent).
    eventually("the correlation job waiting for its session", || async {
        correlation_jobs(&app)
            .await
            .into_iter()
            .find(|j| j["snoozes"].as_u64().unwrap_or(0) >= 2)
    })
    .await;
    // Waiting costs no Zendesk request: the caller's number was read once.
    assert_eq!(
        app.count_requests("GET", &format!("/api/v2/users/{ANITA}"))
            .await,
        1,
        "the requester is read once, not at every recheck"
    );
    let (status, body) = register(
        &app,
        &json!({"sessionId": "late-registration", "callerNumber": ANITA_PHONE}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let outcome = correlation_outcome(&app, ticket).await;
    assert!(outcome.contains("tied ticket"), "{outcome}");
    let c = conversation(&app, "late-registration")
        .await
        .expect("the session");
    assert_eq!(c.ticket_id, Some(ticket));
    app.stop().await;
}

#[tokio::test]
async fn the_ai_handing_the_call_to_a_human_lands_on_the_voice_ticket() {
    let app = spawn().await;
    let (status, body) = register(
        &app,
        &json!({"sessionId": "call-anita-3", "callerNumber": ANITA_PHONE}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ticket = voice_ticket(&app, ANITA_PHONE).await;
    let outcome = correlation_outcome(&app, ticket).await;
    assert!(outcome.contains("tied ticket"), "{outcome}");
    let comments_before = app.comments(ticket).await.len();

    // The AI transfers the caller to a human and reports the handoff for the same session.
    let handoff = json!({
        "sessionId": "call-anita-3",
        "contact": {"phone": ANITA_PHONE},
        "channel": "phone",
        "summary": "Caller wants to change her delivery address; needs an agent.",
        "transcript": [{"role": "user", "text": "I need to change my address"}]
    });
    let r = app
        .hook_to(VOICEBOT)
        .header(SECRET_HEADER, VOICEBOT_SECRET)
        .json(&handoff)
        .send()
        .await
        .expect("post the handoff");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("the handoff job", || async {
        app.jobs(Some("completed"))
            .await
            .into_iter()
            .find(|j| j["kind"] == "handoff_ticket")
    })
    .await;
    let comments = app.comments(ticket).await;
    assert_eq!(
        comments.len(),
        comments_before + 1,
        "added to the voice ticket"
    );
    let added = comments
        .last()
        .and_then(|c| c["body"].as_str())
        .unwrap_or_default();
    assert!(added.contains("change her delivery address"), "{added}");
    assert!(
        app.tickets_with_external_id("call-anita-3")
            .await
            .is_empty(),
        "no second ticket"
    );
    let c = conversation(&app, "call-anita-3")
        .await
        .expect("the session");
    assert_eq!(c.ticket_id, Some(ticket));
    assert_eq!(c.contact["name"], "Anita Desai", "the enrichment is kept");
    app.stop().await;
}

#[tokio::test]
async fn deskline_s_own_call_and_handoff_tickets_queue_no_correlation_job_and_a_talk_ticket_does() {
    // Provisioned as sandbox mode does at start: every ticket's ticket.created reaches deskline.
    let source = source_config(SourceKind::Handoff, VOICEBOT_SECRET);
    let app = spawn_app_with_sources(vec![(VOICEBOT, source)], |config| {
        config.zendesk.voice_session_wait = std::time::Duration::ZERO;
    })
    .await;
    app.provision().await;

    let call = with_call_id(missed_call(), "no-correlation-call");
    app.deliver(&call).await;
    let call_ticket = app.wait_for_ticket(&call_id(&call)).await;
    let handoff = json!({"sessionId": "no-correlation-handoff",
        "contact": {"phone": ANITA_PHONE}, "channel": "phone",
        "summary": "Caller wants a callback."});
    let r = app
        .hook_to(VOICEBOT)
        .header(SECRET_HEADER, VOICEBOT_SECRET)
        .json(&handoff)
        .send()
        .await
        .expect("post the handoff");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let handoff_ticket = eventually("the handoff's ticket", || async {
        app.tickets_with_external_id("no-correlation-handoff")
            .await
            .first()
            .and_then(|t| t["id"].as_u64())
    })
    .await;
    for ticket in [call_ticket, handoff_ticket] {
        wait_for_created_event(&app, ticket).await;
        assert!(
            correlation_jobs_of(&app, ticket).await.is_empty(),
            "ticket {ticket} is not a voice ticket: no voice_correlation job"
        );
    }

    // A Talk voice ticket still gets its job.
    let talk = voice_ticket(&app, ANITA_PHONE).await;
    let outcome = correlation_outcome(&app, talk).await;
    assert!(outcome.contains("no open phone session"), "{outcome}");
    assert_eq!(
        correlation_jobs(&app).await.len(),
        1,
        "only the Talk ticket's"
    );
    app.stop().await;
}
