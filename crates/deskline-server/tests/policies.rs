//! The per-source policies end to end: threading (one ticket per call, per caller, missed-call
//! roll-up), business hours with their after-hours rule, and the generic source mapped by
//! configuration alone. Each call is delivered and settled before the next, as calls minutes
//! apart arrive; the call times in the payloads say how far apart the calls were.

mod common;

use common::*;
use deskline_core::hours::{AfterHours, BusinessHours};
use deskline_core::plan::GroupRef;
use deskline_core::threading::ThreadingPolicy;
use deskline_server::config::{validate, Config, SourceConfig};
use figment::providers::{Format, Toml};
use figment::Figment;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Anita's number (the answered example's caller).
const ANITA_NUMBER: &str = "+919876543210";
/// The missed example's caller, an end-user known only by phone.
const MISSED_NUMBER: &str = "+919820000003";
/// When the answered example's call started: Sat 2024-11-23 17:25:21 IST.
const ANSWERED_START: i64 = 1_732_362_921;
/// When the missed example's call started: Sat 2024-11-23 17:30:50 IST.
const MISSED_START: i64 = 1_732_363_250;
/// The seed's Support group.
const SUPPORT: u64 = 20001;
const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;

/// The prefix of a call note appended to an existing ticket.
const ANOTHER_CALL: &str = "Another call from this caller";

// --- payloads --------------------------------------------------------------------------------

/// The MyOperator payload with every time moved so that the call starts at `start` (epoch
/// seconds): `_st`, `_ms`, `_et`, `_ts` and each leg's `_st` and `_et`.
fn starting_at(mut payload: Value, start: i64) -> Value {
    let delta = start - payload["_st"].as_i64().expect("the example has _st");
    let shift = |v: &mut Value, key: &str, by: i64| {
        if let Some(n) = v.get(key).and_then(Value::as_i64) {
            v[key] = json!(n + by);
        }
    };
    shift(&mut payload, "_st", delta);
    shift(&mut payload, "_et", delta);
    shift(&mut payload, "_ts", delta);
    shift(&mut payload, "_ms", delta * 1000);
    if let Some(legs) = payload["_ld"].as_array_mut() {
        for leg in legs {
            shift(leg, "_st", delta);
            shift(leg, "_et", delta);
        }
    }
    payload
}

/// An answered After-Call (taken by Priya, department Support) from `number`, call `id`,
/// starting at `start`.
fn answered_from(id: &str, number: &str, start: i64) -> Value {
    starting_at(
        with_caller(with_call_id(answered_call(), id), number),
        start,
    )
}

/// A missed After-Call (department Sales) from `number`, call `id`, starting at `start`.
fn missed_from(id: &str, number: &str, start: i64) -> Value {
    starting_at(with_caller(with_call_id(missed_call(), id), number), start)
}

// --- steps -----------------------------------------------------------------------------------

/// Starts the sandbox and deskline with the MyOperator source changed by `configure`.
async fn spawn_with_source(configure: impl FnOnce(&mut SourceConfig)) -> TestApp {
    spawn_app_with(sandbox_config(), |c: &mut Config| {
        let source = c.sources.get_mut(SOURCE).expect("the MyOperator source");
        configure(source);
    })
    .await
}

/// Delivers one call, waits until every job has completed, and returns the call's ticket.
async fn call(app: &TestApp, payload: &Value) -> u64 {
    app.deliver(payload).await;
    app.settle().await;
    app.wait_for_ticket(&call_id(payload)).await
}

/// Asserts the ticket has every one of `present` and none of `absent` among its tags.
fn assert_tags(t: &Value, present: &[&str], absent: &[&str]) {
    for tag in present {
        assert!(has_tag(t, tag), "tag {tag} in {:?}", tags(t));
    }
    for tag in absent {
        assert!(!has_tag(t, tag), "no tag {tag} in {:?}", tags(t));
    }
}

/// Asserts the ticket's comments are the notes of `calls`, in order: the first the ticket's
/// own call note, each later one an internal note prefixed [`ANOTHER_CALL`]; `kinds[i]` is
/// "Answered" or "Missed".
fn assert_call_notes(comments: &[Value], calls: &[(&str, &str)]) {
    assert_eq!(
        comments.len(),
        calls.len(),
        "one note per call {calls:?}: {comments:#?}"
    );
    for (i, (c, (id, kind))) in comments.iter().zip(calls).enumerate() {
        let body = comment_body(c);
        assert_eq!(c["public"], false, "an internal note: {body}");
        assert_eq!(
            body.starts_with(ANOTHER_CALL),
            i > 0,
            "only appended calls are prefixed {ANOTHER_CALL:?}:\n{body}"
        );
        let heading = format!("{kind} inbound call");
        assert!(body.contains(&heading), "note {i} has {heading:?}:\n{body}");
        let provider_id = format!("Provider call id: myoperator {id}");
        assert!(
            body.contains(&provider_id),
            "note {i} has {provider_id:?}:\n{body}"
        );
    }
}

// --- threading -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_caller_appends_a_call_within_the_window_to_the_callers_unsolved_ticket() {
    let app = spawn_with_source(|s| {
        s.threading = ThreadingPolicy::PerCaller { window_minutes: 30 };
    })
    .await;
    let t0 = ANSWERED_START;

    // Anita calls and Priya answers: a ticket of its own.
    let first = call(&app, &answered_from("pc-1", ANITA_NUMBER, t0)).await;
    // Ten minutes later she calls again and nobody answers: the same ticket.
    let second = call(&app, &missed_from("pc-2", ANITA_NUMBER, t0 + 10 * MINUTE)).await;
    assert_eq!(
        second, first,
        "the second call joins the first call's ticket"
    );
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    let t = app.only_ticket("myoperator:pc-1").await;
    assert!(app
        .tickets_with_external_id("myoperator:pc-2")
        .await
        .is_empty());
    assert_eq!(t["requester_id"], ANITA);
    assert_eq!(t["assignee_id"], PRIYA, "still Priya's");
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some("pc-1"));
    assert_tags(
        &t,
        &[
            "call_answered",
            "department_support",
            "call_missed",
            "department_sales",
        ],
        &[],
    );
    assert_call_notes(
        &app.comments(first).await,
        &[("pc-1", "Answered"), ("pc-2", "Missed")],
    );

    // Priya solves it; Anita calls again within the window of her last call: a new ticket.
    let r = app
        .sandbox(Method::PUT, &format!("/api/v2/tickets/{first}"))
        .json(&json!({"ticket": {"status": "solved"}}))
        .send()
        .await
        .expect("PUT the ticket");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    assert_eq!(app.ticket(first).await["status"], "solved");
    let third = call(&app, &answered_from("pc-3", ANITA_NUMBER, t0 + 15 * MINUTE)).await;
    assert_ne!(third, first, "a solved ticket takes no more calls");
    assert_call_notes(&app.comments(third).await, &[("pc-3", "Answered")]);
    assert_eq!(
        app.comments(first).await.len(),
        2,
        "the solved ticket is untouched"
    );

    // Two hours later: outside the window of the open ticket's last call, a new ticket.
    let fourth = call(
        &app,
        &answered_from("pc-4", ANITA_NUMBER, t0 + 2 * HOUR + 15 * MINUTE),
    )
    .await;
    assert_ne!(fourth, third, "a call outside the window opens a ticket");
    assert_ne!(fourth, first);
    assert_eq!(app.ticket(third).await["status"], "open");
    assert_call_notes(&app.comments(third).await, &[("pc-3", "Answered")]);

    // And the caller's latest ticket is now the new one: a call five minutes on joins it.
    let fifth = call(
        &app,
        &missed_from("pc-5", ANITA_NUMBER, t0 + 2 * HOUR + 20 * MINUTE),
    )
    .await;
    assert_eq!(fifth, fourth);
    assert_call_notes(
        &app.comments(fourth).await,
        &[("pc-4", "Answered"), ("pc-5", "Missed")],
    );

    assert_eq!(app.sandbox_tickets().await.len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_rollup_gathers_missed_calls_and_an_answered_call_breaks_the_run() {
    let app = spawn_with_source(|s| {
        s.threading = ThreadingPolicy::MissedRollup { window_minutes: 10 };
    })
    .await;
    let t0 = MISSED_START;

    // Three missed calls within ten minutes: one ticket, in the missed-calls group.
    let first = call(&app, &missed_from("mr-1", MISSED_NUMBER, t0)).await;
    for (id, at) in [("mr-2", t0 + 4 * MINUTE), ("mr-3", t0 + 8 * MINUTE)] {
        let ticket = call(&app, &missed_from(id, MISSED_NUMBER, at)).await;
        assert_eq!(ticket, first, "missed call {id} rolls up");
    }
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    let t = app.only_ticket("myoperator:mr-1").await;
    assert_eq!(t["requester_id"], PHONE_ONLY_CALLER);
    assert_eq!(t["group_id"], VOICE_MISSED_CALLS);
    assert_eq!(t["assignee_id"], Value::Null);
    assert_call_notes(
        &app.comments(first).await,
        &[("mr-1", "Missed"), ("mr-2", "Missed"), ("mr-3", "Missed")],
    );

    // The caller gets through: the answered call has a ticket of its own, Priya's.
    let answered = call(&app, &answered_from("mr-4", MISSED_NUMBER, t0 + 9 * MINUTE)).await;
    assert_ne!(answered, first, "an answered call never rolls up");
    let t = app.ticket(answered).await;
    assert_eq!(t["assignee_id"], PRIYA);
    assert_eq!(t["external_id"], "myoperator:mr-4");
    assert_call_notes(&app.comments(answered).await, &[("mr-4", "Answered")]);

    // The next missed call, a minute on, is within the window of the first ticket's last
    // missed call, but the caller's last call was answered: `decide` opens a new ticket.
    let after = call(&app, &missed_from("mr-5", MISSED_NUMBER, t0 + 10 * MINUTE)).await;
    assert_ne!(after, first, "the answered call ended the first run");
    assert_ne!(
        after, answered,
        "a missed call never joins an answered call's ticket"
    );
    // ... and the new run rolls up as the first did.
    let again = call(&app, &missed_from("mr-6", MISSED_NUMBER, t0 + 12 * MINUTE)).await;
    assert_eq!(again, after);
    assert_call_notes(
        &app.comments(after).await,
        &[("mr-5", "Missed"), ("mr-6", "Missed")],
    );
    // More than ten minutes after the last missed call: a new ticket.
    let late = call(&app, &missed_from("mr-7", MISSED_NUMBER, t0 + 23 * MINUTE)).await;
    assert!(
        ![first, answered, after].contains(&late),
        "outside the window"
    );

    assert_eq!(
        app.comments(first).await.len(),
        3,
        "the first run is untouched"
    );
    assert_eq!(app.comments(answered).await.len(), 1);
    assert_eq!(app.sandbox_tickets().await.len(), 4);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_call_by_default_gives_every_call_its_own_ticket() {
    let app = spawn_app().await;
    let t0 = ANSWERED_START;

    let first = call(&app, &answered_from("pcall-1", ANITA_NUMBER, t0)).await;
    let second = call(
        &app,
        &answered_from("pcall-2", ANITA_NUMBER, t0 + 5 * MINUTE),
    )
    .await;
    assert_ne!(first, second, "two calls, two tickets");
    for (id, ticket) in [("pcall-1", first), ("pcall-2", second)] {
        let t = app.only_ticket(&format!("myoperator:{id}")).await;
        assert_eq!(t["id"], ticket);
        assert_eq!(t["requester_id"], ANITA, "both from Anita");
        assert_call_notes(&app.comments(ticket).await, &[(id, "Answered")]);
    }
    assert_eq!(app.sandbox_tickets().await.len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_caller_threads_calls_of_one_caller_processed_together() {
    // A backlog (after an outage, or a quick ring-back): the calls' jobs run at once.
    let app = spawn_with_source(|s| {
        s.threading = ThreadingPolicy::PerCaller { window_minutes: 30 };
    })
    .await;
    let t0 = ANSWERED_START;
    let ids = ["tg-1", "tg-2", "tg-3"];
    for (i, id) in (0i64..).zip(ids) {
        app.deliver(&answered_from(id, ANITA_NUMBER, t0 + i * 5 * MINUTE))
            .await;
    }
    app.settle().await;
    let tickets = app.sandbox_tickets().await;
    let external: Vec<&Value> = tickets.iter().map(|t| &t["external_id"]).collect();
    assert_eq!(
        tickets.len(),
        1,
        "one ticket for the three calls: {external:?}"
    );
    let id = tickets[0]["id"].as_u64().expect("ticket id");
    for call_id in ids {
        assert_eq!(app.wait_for_ticket(call_id).await, id, "{call_id}");
    }
    // Whichever call was processed first opened the ticket; the window runs from the latest
    // call (t0 + 10 min) however the calls were processed: t0 + 35 min joins.
    let late = call(&app, &answered_from("tg-4", ANITA_NUMBER, t0 + 35 * MINUTE)).await;
    assert_eq!(late, id, "within 30 minutes of the latest call");
    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 4, "{comments:#?}");
    for (i, c) in comments.iter().enumerate() {
        assert_eq!(
            comment_body(c).starts_with(ANOTHER_CALL),
            i > 0,
            "{}",
            comment_body(c)
        );
    }
    for call_id in ["tg-1", "tg-2", "tg-3", "tg-4"] {
        let wanted = format!("Provider call id: myoperator {call_id}");
        let n = comments
            .iter()
            .filter(|c| comment_body(c).contains(&wanted))
            .count();
        assert_eq!(n, 1, "one note for {call_id}");
    }
    app.stop().await;
}

// --- business hours --------------------------------------------------------------------------

/// Mon–Fri 09:00–18:00 India time.
fn india_office_hours() -> BusinessHours {
    serde_json::from_value(json!({
        "time_zone": "Asia/Kolkata",
        "weekly": [{ "days": ["mon-fri"], "from": "09:00", "to": "18:00" }],
    }))
    .expect("business hours")
}

/// Missed calls after hours go to Support, tagged `after_hours`.
fn to_support_after_hours() -> AfterHours {
    AfterHours {
        group: Some(GroupRef::Name("Support".to_string())),
        tags: vec!["after_hours".to_string()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_call_outside_business_hours_goes_to_the_after_hours_group_with_its_tag() {
    let app = spawn_with_source(|s| {
        s.business_hours = Some(india_office_hours());
        s.after_hours = Some(to_support_after_hours());
    })
    .await;
    // Fri 2024-11-22 in India: 11:00, 18:00 (closing time, so closed) and 22:00.
    let friday_11 = 1_732_253_400;
    let friday_18 = friday_11 + 7 * HOUR;
    let friday_22 = friday_11 + 11 * HOUR;

    // The example's missed call, on a Saturday afternoon.
    let saturday = call(&app, &missed_from("bh-sat", MISSED_NUMBER, MISSED_START)).await;
    let t = app.ticket(saturday).await;
    assert_eq!(t["group_id"], SUPPORT, "the after-hours group");
    assert_eq!(t["assignee_id"], Value::Null);
    assert_tags(&t, &["after_hours", "call_missed"], &[]);

    // A weekday at 11:00: the usual missed-calls group, no tag.
    let open = call(&app, &missed_from("bh-fri-11", MISSED_NUMBER, friday_11)).await;
    let t = app.ticket(open).await;
    assert_eq!(
        t["group_id"], VOICE_MISSED_CALLS,
        "the usual fallback group"
    );
    assert_tags(&t, &["call_missed"], &["after_hours"]);

    // 18:00 on the dot is closed.
    let closing = call(&app, &missed_from("bh-fri-18", MISSED_NUMBER, friday_18)).await;
    let t = app.ticket(closing).await;
    assert_eq!(t["group_id"], SUPPORT);
    assert_tags(&t, &["after_hours", "call_missed"], &[]);

    // An answered call at night is assigned as usual, untagged.
    let night = call(&app, &answered_from("bh-fri-22", ANITA_NUMBER, friday_22)).await;
    let t = app.ticket(night).await;
    assert_eq!(t["assignee_id"], PRIYA);
    assert_tags(&t, &["call_answered"], &["after_hours", "call_missed"]);

    assert_eq!(app.sandbox_tickets().await.len(), 4);
    app.stop().await;
}

#[test]
fn after_hours_without_business_hours_is_refused_naming_after_hours() {
    let dir = tempfile::TempDir::new().expect("temporary directory");
    let mut config = test_config("http://127.0.0.1:9", &dir);
    let source = config
        .sources
        .get_mut(SOURCE)
        .expect("the MyOperator source");
    source.after_hours = Some(to_support_after_hours());
    let Err(e) = validate(config.clone()) else {
        panic!("after_hours without business_hours must be refused");
    };
    let key = format!("sources.{SOURCE}.after_hours");
    assert!(
        e.problems
            .iter()
            .any(|p| p.key == key && p.problem.contains("business_hours")),
        "a problem for {key} naming business_hours: {e}"
    );
    assert!(e.to_string().contains(&key), "{e}");

    // With the hours it is accepted.
    let source = config
        .sources
        .get_mut(SOURCE)
        .expect("the MyOperator source");
    source.business_hours = Some(india_office_hours());
    if let Err(e) = validate(config) {
        panic!("after_hours with business_hours is valid: {e}");
    }
}

// --- the generic source ----------------------------------------------------------------------

const RINGLY: &str = "ringly";
const RINGLY_TOML: &str = include_str!("../../../examples/generic/ringly.toml");
const RINGLY_CALL_ENDED: &str = include_str!("../../../examples/generic/ringly-call-ended.json");
/// The example's call id (`call.uuid`).
const RINGLY_CALL: &str = "rng_c_7Hq2LkP9";
const RINGLY_RECORDING: &str = "https://media.ringly.example/rec/rng_c_7Hq2LkP9.mp3?sig=a1b2c3";

/// The `ringly` source exactly as examples/generic/ringly.toml configures it (its mapping,
/// region and time zone), plus the test secret and the seed's call fields.
fn ringly_source() -> SourceConfig {
    let mut source: SourceConfig = Figment::from(Toml::string(RINGLY_TOML))
        .extract_inner("sources.ringly")
        .unwrap_or_else(|e| panic!("examples/generic/ringly.toml: {e}"));
    assert!(source.mapping.is_some(), "the example has a mapping");
    source.secret = Some(SECRET.to_string());
    source.fields = call_fields();
    source
}

/// The example call-ended payload, its answering agent's email set to `email`.
fn ringly_call(email: &str) -> Value {
    let mut v: Value = serde_json::from_str(RINGLY_CALL_ENDED).expect("the example is JSON");
    let legs = v["call"]["legs"].as_array_mut().expect("call.legs");
    for leg in legs {
        if leg["status"] == "answered" {
            leg["agent"]["email"] = json!(email);
        }
    }
    v
}

/// Posts to the ringly hook with the secret: status and JSON body.
async fn post_ringly(app: &TestApp, payload: &Value) -> (StatusCode, Value) {
    let r = app
        .hook_to(RINGLY)
        .header(SECRET_HEADER, SECRET)
        .json(payload)
        .send()
        .await
        .expect("POST /hooks/ringly");
    answer(r).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generic_source_maps_a_providers_payload_by_configuration_alone() {
    let app = spawn_app_with_sources(vec![(RINGLY, ringly_source())], |_| {}).await;
    let good = ringly_call("priya.sharma@sandbox.test");

    // Other events on the same URL: `only_when` filters them out, and nothing is stored.
    let mut ringing = good.clone();
    ringing["type"] = json!("call.ringing");
    let (status, body) = post_ringly(&app, &ringing).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ignored", "{body}");

    // A payload without the call id: 400 naming the mapping key and its selector.
    let mut no_id = good.clone();
    no_id["call"].as_object_mut().expect("call").remove("uuid");
    let (status, body) = post_ringly(&app, &no_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_payload", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("mapping.call_id") && message.contains("call.uuid"),
        "the message names the key and the selector: {message}"
    );

    // Without the secret: refused.
    let r = app
        .hook_to(RINGLY)
        .json(&good)
        .send()
        .await
        .expect("POST /hooks/ringly");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.assert_nothing_stored().await;

    // The call: one ticket, Priya's, with the call's fields.
    let (status, body) = post_ringly(&app, &good).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "accepted", "{body}");
    let id = app.wait_for_ticket_of(RINGLY, RINGLY_CALL).await;
    app.settle().await;
    let t = app.only_ticket(&format!("ringly:{RINGLY_CALL}")).await;
    assert_eq!(t["id"], id);
    assert_eq!(t["assignee_id"], PRIYA, "matched by email");
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some(RINGLY_CALL));
    assert_eq!(field(&t, FIELD_DIRECTION).as_deref(), Some("inbound"));
    assert_eq!(
        field(&t, FIELD_DURATION).as_deref(),
        Some("142"),
        "00:02:22"
    );
    assert_eq!(
        field(&t, FIELD_RECORDING).as_deref(),
        Some(RINGLY_RECORDING)
    );
    // "020 7946 0958" in the source's region, GB.
    assert_eq!(field(&t, FIELD_CALLER).as_deref(), Some("+442079460958"));
    assert_tags(
        &t,
        &[
            "deskline",
            "voice",
            "call_answered",
            "inbound",
            "department_support",
        ],
        &["call_missed", "deskline_agent_unmatched"],
    );
    let callers = app.end_users_with_phone("+442079460958").await;
    assert_eq!(
        callers.len(),
        1,
        "the caller, created by phone: {callers:#?}"
    );
    assert_eq!(t["requester_id"], callers[0]["id"]);
    let comments = app.comments(id).await;
    assert_eq!(comments.len(), 1);
    let note = comment_body(&comments[0]);
    for part in [
        "Answered inbound call",
        "Priya Sharma",
        "London, GB",
        RINGLY_RECORDING,
    ] {
        assert!(note.contains(part), "the note has {part:?}:\n{note}");
    }

    // Redelivered with the same event id: a duplicate.
    let (status, body) = post_ringly(&app, &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "duplicate", "{body}");

    // The example as sent, whose agent email is nobody in Zendesk: never guessed.
    let mut unmatched = ringly_call("Priya.Sharma@acme.test");
    unmatched["id"] = json!("evt_unmatched");
    unmatched["call"]["uuid"] = json!("rng_c_unmatched");
    let (status, body) = post_ringly(&app, &unmatched).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let other = app.wait_for_ticket_of(RINGLY, "rng_c_unmatched").await;
    app.settle().await;
    let t = app.ticket(other).await;
    assert_eq!(t["assignee_id"], Value::Null);
    assert_eq!(t["group_id"], VOICE_MISSED_CALLS, "the fallback group");
    assert_tags(&t, &["call_answered", "deskline_agent_unmatched"], &[]);

    assert_eq!(app.sandbox_tickets().await.len(), 2);
    app.stop().await;
}
