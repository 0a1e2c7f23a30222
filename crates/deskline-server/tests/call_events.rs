//! The events of one MyOperator call end to end: In-Call ringing and answered, After-Call,
//! Disposition and the v2 envelope, in order, out of order and twice. Whatever the shape, a
//! call is one ticket, and each event has its effect once.

mod common;

use common::*;
use deskline_core::plan::AnsweringAgent;
use deskline_server::config::{Config, SourceKind};
use reqwest::StatusCode;
use serde_json::{json, Value};

const IN_CALL_RINGING: &str = include_str!("../../../examples/myoperator/in-call-ringing.json");
const IN_CALL_ANSWERED: &str = include_str!("../../../examples/myoperator/in-call-answered.json");
const DISPOSITION: &str = include_str!("../../../examples/myoperator/disposition.json");
const V2_ANSWERED: &str = include_str!("../../../examples/myoperator/v2-call-answered.json");
const V2_SUMMARY: &str = include_str!("../../../examples/myoperator/v2-call-summary.json");
const V2_DISPOSITION: &str = include_str!("../../../examples/myoperator/v2-disposition.json");

/// The example call's unique id: In-Call `uid`, After-Call and Disposition `_pm` `ui`.
const UID: &str = "d5.1732362921.5512";
/// The v2 examples' `session_id`.
const SESSION: &str = "0f8e6a2c-5b1d-4c7e-9a3f-6741c2a95512";
const PRIYA_NUMBER: &str = "+919810000011";
const ARJUN_NUMBER: &str = "+919810000012";
const RECORDING: &str = "https://app.myoperator.co/audio/a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b";

fn example(text: &str) -> Value {
    serde_json::from_str(text).expect("the example is JSON")
}

/// In-Call ringing of call `uid` on `numbers`.
fn ringing(uid: &str, numbers: &[&str]) -> Value {
    let mut v = example(IN_CALL_RINGING);
    v["uid"] = json!(uid);
    v["users"] = json!(numbers);
    v
}

/// In-Call answered of call `uid` by `number`.
fn answered(uid: &str, number: &str) -> Value {
    let mut v = example(IN_CALL_ANSWERED);
    v["uid"] = json!(uid);
    v["users"] = json!([number]);
    v
}

/// The After-Call of call `id` (answered by Priya after Arjun missed it).
fn after_call(id: &str) -> Value {
    with_call_id(answered_call(), id)
}

/// The Disposition of call `id` (its call log, two dispositions and Priya's comment).
fn disposition(id: &str) -> Value {
    with_call_id(example(DISPOSITION), id)
}

/// A leg of the After-Call's `_ld`.
fn leg(agent: &str, email: &str, number: &str, received: bool, start: i64, secs: i64) -> Value {
    json!({
        "_ds": if received { "ANSWER" } else { "NOANSWER" },
        "_rr": [{"_na": agent, "_em": email, "_nr": number}],
        "_su": if received { "1" } else { "2" },
        "_st": start,
        "_et": start + secs,
        "_dr": format!("00:{:02}:{:02}", secs / 60, secs % 60),
        "_ac": if received { "received" } else { "missed" },
    })
}

/// The After-Call of call `id` with these legs.
fn after_call_with_legs(id: &str, legs: Vec<Value>) -> Value {
    let mut v = after_call(id);
    v["_ld"] = json!(legs);
    v
}

/// Delivers and checks the answer's status: 202 for something new, 200 for a redelivery.
async fn send(app: &TestApp, payload: &Value, expected: StatusCode) {
    let (status, body) = app.post_myoperator(payload).await;
    assert_eq!(status, expected, "{body}\n{payload}");
    let word = if expected == StatusCode::ACCEPTED {
        "accepted"
    } else {
        "duplicate"
    };
    assert_eq!(body["status"], word, "{body}");
}

/// Configures the MyOperator source.
fn myoperator(
    configure: impl FnOnce(&mut deskline_server::config::SourceConfig),
) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        if let Some(s) = c.sources.get_mut(SOURCE) {
            s.disposition_field = Some(FIELD_DISPOSITION);
            configure(s);
        }
    }
}

/// Checks the ticket carries the finished answered call, completed once.
fn assert_completed_answered(t: &Value, call: &str) {
    for tag in [
        "deskline",
        "voice",
        "call_answered",
        "inbound",
        "department_support",
    ] {
        assert!(has_tag(t, tag), "tag {tag} in {:?}", tags(t));
    }
    for tag in [
        "call_in_progress",
        "call_missed",
        "deskline_agent_unmatched",
    ] {
        assert!(!has_tag(t, tag), "no tag {tag} in {:?}", tags(t));
    }
    assert_eq!(t["subject"], "Answered inbound call from +919876543210");
    assert_eq!(t["requester_id"], ANITA);
    assert_eq!(field(t, FIELD_CALL_ID).as_deref(), Some(call));
    assert_eq!(field(t, FIELD_DIRECTION).as_deref(), Some("inbound"));
    assert_eq!(field(t, FIELD_DURATION).as_deref(), Some("128"));
    assert_eq!(field(t, FIELD_RECORDING).as_deref(), Some(RECORDING));
    assert_eq!(field(t, FIELD_CALLER).as_deref(), Some("+919876543210"));
}

/// Checks the example disposition was applied once: tags, field and one note.
fn assert_disposition_applied_once(t: &Value, comments: &[Value]) {
    for tag in ["disposition_billing_query", "disposition_resolved_on_call"] {
        assert!(has_tag(t, tag), "tag {tag} in {:?}", tags(t));
    }
    assert_eq!(
        field(t, FIELD_DISPOSITION).as_deref(),
        Some("Billing query, Resolved on call")
    );
    let notes: Vec<&Value> = comments
        .iter()
        .filter(|c| comment_body(c).starts_with("Disposition:"))
        .collect();
    assert_eq!(notes.len(), 1, "one disposition note: {comments:#?}");
    assert_eq!(notes[0]["public"], false, "an internal note");
    let body = comment_body(notes[0]);
    for part in [
        "Disposition: Billing query, Resolved on call",
        "Comment: Charged twice for the November invoice",
        "By: Priya Sharma",
    ] {
        assert!(body.contains(part), "the note has {part:?}:\n{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ringing_opens_the_ticket_the_answer_assigns_it_and_the_after_call_completes_it() {
    let app = spawn_app_with(
        sandbox_with_disposition_field(),
        myoperator(|s| s.open_ticket_on_ring = true),
    )
    .await;

    send(
        &app,
        &ringing(UID, &[ARJUN_NUMBER, PRIYA_NUMBER]),
        StatusCode::ACCEPTED,
    )
    .await;
    // Agents see the call at once, before anyone answers.
    let id = app.wait_for_ticket(UID).await;
    let t = app.ticket(id).await;
    assert!(has_tag(&t, "call_in_progress"), "{:?}", tags(&t));
    assert!(!has_tag(&t, "call_answered"), "{:?}", tags(&t));
    assert_eq!(t["assignee_id"], Value::Null);
    assert_eq!(t["requester_id"], ANITA, "the caller, found by phone");
    assert_eq!(t["external_id"], format!("myoperator:{UID}"));

    send(&app, &answered(UID, PRIYA_NUMBER), StatusCode::ACCEPTED).await;
    app.wait_for_ticket_state(id, "assigned to Priya on answer", |t| {
        t["assignee_id"] == PRIYA
    })
    .await;

    // The After-Call's `_pm` ui is the In-Call uid: the same call.
    send(&app, &after_call(UID), StatusCode::ACCEPTED).await;
    app.settle().await;

    let t = app.only_ticket(&format!("myoperator:{UID}")).await;
    assert_eq!(t["id"], id, "the ticket opened at ringing");
    assert_eq!(t["assignee_id"], PRIYA);
    assert_completed_answered(&t, UID);
    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 2, "the ringing note and the call note");
    assert!(comments.iter().all(|c| c["public"] == false));
    let ring_note = comment_body(&comments[0]);
    for part in [
        "Inbound call from +919876543210 started at 2024-11-23 17:25:21 IST",
        "Ringing: +919810000012, +919810000011.",
    ] {
        assert!(
            ring_note.contains(part),
            "the ringing note has {part:?}:\n{ring_note}"
        );
    }
    let note = comment_body(&comments[1]);
    for part in ["Answered inbound call", "Priya Sharma", RECORDING, UID] {
        assert!(note.contains(part), "the call note has {part:?}:\n{note}");
    }
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    assert_eq!(app.count_requests("POST", "/api/v2/tickets").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_open_ticket_on_ring_the_ticket_is_created_only_when_the_call_ends() {
    let app = spawn_app_with(sandbox_with_disposition_field(), myoperator(|_| {})).await;

    send(
        &app,
        &ringing(UID, &[ARJUN_NUMBER, PRIYA_NUMBER]),
        StatusCode::ACCEPTED,
    )
    .await;
    send(&app, &answered(UID, PRIYA_NUMBER), StatusCode::ACCEPTED).await;
    app.settle().await;
    assert_eq!(
        app.sandbox_tickets().await.len(),
        0,
        "no ticket while it rings"
    );
    assert_eq!(app.count_requests("POST", "/api/v2/tickets").await, 0);

    send(&app, &after_call(UID), StatusCode::ACCEPTED).await;
    app.settle().await;
    let t = app.only_ticket(&format!("myoperator:{UID}")).await;
    assert_eq!(t["assignee_id"], PRIYA);
    assert_completed_answered(&t, UID);
    let id = t["id"].as_u64().expect("ticket id");
    assert_eq!(app.comments(id).await.len(), 1, "the call note only");
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disposition_before_the_after_call_is_applied_once_the_ticket_exists() {
    let app = spawn_app_with(sandbox_with_disposition_field(), myoperator(|_| {})).await;

    // The Disposition carries the call log too: its record and its disposition are new.
    send(&app, &disposition(UID), StatusCode::ACCEPTED).await;
    // The After-Call that follows says nothing new: the same call log (`_ai`).
    send(&app, &after_call(UID), StatusCode::OK).await;
    let jobs = app.settle().await;
    assert_eq!(
        jobs.len(),
        2,
        "the call's end and its disposition: {jobs:#?}"
    );

    let t = app.only_ticket(&format!("myoperator:{UID}")).await;
    assert_eq!(t["assignee_id"], PRIYA);
    assert_completed_answered(&t, UID);
    let id = t["id"].as_u64().expect("ticket id");
    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 2, "the call note and the disposition note");
    assert_disposition_applied_once(&t, &comments);
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_out_of_order_events_make_one_ticket_and_one_effect_each() {
    let app = spawn_app_with(
        sandbox_with_disposition_field(),
        myoperator(|s| s.open_ticket_on_ring = true),
    )
    .await;

    // Call 1: the After-Call first; ringing and answered arrive late; then everything again.
    let one = "d5.1732362921.7001";
    let events = [
        after_call(one),
        ringing(one, &[ARJUN_NUMBER, PRIYA_NUMBER]),
        disposition(one),
        answered(one, PRIYA_NUMBER),
    ];
    for e in &events {
        send(&app, e, StatusCode::ACCEPTED).await;
    }
    for e in &events {
        send(&app, e, StatusCode::OK).await;
    }
    app.settle().await;
    let t = app.only_ticket(&format!("myoperator:{one}")).await;
    let id = t["id"].as_u64().expect("ticket id");
    assert_eq!(t["assignee_id"], PRIYA);
    assert_completed_answered(&t, one);
    let comments = app.comments(id).await;
    assert_eq!(
        comments.len(),
        2,
        "the call note and the disposition note; a late ring opens nothing: {comments:#?}"
    );
    assert_disposition_applied_once(&t, &comments);
    assert_eq!(
        app.count_requests("PUT", &format!("/api/v2/tickets/{id}"))
            .await,
        1,
        "one update: the disposition"
    );

    // Call 2: in order, but each event delivered twice, the copies interleaved.
    let two = "d5.1732362921.7002";
    let ring = ringing(two, &[ARJUN_NUMBER, PRIYA_NUMBER]);
    let answer = answered(two, PRIYA_NUMBER);
    let end = after_call(two);
    let dispo = disposition(two);
    send(&app, &ring, StatusCode::ACCEPTED).await;
    send(&app, &ring, StatusCode::OK).await;
    send(&app, &answer, StatusCode::ACCEPTED).await;
    send(&app, &end, StatusCode::ACCEPTED).await;
    send(&app, &answer, StatusCode::OK).await;
    send(&app, &dispo, StatusCode::ACCEPTED).await;
    send(&app, &end, StatusCode::OK).await;
    send(&app, &dispo, StatusCode::OK).await;
    send(&app, &ring, StatusCode::OK).await;
    app.settle().await;
    let t = app.only_ticket(&format!("myoperator:{two}")).await;
    let id = t["id"].as_u64().expect("ticket id");
    assert_eq!(t["assignee_id"], PRIYA);
    assert_completed_answered(&t, two);
    let comments = app.comments(id).await;
    assert_eq!(
        comments.len(),
        3,
        "ringing, call and disposition notes: {comments:#?}"
    );
    assert_disposition_applied_once(&t, &comments);

    assert_eq!(app.sandbox_tickets().await.len(), 2, "one ticket per call");
    assert_eq!(app.count_requests("POST", "/api/v2/tickets").await, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transferred_call_is_one_ticket_listing_both_legs_for_the_last_or_first_agent() {
    const FIRST: &str = "myoperator-first";
    const RING: &str = "myoperator-ring";
    let mut first = source_config(SourceKind::Myoperator, SECRET);
    first.answering_agent = AnsweringAgent::First;
    // The default policy, with tickets opened at ringing.
    let mut ring = source_config(SourceKind::Myoperator, SECRET);
    ring.open_ticket_on_ring = true;
    let app = spawn_app_with_sources(vec![(FIRST, first), (RING, ring)], |_| {}).await;
    let post_to = |source: &'static str, payload: Value| {
        let app = &app;
        async move {
            let r = app
                .hook_to(source)
                .header(SECRET_HEADER, SECRET)
                .json(&payload)
                .send()
                .await
                .expect("POST");
            let (status, body) = answer(r).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
    };
    // Arjun takes the call and transfers it to Priya; `_ld` lists Priya's leg first, so only
    // the legs' times say who came last.
    let transfer = |id: &str| {
        after_call_with_legs(
            id,
            vec![
                leg(
                    "Priya Sharma",
                    "priya.sharma@sandbox.test",
                    PRIYA_NUMBER,
                    true,
                    1_732_362_970,
                    78,
                ),
                leg(
                    "Arjun Mehta",
                    "arjun.mehta@sandbox.test",
                    ARJUN_NUMBER,
                    true,
                    1_732_362_930,
                    40,
                ),
            ],
        )
    };

    // The default policy: the agent who took the call last.
    let default_call = "d5.1732362921.8001";
    send(&app, &transfer(default_call), StatusCode::ACCEPTED).await;
    // `answering_agent = "first"`.
    let first_call = "d5.1732362921.8003";
    post_to(FIRST, transfer(first_call)).await;
    // Tickets opened at ringing: Arjun's answer event is delayed past the After-Call; it must
    // not undo the assignment to Priya.
    let ring_call = "d5.1732362921.8002";
    post_to(RING, ringing(ring_call, &[ARJUN_NUMBER, PRIYA_NUMBER])).await;
    post_to(RING, transfer(ring_call)).await;
    post_to(RING, answered(ring_call, ARJUN_NUMBER)).await;
    app.settle().await;

    for (call, assignee, agent) in [
        (default_call, PRIYA, "Priya Sharma"),
        (first_call, ARJUN, "Arjun Mehta"),
        (ring_call, PRIYA, "Priya Sharma"),
    ] {
        let t = app.only_ticket(&format!("myoperator:{call}")).await;
        assert_eq!(t["assignee_id"], assignee, "call {call}");
        assert!(has_tag(&t, "call_answered"), "{:?}", tags(&t));
        assert!(!has_tag(&t, "call_in_progress"), "{:?}", tags(&t));
        let id = t["id"].as_u64().expect("ticket id");
        let comments = app.comments(id).await;
        let note = comments
            .iter()
            .map(comment_body)
            .find(|b| b.starts_with("Answered inbound call"))
            .unwrap_or_else(|| panic!("a call note in {comments:#?}"));
        let named = format!("Agent: {agent}");
        for part in [
            named.as_str(),
            "Legs:",
            "1. Priya Sharma: answered, 1m 18s",
            "2. Arjun Mehta: answered, 40s",
        ] {
            assert!(
                note.contains(part),
                "call {call}: the note has {part:?}:\n{note}"
            );
        }
    }
    assert_eq!(app.sandbox_tickets().await.len(), 3, "one ticket per call");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_ring_answered_by_one_agent_is_one_answered_call() {
    let app = spawn_app_with(sandbox_with_disposition_field(), myoperator(|_| {})).await;
    let call = "d5.1732362921.9001";
    // Both agents ring at once; Priya picks up, Arjun's leg stops ringing.
    send(
        &app,
        &ringing(call, &[ARJUN_NUMBER, PRIYA_NUMBER]),
        StatusCode::ACCEPTED,
    )
    .await;
    send(&app, &answered(call, PRIYA_NUMBER), StatusCode::ACCEPTED).await;
    let end = after_call_with_legs(
        call,
        vec![
            leg(
                "Arjun Mehta",
                "arjun.mehta@sandbox.test",
                ARJUN_NUMBER,
                false,
                1_732_362_930,
                9,
            ),
            leg(
                "Priya Sharma",
                "priya.sharma@sandbox.test",
                PRIYA_NUMBER,
                true,
                1_732_362_930,
                118,
            ),
        ],
    );
    send(&app, &end, StatusCode::ACCEPTED).await;
    app.settle().await;

    let tickets = app.sandbox_tickets().await;
    assert_eq!(tickets.len(), 1, "no missed call for Arjun: {tickets:#?}");
    let t = app.only_ticket(&format!("myoperator:{call}")).await;
    assert_eq!(t["assignee_id"], PRIYA);
    assert!(has_tag(&t, "call_answered"), "{:?}", tags(&t));
    assert!(!has_tag(&t, "call_missed"), "{:?}", tags(&t));
    assert_ne!(t["group_id"], VOICE_MISSED_CALLS, "not a missed call");
    app.stop().await;
}

/// Waits until a disposition job has found no ticket and gone back to wait for it.
async fn wait_for_disposition_to_wait(app: &TestApp) {
    eventually("the disposition to wait for its ticket", || async {
        let jobs = app.jobs(None).await;
        jobs.iter()
            .any(|j| j["args"]["event"] == "disposition" && j["snoozes"].as_u64() >= Some(1))
            .then_some(())
    })
    .await;
}

/// A v2 `call.initiated` for the v2 examples' session (a guess shaped like the examples).
fn v2_initiated() -> Value {
    json!({
        "event_id": "evt_01JDA7P2A6C0E4G8J2L6N0Q4S8",
        "company_id": "5cd40f6554442586",
        "event_type": "call.initiated",
        "event_sequence": 1,
        "event_version": 1,
        "timestamp": "2024-11-23T11:55:22Z",
        "channel": "call",
        "direction": "incoming",
        "session_id": SESSION,
        "system_identifier": "+918069451200",
        "customer_identifier": "+919876543210",
        "payload": {"start_time": "2024-11-23T11:55:21Z"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_events_make_one_ticket_keyed_by_session_with_a_disposition_that_came_first() {
    let app = spawn_app_with(sandbox_with_disposition_field(), myoperator(|_| {})).await;
    let dispo = example(V2_DISPOSITION);
    let answer = example(V2_ANSWERED);
    let summary = example(V2_SUMMARY);

    // The disposition arrives first and waits for the ticket; every event comes twice.
    send(&app, &dispo, StatusCode::ACCEPTED).await;
    wait_for_disposition_to_wait(&app).await;
    send(&app, &answer, StatusCode::ACCEPTED).await;
    send(&app, &dispo, StatusCode::OK).await;
    send(&app, &summary, StatusCode::ACCEPTED).await;
    send(&app, &answer, StatusCode::OK).await;
    send(&app, &summary, StatusCode::OK).await;
    app.settle().await;

    let t = app.only_ticket(&format!("myoperator:{SESSION}")).await;
    assert_eq!(t["assignee_id"], PRIYA);
    assert_completed_answered(&t, SESSION);
    let id = t["id"].as_u64().expect("ticket id");
    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 2, "the call note and the disposition note");
    assert_disposition_applied_once(&t, &comments);
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_call_initiated_opens_the_ticket_that_the_summary_completes() {
    let app = spawn_app_with(
        sandbox_with_disposition_field(),
        myoperator(|s| s.open_ticket_on_ring = true),
    )
    .await;

    send(&app, &v2_initiated(), StatusCode::ACCEPTED).await;
    let id = app.wait_for_ticket(SESSION).await;
    assert!(has_tag(&app.ticket(id).await, "call_in_progress"));
    send(&app, &v2_initiated(), StatusCode::OK).await;
    send(&app, &example(V2_ANSWERED), StatusCode::ACCEPTED).await;
    app.wait_for_ticket_state(id, "assigned to Priya on answer", |t| {
        t["assignee_id"] == PRIYA
    })
    .await;
    send(&app, &example(V2_SUMMARY), StatusCode::ACCEPTED).await;
    send(&app, &example(V2_DISPOSITION), StatusCode::ACCEPTED).await;
    send(&app, &example(V2_SUMMARY), StatusCode::OK).await;
    app.settle().await;

    let t = app.only_ticket(&format!("myoperator:{SESSION}")).await;
    assert_eq!(t["id"], id, "the ticket opened at call.initiated");
    assert_eq!(t["assignee_id"], PRIYA);
    assert_completed_answered(&t, SESSION);
    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 3, "ringing, call and disposition notes");
    assert_disposition_applied_once(&t, &comments);
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

/// A call that rang open a ticket and was assigned on answer, but whose end says nobody took
/// it after all: the ticket moves to the fallback group and loses the assignee (Zendesk would
/// refuse the group change otherwise), and is completed, not left "in progress".
#[tokio::test]
async fn a_ringing_ticket_assigned_on_answer_that_ends_missed_moves_to_the_fallback_group() {
    let app = spawn_app_with(
        sandbox_with_disposition_field(),
        myoperator(|s| s.open_ticket_on_ring = true),
    )
    .await;
    send(&app, &ringing(UID, &[ARJUN_NUMBER]), StatusCode::ACCEPTED).await;
    let id = app.wait_for_ticket(UID).await;
    send(&app, &answered(UID, ARJUN_NUMBER), StatusCode::ACCEPTED).await;
    app.wait_for_ticket_state(id, "assigned to Arjun on answer", |t| {
        t["assignee_id"] == ARJUN
    })
    .await;
    send(
        &app,
        &with_call_id(missed_call(), UID),
        StatusCode::ACCEPTED,
    )
    .await;
    app.settle().await;
    let t = app.ticket(id).await;
    assert_eq!(t["group_id"], VOICE_MISSED_CALLS);
    assert_eq!(t["assignee_id"], Value::Null);
    assert!(has_tag(&t, "call_missed"), "{:?}", tags(&t));
    assert!(!has_tag(&t, "call_in_progress"), "{:?}", tags(&t));
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}
