//! What a call becomes in Zendesk: the ticket's assignee or group, its fields, note and tags,
//! and its requester, end to end over HTTP against the sandbox.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_call_becomes_one_ticket_assigned_to_the_agent_with_every_field() {
    let app = spawn_app().await;
    let payload = answered_call();
    let call = call_id(&payload);

    app.deliver(&payload).await;
    let ticket_id = app.wait_for_ticket(&call).await;

    let tickets = app.sandbox_tickets().await;
    assert_eq!(tickets.len(), 1, "exactly one ticket: {tickets:?}");
    let t = app.ticket(ticket_id).await;
    // The payload's email is " Priya.Sharma@Sandbox.test ": case and spaces do not matter.
    assert_eq!(t["assignee_id"], PRIYA);
    assert_eq!(t["status"], "open");
    assert_eq!(t["external_id"], format!("myoperator:{call}"));
    assert_eq!(t["subject"], "Answered inbound call from +919876543210");
    // +919876543210 is Anita's phone in the seed: found by a phone search, not created.
    assert_eq!(t["requester_id"], ANITA);
    let log = app.sandbox_requests(0).await;
    assert!(
        log.iter().any(|e| e["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/api/v2/users/search"))),
        "the requester was looked up by phone: {log:?}"
    );
    assert!(
        !log.iter()
            .any(|e| e["path"] == "/api/v2/users/create_or_update"),
        "a known caller is never created: {log:?}"
    );

    let tags = tags(&t);
    for tag in [
        "deskline",
        "voice",
        "call_answered",
        "inbound",
        "department_support",
    ] {
        assert!(tags.contains(&tag.to_string()), "tag {tag} in {tags:?}");
    }
    assert!(!tags.contains(&"deskline_agent_unmatched".to_string()));

    let recording = "https://app.myoperator.co/audio/a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b";
    assert_eq!(field(&t, FIELD_CALL_ID).as_deref(), Some(call.as_str()));
    assert_eq!(field(&t, FIELD_DIRECTION).as_deref(), Some("inbound"));
    assert_eq!(
        field(&t, FIELD_DURATION).as_deref(),
        Some("128"),
        "00:02:08"
    );
    assert_eq!(field(&t, FIELD_RECORDING).as_deref(), Some(recording));
    assert_eq!(field(&t, FIELD_CALLER).as_deref(), Some("+919876543210"));

    let comments = app.comments(ticket_id).await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    let note = &comments[0];
    assert_eq!(note["public"], false, "call details are a private note");
    let body = note["body"].as_str().unwrap_or_default();
    for part in [
        "Answered inbound call",
        "From: +919876543210",
        "Duration: ",
        "Department: Support",
        "Priya Sharma",
        recording,
        &call,
    ] {
        assert!(body.contains(part), "the note has {part:?}:\n{body}");
    }

    let jobs = app.jobs(None).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["state"], "completed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_call_goes_to_the_fallback_group_unassigned() {
    let app = spawn_app().await;
    let payload = missed_call();
    let call = call_id(&payload);

    app.deliver(&payload).await;
    let ticket_id = app.wait_for_ticket(&call).await;

    let t = app.ticket(ticket_id).await;
    assert_eq!(t["group_id"], VOICE_MISSED_CALLS);
    assert_eq!(t["assignee_id"], Value::Null);
    assert_eq!(t["requester_id"], PHONE_ONLY_CALLER, "+919820000003");
    assert_eq!(t["external_id"], format!("myoperator:{call}"));
    let tags = tags(&t);
    for tag in ["call_missed", "inbound", "department_sales"] {
        assert!(tags.contains(&tag.to_string()), "tag {tag} in {tags:?}");
    }
    assert!(!tags.contains(&"call_answered".to_string()));
    assert_eq!(field(&t, FIELD_DURATION).as_deref(), Some("32"));
    assert_eq!(
        field(&t, FIELD_RECORDING),
        None,
        "a missed call has no recording"
    );
    assert_eq!(app.sandbox_tickets().await.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_agent_email_goes_to_the_fallback_group_tagged_and_listed() {
    let app = spawn_app().await;
    let payload = with_agent_email(answered_call(), "Nobody.Here@Sandbox.test");
    let call = call_id(&payload);

    app.deliver(&payload).await;
    let ticket_id = app.wait_for_ticket(&call).await;

    let t = app.ticket(ticket_id).await;
    assert_eq!(t["assignee_id"], Value::Null, "never guessed");
    assert_eq!(t["group_id"], VOICE_MISSED_CALLS);
    let tags = tags(&t);
    assert!(
        tags.contains(&"deskline_agent_unmatched".to_string()),
        "{tags:?}"
    );
    assert!(tags.contains(&"call_answered".to_string()), "{tags:?}");

    let (status, body) = app.admin_get("/admin/agents/mismatches").await;
    assert_eq!(status, 200, "{body}");
    let list = body["mismatches"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{body}");
    assert_eq!(list[0]["email_normalized"], "nobody.here@sandbox.test");
    assert_eq!(list[0]["last_call_id"], call.as_str());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_and_unparseable_callers_share_one_requester() {
    let app = spawn_app().await;
    let end_users_before = app.end_users().await.len();
    let empty = with_call_id(with_caller(missed_call(), ""), "withheld-empty-1");
    let anonymous = with_call_id(with_caller(missed_call(), "anonymous"), "withheld-anon-2");
    let garbled = with_call_id(with_caller(missed_call(), "#31#"), "garbled-3");

    let mut ids = Vec::new();
    for payload in [&empty, &anonymous, &garbled] {
        app.deliver(payload).await;
        ids.push(app.wait_for_ticket(&call_id(payload)).await);
    }

    let tickets: Vec<Value> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(app.ticket(*id).await);
        }
        v
    };
    let requester = tickets[0]["requester_id"].as_u64().expect("a requester");
    for t in &tickets {
        assert_eq!(t["requester_id"], requester, "one shared requester");
        assert_eq!(field(t, FIELD_CALLER), None, "no caller number to show");
    }
    assert!(tags(&tickets[0]).contains(&"caller_withheld".to_string()));
    assert!(tags(&tickets[1]).contains(&"caller_withheld".to_string()));
    assert!(
        tags(&tickets[2]).contains(&"caller_unrecognised".to_string()),
        "{:?}",
        tags(&tickets[2])
    );

    let user = app.sandbox_get(&format!("/api/v2/users/{requester}")).await;
    assert_eq!(user["user"]["email"], "unknown-caller@deskline.invalid");
    let end_users = app.end_users().await;
    assert_eq!(
        end_users.len(),
        end_users_before + 1,
        "one shared user, never one per call"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_time_caller_is_created_once_and_then_served_from_the_cache() {
    let app = spawn_app().await;
    let number = "+919811122233";
    assert!(
        app.end_users_with_phone(number).await.is_empty(),
        "not in the seed"
    );

    let first = with_call_id(with_caller(missed_call(), number), "first-time-1");
    app.deliver(&first).await;
    // Wait through deskline's store only: /admin/calls would itself ask Zendesk.
    app.wait_for_completed_jobs(1).await;
    let before = app.last_request_seq().await;

    let second = with_call_id(with_caller(missed_call(), number), "first-time-2");
    app.deliver(&second).await;
    app.wait_for_completed_jobs(2).await;

    let between = app.sandbox_requests(before).await;
    assert_eq!(
        between.len(),
        1,
        "the second ticket costs exactly one Zendesk request: {between:?}"
    );
    assert_eq!(between[0]["method"], "POST");
    assert_eq!(between[0]["path"], "/api/v2/tickets");

    let users = app.end_users_with_phone(number).await;
    assert_eq!(users.len(), 1, "one end-user with the number: {users:?}");
    let user_id = users[0]["id"].as_u64().expect("user id");
    for call in ["first-time-1", "first-time-2"] {
        let t = app
            .tickets_with_external_id(&format!("myoperator:{call}"))
            .await;
        assert_eq!(t.len(), 1, "{call}");
        assert_eq!(t[0]["requester_id"], user_id, "{call}");
        assert_eq!(field(&t[0], FIELD_CALLER).as_deref(), Some(number));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_a_first_time_caller_arriving_together_create_one_user() {
    let app = spawn_app().await;
    // A slow Zendesk, so the jobs of these calls overlap.
    app.set_faults(serde_json::json!({"latency_ms": 200})).await;
    let number = "+919811144455";
    let calls: Vec<Value> = (1..=4)
        .map(|i| with_call_id(with_caller(missed_call(), number), &format!("callback-{i}")))
        .collect();
    // Delivered at once, as a caller's quick call-backs are.
    tokio::join!(
        app.deliver(&calls[0]),
        app.deliver(&calls[1]),
        app.deliver(&calls[2]),
        app.deliver(&calls[3])
    );
    app.wait_for_completed_jobs(calls.len()).await;
    app.clear_faults().await;

    let log = app.sandbox_requests(0).await;
    let count = |prefix: &str| {
        log.iter()
            .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with(prefix)))
            .count()
    };
    assert_eq!(count("/api/v2/users/search"), 1, "one look-up: {log:#?}");
    assert_eq!(
        count("/api/v2/users/create_or_update"),
        1,
        "one create: {log:#?}"
    );
    let users = app.end_users_with_phone(number).await;
    assert_eq!(users.len(), 1, "{users:?}");
    for call in &calls {
        let t = app
            .tickets_with_external_id(&format!("myoperator:{}", call_id(call)))
            .await;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0]["requester_id"], users[0]["id"]);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_partner_edition_creates_a_voice_ticket() {
    let app = spawn_app_with(sandbox_config(), |c| {
        if let Some(s) = c.sources.get_mut(SOURCE) {
            s.talk_partner_edition = true;
        }
    })
    .await;
    let payload = answered_call();
    let call = call_id(&payload);

    app.deliver(&payload).await;
    app.wait_for_completed_jobs(1).await;

    let log = app.sandbox_requests(0).await;
    let creates: Vec<&Value> = log
        .iter()
        .filter(|e| {
            e["method"] == "POST" && e["path"].as_str().is_some_and(|p| p.contains("tickets"))
        })
        .collect();
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(creates[0]["path"], "/api/v2/channels/voice/tickets");
    assert_eq!(creates[0]["status"], 201);

    let tickets = app
        .tickets_with_external_id(&format!("myoperator:{call}"))
        .await;
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(t["via"]["channel"], "voice");
    assert_eq!(
        t["via"]["source"]["rel"], "inbound",
        "via 45: an inbound call"
    );
    assert_eq!(t["assignee_id"], PRIYA);
    assert_eq!(t["requester_id"], ANITA);
    let id = t["id"].as_u64().expect("ticket id");
    let comments = app.comments(id).await;
    let voice = comments
        .iter()
        .find(|c| c["type"] == "VoiceComment")
        .unwrap_or_else(|| panic!("a VoiceComment among {comments:?}"));
    assert_eq!(voice["public"], false);
    assert_eq!(voice["data"]["from"], "+919876543210");
    assert_eq!(voice["data"]["call_duration"], 128);
    assert_eq!(voice["data"]["answered_by_id"], PRIYA);
    assert_eq!(
        voice["data"]["recording_url"],
        "https://app.myoperator.co/audio/a41f0c9e7b2d4e6f8a1b3c5d7e9f0a1b"
    );
    app.stop().await;
}
