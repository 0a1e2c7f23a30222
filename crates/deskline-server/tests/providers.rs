//! Twilio, Aircall and Exotel end to end: each provider's requests, verified its own way, become
//! exactly one ticket per call in the sandbox, with the right assignee or group, fields and tags;
//! a request that fails verification is refused with 401 and leaves nothing behind.

mod common;

use common::*;
use deskline_core::sources::twilio;
use deskline_server::config::{SourceConfig, SourceKind};
use reqwest::StatusCode;
use serde_json::{json, Value};

// --- Twilio ----------------------------------------------------------------------------------

const TW_PARENT_RINGING: &str = include_str!("../../../examples/twilio/inbound-ringing.txt");
const TW_PARENT_COMPLETED: &str = include_str!("../../../examples/twilio/inbound-completed.txt");
const TW_CHILD_RINGING: &str = include_str!("../../../examples/twilio/agent-leg-ringing.txt");
const TW_CHILD_ANSWERED: &str = include_str!("../../../examples/twilio/agent-leg-answered.txt");
const TW_CHILD_COMPLETED: &str = include_str!("../../../examples/twilio/agent-leg-completed.txt");
const TW_CHILD_CANCELED: &str = include_str!("../../../examples/twilio/agent-leg-canceled.txt");

/// The caller's leg in the Twilio examples.
const TW_PARENT: &str = "CA5d0f7a1c2b3e4d5f6a7b8c9d0e1f2a3b";
/// The agent leg in the Twilio examples, and the leg a colleague's answer cancels.
const TW_CHILD: &str = "CA9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
const TW_CHILD_CANCELLED: &str = "CA1a2b3c4d5e6f708192a3b4c5d6e7f809";
/// The recording of the example call.
const TW_RECORDING: &str = "https://api.twilio.com/2010-04-01/Accounts/AC3f2e1d0c9b8a79685746352413021f0e/Recordings/RE4b3a29180f7e6d5c4b3a29180f7e6d5c";
/// Where Twilio reaches deskline when `server.public_url` is set (a TLS proxy in front).
const PUBLIC_URL: &str = "https://deskline.example.test";

/// A Twilio source: the auth token as secret, and `configure`'s changes.
fn twilio_source(configure: impl FnOnce(&mut SourceConfig)) -> SourceConfig {
    let mut source = source_config(SourceKind::Twilio, TWILIO_AUTH_TOKEN);
    configure(&mut source);
    source
}

/// A child (agent) leg of `parent`: `example` with its own `CallSid`, ringing `to`.
fn child_leg(example: &str, parent: &str, sid: &str, to: &str) -> String {
    form_with(
        example,
        &[
            ("CallSid", sid),
            ("ParentCallSid", parent),
            ("To", to),
            ("Called", to),
        ],
    )
}

/// Posts a Twilio status callback with a valid signature for `signed_url` (the URL deskline
/// must reconstruct: the public URL when configured, else `http://<Host><path>`).
async fn post_twilio(app: &TestApp, signed_url: &str, form: &str) -> (StatusCode, Value) {
    let signature = twilio::signature(TWILIO_AUTH_TOKEN, signed_url, form.as_bytes());
    post_twilio_signed(app, form, Some(&signature)).await
}

/// Posts a Twilio form with this `X-Twilio-Signature` (none when `None`).
async fn post_twilio_signed(
    app: &TestApp,
    form: &str,
    signature: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app
        .hook_to(TWILIO)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string());
    if let Some(s) = signature {
        request = request.header("X-Twilio-Signature", s);
    }
    answer(request.send().await.expect("POST /hooks/twilio")).await
}

/// Posts and expects a new event (202).
async fn twilio_accepted(app: &TestApp, signed_url: &str, form: &str) {
    let (status, body) = post_twilio(app, signed_url, form).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}\n{form}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_inbound_call_is_one_ticket_assigned_to_the_agent_whose_leg_answered() {
    let source = twilio_source(|s| {
        s.open_ticket_on_ring = true;
        // Kavya's Zendesk phone is an Indian number: only the table names her Twilio number.
        s.agent_numbers.insert(
            "+14155550111".to_string(),
            "kavya.nair@sandbox.test".to_string(),
        );
    });
    let app = spawn_app_with_sources(vec![(TWILIO, source)], |c| {
        c.server.public_url = Some(format!("{PUBLIC_URL}/"));
    })
    .await;
    let url = format!("{PUBLIC_URL}/hooks/{TWILIO}");

    // Call 1: the caller's leg rings, <Dial> rings Emily (+14155550115, her Zendesk phone) and
    // a colleague at once; Emily answers and the colleague's leg is cancelled.
    twilio_accepted(&app, &url, TW_PARENT_RINGING).await;
    let ticket_id = app.wait_for_ticket_of(TWILIO, TW_PARENT).await;
    let t = app.ticket(ticket_id).await;
    assert!(has_tag(&t, "call_in_progress"), "{:?}", tags(&t));
    assert_eq!(t["assignee_id"], Value::Null);

    let emily = "+14155550115";
    let colleague = "+14155550122";
    for form in [
        child_leg(TW_CHILD_RINGING, TW_PARENT, TW_CHILD, emily),
        child_leg(TW_CHILD_RINGING, TW_PARENT, TW_CHILD_CANCELLED, colleague),
        child_leg(TW_CHILD_ANSWERED, TW_PARENT, TW_CHILD, emily),
    ] {
        twilio_accepted(&app, &url, &form).await;
    }
    app.wait_for_ticket_state(ticket_id, "assigned to Emily on answer", |t| {
        t["assignee_id"] == EMILY
    })
    .await;
    // The colleague's cancelled leg is not a missed call: nothing is stored for it.
    let (status, body) = post_twilio(
        &app,
        &url,
        &child_leg(TW_CHILD_CANCELED, TW_PARENT, TW_CHILD_CANCELLED, colleague),
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("ignored"))
    );
    twilio_accepted(
        &app,
        &url,
        &child_leg(TW_CHILD_COMPLETED, TW_PARENT, TW_CHILD, emily),
    )
    .await;
    twilio_accepted(&app, &url, TW_PARENT_COMPLETED).await;
    app.settle().await;

    let t = app.only_ticket(&format!("twilio:{TW_PARENT}")).await;
    assert_eq!(
        t["id"], ticket_id,
        "the ticket opened at ringing is completed"
    );
    assert_eq!(t["assignee_id"], EMILY);
    for tag in ["deskline", "voice", "call_answered", "inbound"] {
        assert!(has_tag(&t, tag), "tag {tag} in {:?}", tags(&t));
    }
    for tag in [
        "call_in_progress",
        "call_missed",
        "deskline_agent_unmatched",
    ] {
        assert!(!has_tag(&t, tag), "no tag {tag} in {:?}", tags(&t));
    }
    assert_eq!(t["subject"], "Answered inbound call from +14155550123");
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some(TW_PARENT));
    assert_eq!(field(&t, FIELD_DIRECTION).as_deref(), Some("inbound"));
    assert_eq!(field(&t, FIELD_DURATION).as_deref(), Some("99"));
    assert_eq!(field(&t, FIELD_RECORDING).as_deref(), Some(TW_RECORDING));
    assert_eq!(field(&t, FIELD_CALLER).as_deref(), Some("+14155550123"));
    let callers = app.end_users_with_phone("+14155550123").await;
    assert_eq!(callers.len(), 1, "{callers:?}");
    assert_eq!(t["requester_id"], callers[0]["id"]);
    let comments = app.comments(ticket_id).await;
    assert_eq!(comments.len(), 2, "the ringing note and the call note");
    assert!(comments.iter().all(|c| c["public"] == false));
    let note = comment_body(&comments[1]);
    for part in ["Answered inbound call", "From: +14155550123", TW_RECORDING] {
        assert!(note.contains(part), "the note has {part:?}:\n{note}");
    }

    // Call 2: the agent's number is in `agent_numbers`; the ticket is created at ringing too.
    let parent = "CA7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29";
    let child = "CA2b3c4d5e6f708192a3b4c5d6e7f8091a";
    let kavya = "+14155550111";
    twilio_accepted(
        &app,
        &url,
        &form_with(TW_PARENT_RINGING, &[("CallSid", parent)]),
    )
    .await;
    twilio_accepted(
        &app,
        &url,
        &child_leg(TW_CHILD_RINGING, parent, child, kavya),
    )
    .await;
    twilio_accepted(
        &app,
        &url,
        &child_leg(TW_CHILD_ANSWERED, parent, child, kavya),
    )
    .await;
    // The caller's own `in-progress` arriving late names nobody: Kavya stays the one who answered.
    twilio_accepted(
        &app,
        &url,
        &form_with(
            TW_PARENT_RINGING,
            &[
                ("CallSid", parent),
                ("CallStatus", "in-progress"),
                ("SequenceNumber", "1"),
            ],
        ),
    )
    .await;
    let completed = form_with(
        TW_PARENT_COMPLETED,
        &[
            ("CallSid", parent),
            ("CallDuration", "45"),
            ("RecordingSid", ""),
            ("RecordingUrl", ""),
            ("RecordingDuration", ""),
        ],
    );
    twilio_accepted(&app, &url, &completed).await;
    app.settle().await;
    let t = app.only_ticket(&format!("twilio:{parent}")).await;
    assert_eq!(t["assignee_id"], KAVYA, "mapped by the agent table");
    assert!(has_tag(&t, "call_answered"), "{:?}", tags(&t));
    assert!(!has_tag(&t, "call_in_progress"), "{:?}", tags(&t));
    assert_eq!(field(&t, FIELD_DURATION).as_deref(), Some("45"));
    assert_eq!(field(&t, FIELD_RECORDING), None);

    assert_eq!(app.sandbox_tickets().await.len(), 2, "one ticket per call");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_call_no_agent_answered_is_missed_in_the_fallback_group() {
    // No public URL: deskline checks the signature over http://<Host header><path>.
    let app = spawn_app_with_sources(vec![(TWILIO, twilio_source(|_| {}))], |_| {}).await;
    let url = app.hook_url(TWILIO);
    let parent = "CA0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a";
    let child = "CA6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c";
    let emily = "+14155550115";

    twilio_accepted(
        &app,
        &url,
        &form_with(TW_PARENT_RINGING, &[("CallSid", parent)]),
    )
    .await;
    // Twilio answers the caller's leg itself when the TwiML runs: no agent took the call.
    twilio_accepted(
        &app,
        &url,
        &form_with(
            TW_PARENT_RINGING,
            &[
                ("CallSid", parent),
                ("CallStatus", "in-progress"),
                ("SequenceNumber", "1"),
            ],
        ),
    )
    .await;
    twilio_accepted(
        &app,
        &url,
        &child_leg(TW_CHILD_RINGING, parent, child, emily),
    )
    .await;
    let no_answer = form_with(
        &child_leg(TW_CHILD_CANCELED, parent, child, emily),
        &[("CallStatus", "no-answer")],
    );
    let (status, body) = post_twilio(&app, &url, &no_answer).await;
    assert_eq!(status, StatusCode::OK, "an unanswered agent leg: {body}");
    // The caller's leg "completed" after 31 s in the flow (<Dial> timed out).
    let completed = form_with(
        TW_PARENT_COMPLETED,
        &[
            ("CallSid", parent),
            ("CallDuration", "31"),
            ("RecordingSid", ""),
            ("RecordingUrl", ""),
            ("RecordingDuration", ""),
        ],
    );
    twilio_accepted(&app, &url, &completed).await;
    app.settle().await;

    let t = app.only_ticket(&format!("twilio:{parent}")).await;
    assert_eq!(t["assignee_id"], Value::Null);
    assert_eq!(t["group_id"], VOICE_MISSED_CALLS);
    assert!(has_tag(&t, "call_missed"), "{:?}", tags(&t));
    for tag in ["call_answered", "deskline_agent_unmatched"] {
        assert!(!has_tag(&t, tag), "no tag {tag} in {:?}", tags(&t));
    }
    assert_eq!(t["subject"], "Missed inbound call from +14155550123");
    assert_eq!(field(&t, FIELD_DURATION).as_deref(), Some("31"));
    assert_eq!(field(&t, FIELD_RECORDING), None);
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_bad_or_missing_signature_is_refused_and_nothing_is_stored() {
    let app = spawn_app_with_sources(vec![(TWILIO, twilio_source(|_| {}))], |_| {}).await;
    let url = app.hook_url(TWILIO);
    let form = form_with(TW_PARENT_COMPLETED, &[]);

    let wrong_token = twilio::signature("not-the-auth-token-0123456789", &url, form.as_bytes());
    // Signed for the public URL, but deskline has none configured and sees its own address.
    let other_url = twilio::signature(
        TWILIO_AUTH_TOKEN,
        &format!("{PUBLIC_URL}/hooks/{TWILIO}"),
        form.as_bytes(),
    );
    let good = twilio::signature(TWILIO_AUTH_TOKEN, &url, form.as_bytes());
    let tampered = form_with(&form, &[("CallDuration", "1")]);
    let cases: [(&str, &str, Option<&str>); 5] = [
        ("no signature", &form, None),
        ("an empty signature", &form, Some("")),
        ("another token's signature", &form, Some(&wrong_token)),
        ("a signature over another URL", &form, Some(&other_url)),
        ("a changed body", &tampered, Some(&good)),
    ];
    for (what, body, signature) in cases {
        let (status, answer) = post_twilio_signed(&app, body, signature).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        assert_eq!(answer["error"], "unauthorized", "{what}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("X-Twilio-Signature")),
            "{what}: {answer}"
        );
    }
    app.assert_nothing_stored().await;

    // The same request correctly signed is accepted: the refusals were the signature's.
    let (status, body) = post_twilio_signed(&app, &form, Some(&good)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.stop().await;
}

// --- Aircall ---------------------------------------------------------------------------------

const AC_ANSWERED: &str = include_str!("../../../examples/aircall/call-ended-answered.json");
const AC_VOICEMAIL: &str = include_str!("../../../examples/aircall/call-ended-voicemail.json");

fn aircall_source() -> SourceConfig {
    source_config(SourceKind::Aircall, AIRCALL_TOKEN)
}

fn json_example(text: &str) -> Value {
    serde_json::from_str(text).expect("the example is JSON")
}

async fn post_aircall(app: &TestApp, payload: &Value) -> (StatusCode, Value) {
    answer(
        app.hook_to(AIRCALL)
            .json(payload)
            .send()
            .await
            .expect("POST /hooks/aircall"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aircall_call_ended_answered_is_assigned_to_the_user_by_email() {
    let app = spawn_app_with_sources(vec![(AIRCALL, aircall_source())], |_| {}).await;
    let mut payload = json_example(AC_ANSWERED);
    // The Aircall user is a Zendesk agent (the email differs in case only).
    payload["data"]["user"]["email"] = json!("Emily.Carter@Sandbox.test");
    payload["data"]["user"]["name"] = json!("Emily Carter");
    let recording = payload["data"]["recording"]
        .as_str()
        .expect("a recording")
        .to_string();

    let (status, body) = post_aircall(&app, &payload).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.wait_for_ticket_of(AIRCALL, "812345678").await;
    let (status, body) = post_aircall(&app, &payload).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("duplicate")),
        "Aircall's redelivery"
    );
    app.settle().await;

    let t = app.only_ticket("aircall:812345678").await;
    assert_eq!(t["assignee_id"], EMILY);
    for tag in [
        "deskline",
        "voice",
        "call_answered",
        "inbound",
        "department_support",
    ] {
        assert!(has_tag(&t, tag), "tag {tag} in {:?}", tags(&t));
    }
    for tag in ["call_missed", "deskline_agent_unmatched"] {
        assert!(!has_tag(&t, tag), "no tag {tag} in {:?}", tags(&t));
    }
    assert_eq!(t["subject"], "Answered inbound call from +14155550123");
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some("812345678"));
    assert_eq!(field(&t, FIELD_DIRECTION).as_deref(), Some("inbound"));
    assert_eq!(field(&t, FIELD_DURATION).as_deref(), Some("119"));
    assert_eq!(
        field(&t, FIELD_RECORDING).as_deref(),
        Some(recording.as_str())
    );
    assert_eq!(field(&t, FIELD_CALLER).as_deref(), Some("+14155550123"));
    let id = t["id"].as_u64().expect("ticket id");
    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 1);
    let note = comment_body(&comments[0]);
    for part in [
        "Answered inbound call",
        "Emily Carter",
        "Department: Support",
    ] {
        assert!(note.contains(part), "the note has {part:?}:\n{note}");
    }
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aircall_voicemail_is_one_missed_call_carrying_the_voicemail() {
    let app = spawn_app_with_sources(vec![(AIRCALL, aircall_source())], |_| {}).await;
    let payload = json_example(AC_VOICEMAIL);
    let voicemail = payload["data"]["voicemail"]
        .as_str()
        .expect("a voicemail")
        .to_string();

    let (status, body) = post_aircall(&app, &payload).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.settle().await;

    let t = app.only_ticket("aircall:812345702").await;
    assert_eq!(t["assignee_id"], Value::Null);
    assert_eq!(t["group_id"], VOICE_MISSED_CALLS);
    assert!(has_tag(&t, "call_missed"), "{:?}", tags(&t));
    assert!(!has_tag(&t, "call_answered"), "{:?}", tags(&t));
    assert_eq!(t["subject"], "Missed inbound call from +14155550188");
    assert_eq!(
        field(&t, FIELD_RECORDING).as_deref(),
        Some(voicemail.as_str())
    );
    assert_eq!(field(&t, FIELD_DURATION).as_deref(), Some("62"));
    assert_eq!(field(&t, FIELD_CALLER).as_deref(), Some("+14155550188"));
    let id = t["id"].as_u64().expect("ticket id");
    let note = comment_body(&app.comments(id).await[0]).to_string();
    assert!(
        note.contains(&voicemail),
        "the note links the voicemail:\n{note}"
    );
    assert_eq!(app.sandbox_tickets().await.len(), 1, "one missed call");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aircall_token_is_not_kept_in_the_stored_body() {
    let app = spawn_app_with_sources(vec![(AIRCALL, aircall_source())], |_| {}).await;
    let mut payload = json_example(AC_ANSWERED);
    payload["data"]["user"]["email"] = json!("emily.carter@sandbox.test");
    // Sent as Aircall formats it: pretty-printed, keys in its own order.
    let sent = serde_json::to_string_pretty(&payload).expect("JSON");
    assert!(sent.contains(AIRCALL_TOKEN));
    let r = app
        .hook_to(AIRCALL)
        .header("Content-Type", "application/json")
        .body(sent.clone())
        .send()
        .await
        .expect("POST");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let event_id = body["event_id"].as_i64().expect("an event id");

    let (status, shown) = app.admin_get(&format!("/admin/events/{event_id}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let stored = shown["event"]["raw_body"].as_str().expect("the raw body");
    assert!(
        !shown.to_string().contains(AIRCALL_TOKEN),
        "the token is nowhere in the event: {shown:#}"
    );
    assert_eq!(
        stored,
        sent.replace(AIRCALL_TOKEN, "[redacted]"),
        "the token is replaced, every other byte kept"
    );
    // The redelivery is still recognised (the key is the call's, not the body's)…
    let (status, body) = post_aircall(&app, &payload).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("duplicate"))
    );
    // …and the call still becomes its ticket.
    app.settle().await;
    let t = app.only_ticket("aircall:812345678").await;
    assert_eq!(t["assignee_id"], EMILY);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aircall_wrong_or_missing_token_is_refused_and_nothing_is_stored() {
    let app = spawn_app_with_sources(vec![(AIRCALL, aircall_source())], |_| {}).await;
    let good = json_example(AC_ANSWERED);
    let mut wrong = good.clone();
    wrong["token"] = json!("0000000000000000000000000000000f");
    let mut missing = good.clone();
    missing.as_object_mut().expect("an object").remove("token");
    let mut empty = good.clone();
    empty["token"] = json!("");

    for (what, payload) in [("wrong", &wrong), ("missing", &missing), ("empty", &empty)] {
        let (status, body) = post_aircall(&app, payload).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} token: {body}");
        assert_eq!(body["error"], "unauthorized", "{what}");
    }
    // The token belongs in the body: a secret header does not stand in for it.
    let r = app
        .hook_to(AIRCALL)
        .header(SECRET_HEADER, AIRCALL_TOKEN)
        .json(&missing)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.assert_nothing_stored().await;

    let (status, body) = post_aircall(&app, &good).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the right token: {body}");
    app.stop().await;
}

// --- Exotel ----------------------------------------------------------------------------------

const EX_STATUS_INBOUND: &str =
    include_str!("../../../examples/exotel/status-callback-inbound.txt");
const EX_PASSTHRU_ATTEMPT: &str =
    include_str!("../../../examples/exotel/passthru-call-attempt.txt");
const EX_PASSTHRU_COMPLETED: &str = include_str!("../../../examples/exotel/passthru-completed.txt");

fn exotel_source() -> SourceConfig {
    source_config(SourceKind::Exotel, EXOTEL_SECRET)
}

/// `?secret=…` for Exotel's URL.
fn secret_query() -> String {
    form_encode(&[("secret".to_string(), EXOTEL_SECRET.to_string())])
}

/// A Passthru request: GET with the parameters (and `extra`, such as the secret) in the query.
async fn exotel_get(app: &TestApp, params: &str, extra: Option<&str>) -> (StatusCode, Value) {
    let query = match extra {
        Some(e) => format!("{e}&{}", form_with(params, &[])),
        None => form_with(params, &[]),
    };
    let url = format!("{}?{query}", app.hook_url(EXOTEL));
    answer(app.http.get(url).send().await.expect("GET /hooks/exotel")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exotel_status_callbacks_form_and_json_are_assigned_by_the_answering_number() {
    let app = spawn_app_with_sources(vec![(EXOTEL, exotel_source())], |_| {}).await;

    // Form-encoded, the secret in the URL; Legs[1] was answered by 09810000011 (Priya).
    let form_call = "5e8a1c3f9d2b4a6e8c0f7d1b3a5c9e24";
    let r = app
        .http
        .post(format!("{}?{}", app.hook_url(EXOTEL), secret_query()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_with(EX_STATUS_INBOUND, &[]))
        .send()
        .await
        .expect("POST /hooks/exotel");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // The same callback as JSON, for another call answered by 09810000012 (Arjun), with the
    // secret in the header.
    let json_call = "3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e35";
    let mut payload = serde_json::Map::new();
    for (k, v) in form_pairs(EX_STATUS_INBOUND) {
        if !k.starts_with("Legs") {
            payload.insert(k, json!(v));
        }
    }
    payload.insert("CallSid".into(), json!(json_call));
    payload.insert("ConversationDuration".into(), json!(64));
    payload.insert(
        "Legs".into(),
        json!([
            {"OnCallDuration": 0, "Status": "no-answer", "AnsweredBy": null},
            {"OnCallDuration": 64, "Status": "completed", "AnsweredBy": "09810000012"}
        ]),
    );
    let r = app
        .hook_to(EXOTEL)
        .header(SECRET_HEADER, EXOTEL_SECRET)
        .json(&Value::Object(payload))
        .send()
        .await
        .expect("POST /hooks/exotel");
    let (status, body) = answer(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.settle().await;

    let recording =
        format!("https://recordings.exotel.com/exotelrecordings/acmesupport1/{form_call}.mp3");
    let t = app.only_ticket(&format!("exotel:{form_call}")).await;
    assert_eq!(t["assignee_id"], PRIYA, "AnsweredBy 09810000011");
    for tag in ["deskline", "voice", "call_answered", "inbound"] {
        assert!(has_tag(&t, tag), "tag {tag} in {:?}", tags(&t));
    }
    for tag in ["call_missed", "deskline_agent_unmatched"] {
        assert!(!has_tag(&t, tag), "no tag {tag} in {:?}", tags(&t));
    }
    assert_eq!(t["subject"], "Answered inbound call from +919876501234");
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some(form_call));
    assert_eq!(field(&t, FIELD_DIRECTION).as_deref(), Some("inbound"));
    // 17:10:02 to 17:11:28.
    assert_eq!(field(&t, FIELD_DURATION).as_deref(), Some("86"));
    assert_eq!(
        field(&t, FIELD_RECORDING).as_deref(),
        Some(recording.as_str())
    );
    assert_eq!(field(&t, FIELD_CALLER).as_deref(), Some("+919876501234"));
    let id = t["id"].as_u64().expect("ticket id");
    let note = comment_body(&app.comments(id).await[0]).to_string();
    // Exotel's naive times are India time: 17:10:02 IST is 11:40:02 UTC.
    assert!(
        note.contains("2024-11-26 17:10:02 IST") && note.contains("2024-11-26T11:40:02Z"),
        "{note}"
    );

    let t = app.only_ticket(&format!("exotel:{json_call}")).await;
    assert_eq!(t["assignee_id"], ARJUN, "AnsweredBy 09810000012");
    assert!(has_tag(&t, "call_answered"), "{:?}", tags(&t));
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some(json_call));
    assert_eq!(app.sandbox_tickets().await.len(), 2, "one ticket per call");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exotel_passthru_get_with_the_secret_makes_one_assigned_ticket() {
    let app = spawn_app_with_sources(vec![(EXOTEL, exotel_source())], |_| {}).await;
    let call = "9a7c5e3b1d0f4e2a8c6b4d2f0e1a3c59";
    let secret = secret_query();

    // At the start of the flow (opens nothing: open_ticket_on_ring is off), then after Connect.
    let (status, body) = exotel_get(&app, EX_PASSTHRU_ATTEMPT, Some(&secret)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = exotel_get(&app, EX_PASSTHRU_COMPLETED, Some(&secret)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.wait_for_ticket_of(EXOTEL, call).await;
    let (status, body) = exotel_get(&app, EX_PASSTHRU_COMPLETED, Some(&secret)).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("duplicate")),
        "the same Passthru again"
    );
    app.settle().await;

    let t = app.only_ticket(&format!("exotel:{call}")).await;
    assert_eq!(t["assignee_id"], PRIYA, "DialWhomNumber 09810000011");
    assert_eq!(
        t["requester_id"], ANITA,
        "09876543210 is Anita's +919876543210"
    );
    for tag in ["call_answered", "inbound"] {
        assert!(has_tag(&t, tag), "tag {tag} in {:?}", tags(&t));
    }
    assert!(!has_tag(&t, "call_missed"), "{:?}", tags(&t));
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some(call));
    assert_eq!(
        field(&t, FIELD_RECORDING).as_deref(),
        Some(
            format!("https://recordings.exotel.com/exotelrecordings/acmesupport1/{call}.mp3")
                .as_str()
        )
    );
    assert_eq!(field(&t, FIELD_CALLER).as_deref(), Some("+919876543210"));
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exotel_without_the_secret_is_refused_and_nothing_is_stored() {
    let app = spawn_app_with_sources(vec![(EXOTEL, exotel_source())], |_| {}).await;
    let wrong = form_encode(&[(
        "secret".to_string(),
        "not-the-secret-0123456789".to_string(),
    )]);

    for (what, extra) in [
        ("no secret", None),
        ("a wrong secret", Some(wrong.as_str())),
    ] {
        let (status, body) = exotel_get(&app, EX_PASSTHRU_COMPLETED, extra).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "Passthru with {what}: {body}"
        );
        let r = app
            .http
            .post(match extra {
                Some(e) => format!("{}?{e}", app.hook_url(EXOTEL)),
                None => app.hook_url(EXOTEL),
            })
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_with(EX_STATUS_INBOUND, &[]))
            .send()
            .await
            .expect("POST /hooks/exotel");
        let (status, body) = answer(r).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "status callback with {what}: {body}"
        );
    }
    let r = app
        .hook_to(EXOTEL)
        .header(SECRET_HEADER, "not-the-secret-0123456789")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_with(EX_STATUS_INBOUND, &[]))
        .send()
        .await
        .expect("POST /hooks/exotel");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a wrong secret header"
    );
    app.assert_nothing_stored().await;
    app.stop().await;
}
