//! Tickets over real HTTP: create, show, list by external id, update, comments, the voice
//! endpoint, validation errors and idempotency.

mod common;

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use zendesk_sandbox::SandboxConfig;

const PRIYA: &str = "priya.sharma@sandbox.test";
const PRIYA_ID: u64 = 30011;
const SUPPORT: u64 = 20001;
const MISSED_CALLS: u64 = 20003;
const FIELD_CALL_ID: u64 = 10001;
const FIELD_DIRECTION: u64 = 10002;
const FIELD_DURATION: u64 = 10003;

async fn error_body(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.expect("json error body"))
}

#[tokio::test]
async fn create_with_inline_requester_assignee_fields_and_private_note() {
    let sb = common::spawn().await;
    let r = sb
        .post(
            "/api/v2/tickets",
            &json!({"ticket": {
                "subject": "Inbound call from +919876500001",
                "comment": {"body": "Call log\nDuration: 42 s", "public": false},
                "requester": {"name": "New Caller", "phone": "+919876500001"},
                "assignee_email": "PRIYA.SHARMA@sandbox.test",
                "external_id": "myoperator:abc-1",
                "tags": ["deskline", "Voice", "call_answered"],
                "priority": "normal",
                "type": "question",
                "custom_fields": [
                    {"id": FIELD_CALL_ID, "value": "abc-1"},
                    {"id": FIELD_DIRECTION, "value": "inbound"},
                    {"id": FIELD_DURATION, "value": 42}
                ]
            }}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("location header");
    let body: Value = r.json().await.expect("json");
    let t = &body["ticket"];
    let id = t["id"].as_u64().expect("id");
    assert_eq!(location, format!("{}/api/v2/tickets/{id}.json", sb.base));
    assert_eq!(t["assignee_id"], PRIYA_ID);
    assert_eq!(t["group_id"], SUPPORT, "the assignee's default group");
    assert_eq!(t["status"], "open", "an assigned new ticket is open");
    assert_eq!(t["external_id"], "myoperator:abc-1");
    assert_eq!(t["via"]["channel"], "api");
    assert_eq!(t["description"], "Call log\nDuration: 42 s");
    assert_eq!(t["is_public"], false);
    let tags: Vec<&str> = t["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tags, ["deskline", "voice", "call_answered", "inbound"]);
    let fields = t["custom_fields"].as_array().expect("fields");
    assert!(fields.contains(&json!({"id": FIELD_DURATION, "value": "42"})));
    assert!(body["audit"]["events"]
        .as_array()
        .is_some_and(|e| !e.is_empty()));

    // The inline requester became an end-user with that phone.
    let requester = sb
        .get_json(&format!("/api/v2/users/{}", t["requester_id"]))
        .await;
    assert_eq!(requester["user"]["role"], "end-user");
    assert_eq!(requester["user"]["phone"], "+919876500001");

    // Show, and list by external id.
    let shown = sb.get_json(&format!("/api/v2/tickets/{id}.json")).await;
    assert_eq!(shown["ticket"]["id"], id);
    let listed = sb
        .get_json("/api/v2/tickets?external_id=myoperator:abc-1")
        .await;
    assert_eq!(listed["tickets"].as_array().map(Vec::len), Some(1));
    let none = sb.get_json("/api/v2/tickets?external_id=nope").await;
    assert_eq!(none["tickets"], json!([]));

    // The note is private in the comment list.
    let comments = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
    assert_eq!(comments["comments"][0]["public"], false);
    assert_eq!(comments["comments"][0]["author_id"], 30001);
}

#[tokio::test]
async fn inline_requester_with_a_known_email_reuses_the_user() {
    let sb = common::spawn().await;
    let r = sb
        .post(
            "/api/v2/tickets",
            &json!({"ticket": {"comment": {"body": "x"},
                "requester": {"name": "Whoever", "email": "Anita@Acme-Logistics.example"}}}),
        )
        .await;
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["ticket"]["requester_id"], 50001);
    assert_eq!(body["ticket"]["organization_id"], 40001);
}

#[tokio::test]
async fn missed_call_goes_to_a_group_without_assignee() {
    let sb = common::spawn().await;
    let id = sb
        .create_ticket(json!({"comment": {"body": "Missed call"}, "group_id": MISSED_CALLS, "requester_id": 50002}))
        .await;
    let t = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(t["ticket"]["group_id"], MISSED_CALLS);
    assert_eq!(t["ticket"]["assignee_id"], Value::Null);
    assert_eq!(t["ticket"]["status"], "new");
}

#[tokio::test]
async fn validation_errors_name_every_bad_field_and_change_nothing() {
    let sb = common::spawn().await;
    let cases = [
        (json!({"ticket": {"subject": "no comment"}}), "description"),
        (
            json!({"ticket": {"comment": {"body": "  "}}}),
            "description",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "assignee_id": 50001}}),
            "assignee",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "assignee_email": "nobody@sandbox.test"}}),
            "assignee",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "group_id": 999}}),
            "group",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "assignee_id": 30016, "group_id": MISSED_CALLS}}),
            "assignee",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "status": "waiting"}}),
            "status",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "priority": "asap"}}),
            "priority",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "type": "bug"}}),
            "type",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "custom_fields": [{"id": 424242, "value": "v"}]}}),
            "custom_fields",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "custom_fields": [{"id": FIELD_DURATION, "value": "forty"}]}}),
            "custom_fields",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "custom_fields": [{"id": FIELD_DIRECTION, "value": "sideways"}]}}),
            "custom_fields",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "requester_id": 1}}),
            "requester",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "requester": {"name": "No contact"}}}),
            "requester",
        ),
        (
            json!({"ticket": {"comment": {"body": "x"}, "via_id": 999}}),
            "via_id",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = error_body(sb.post("/api/v2/tickets", &body).await).await;
        assert_eq!(status, 422, "{body} -> {err}");
        assert_eq!(err["error"], "RecordInvalid");
        assert!(
            err["details"][field].is_array(),
            "{body}: expected details.{field} in {err}"
        );
    }
    let (status, err) = error_body(
        sb.post(
            "/api/v2/tickets",
            &json!({"ticket": {"status": "bogus", "group_id": 999}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    for field in ["description", "status", "group"] {
        assert!(err["details"][field].is_array(), "{field} missing in {err}");
    }
    let users_before = sb.get_json("/api/v2/users?per_page=100").await["count"].clone();
    let (status, _) = error_body(
        sb.post(
            "/api/v2/tickets",
            &json!({"ticket": {"comment": {"body": "x"}, "requester": {"name": "Z", "email": "z@new.example"}, "group_id": 999}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        sb.get_json("/api/v2/users?per_page=100").await["count"],
        users_before
    );
    assert_eq!(
        sb.handle.ticket_count(),
        0,
        "no ticket was created by bad requests"
    );
}

#[tokio::test]
async fn malformed_json_and_missing_root_are_400() {
    let sb = common::spawn().await;
    let r = sb
        .admin(Method::POST, "/api/v2/tickets")
        .header("content-type", "application/json")
        .body("{\"ticket\": {")
        .send()
        .await
        .expect("request");
    let (status, err) = error_body(r).await;
    assert_eq!(status, 400);
    assert!(err["description"]
        .as_str()
        .is_some_and(|d| d.contains("malformed JSON")));
    let (status, err) =
        error_body(sb.post("/api/v2/tickets", &json!({"comment": "x"})).await).await;
    assert_eq!(status, 400);
    assert!(err["description"]
        .as_str()
        .is_some_and(|d| d.contains("\"ticket\"")));
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let sb = common::spawn().await;
    for path in [
        "/api/v2/tickets/999",
        "/api/v2/tickets/abc",
        "/api/v2/tickets/999/comments",
        "/api/v2/users/1",
        "/api/v2/groups/1",
        "/api/v2/ticket_fields/1",
        "/api/v2/no/such/thing",
    ] {
        let r = sb.admin(Method::GET, path).send().await.expect("request");
        let (status, err) = error_body(r).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(err["error"], "RecordNotFound", "{path}");
    }
    let r = sb
        .put(
            "/api/v2/tickets/999",
            &json!({"ticket": {"status": "open"}}),
        )
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn update_changes_fields_and_adds_public_reply_or_internal_note() {
    let sb = common::spawn().await;
    let id = sb
        .create_ticket(json!({"comment": {"body": "Call"}, "requester_id": 50001, "tags": ["a"]}))
        .await;
    let r = sb
        .put(
            &format!("/api/v2/tickets/{id}"),
            &json!({"ticket": {"status": "pending", "assignee_id": PRIYA_ID,
                "additional_tags": ["b"], "custom_fields": [{"id": FIELD_CALL_ID, "value": "c-9"}],
                "comment": {"body": "Internal: called back", "public": false}}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["ticket"]["status"], "pending");
    assert_eq!(body["ticket"]["assignee_id"], PRIYA_ID);
    assert_eq!(body["ticket"]["tags"], json!(["a", "b"]));
    assert!(body["audit"]["events"].as_array().is_some_and(|e| e
        .iter()
        .any(|ev| ev["field_name"] == "status" && ev["previous_value"] == "new")));

    // An agent replies publicly in the agent workspace.
    let r = sb
        .as_agent_web(PRIYA, Method::PUT, &format!("/api/v2/tickets/{id}"))
        .json(&json!({"ticket": {"comment": {"body": "We are on it", "public": true}}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let comments = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
    let list = comments["comments"].as_array().expect("comments");
    assert_eq!(list.len(), 3);
    assert_eq!(list[1]["public"], false);
    assert_eq!(list[2]["public"], true);
    assert_eq!(list[2]["author_id"], PRIYA_ID);
    assert_eq!(list[2]["via"]["channel"], "web");
    assert_eq!(list[1]["via"]["channel"], "api");

    // Bad updates are refused and change nothing.
    let r = sb
        .put(
            &format!("/api/v2/tickets/{id}"),
            &json!({"ticket": {"status": "new"}}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = sb
        .put(
            &format!("/api/v2/tickets/{id}"),
            &json!({"ticket": {"group_id": 1}}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let t = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(t["ticket"]["status"], "pending");

    // Closed tickets cannot be updated.
    let r = sb
        .put(
            &format!("/api/v2/tickets/{id}"),
            &json!({"ticket": {"status": "closed"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = sb
        .put(
            &format!("/api/v2/tickets/{id}"),
            &json!({"ticket": {"comment": {"body": "late"}}}),
        )
        .await;
    let (status, err) = error_body(r).await;
    assert_eq!(status, 422);
    assert!(err["details"]["status"].is_array());
}

#[tokio::test]
async fn comments_page_by_cursor_in_both_orders() {
    let sb = common::spawn().await;
    let id = sb.create_ticket(json!({"comment": {"body": "c0"}})).await;
    for n in 1..5 {
        let r = sb
            .put(
                &format!("/api/v2/tickets/{id}"),
                &json!({"ticket": {"comment": {"body": format!("c{n}"), "public": n % 2 == 0}}}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    for (sort, expected) in [
        ("", ["c0", "c1", "c2", "c3", "c4"]),
        ("&sort=-created_at", ["c4", "c3", "c2", "c1", "c0"]),
    ] {
        let mut seen = Vec::new();
        let mut url = format!(
            "{}/api/v2/tickets/{id}/comments?page%5Bsize%5D=2{sort}",
            sb.base
        );
        for _ in 0..10 {
            let r = sb
                .http
                .get(&url)
                .basic_auth(format!("{}/token", common::ADMIN), Some(common::TOKEN))
                .send()
                .await
                .expect("request");
            let page: Value = r.json().await.expect("json");
            for c in page["comments"].as_array().expect("comments") {
                seen.push(c["body"].as_str().expect("body").to_string());
            }
            if page["meta"]["has_more"] != true {
                break;
            }
            url = page["links"]["next"]
                .as_str()
                .expect("next link")
                .to_string();
        }
        assert_eq!(seen, expected, "sort {sort:?}");
    }
}

#[tokio::test]
async fn idempotency_key_miss_hit_mismatch_and_expiry() {
    let sb = common::spawn_with(SandboxConfig {
        idempotency_ttl: Duration::from_millis(600),
        ..SandboxConfig::default()
    })
    .await;
    let body =
        json!({"ticket": {"comment": {"body": "call c-1"}, "external_id": "myoperator:c-1"}});
    let send = |key: &'static str, body: Value| {
        sb.admin(Method::POST, "/api/v2/tickets")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("call-c-1", body.clone()).await.expect("request");
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["x-idempotency-lookup"], "miss");
    let first: Value = first.json().await.expect("json");

    let second = send("call-c-1", body.clone()).await.expect("request");
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["x-idempotency-lookup"], "hit");
    let second: Value = second.json().await.expect("json");
    assert_eq!(
        first["ticket"], second["ticket"],
        "the original answer is replayed"
    );
    assert_eq!(sb.handle.ticket_count(), 1);

    let other = send(
        "call-c-1",
        json!({"ticket": {"comment": {"body": "different"}}}),
    )
    .await
    .expect("request");
    let (status, err) = error_body(other).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "IdempotentRequestError");
    assert_eq!(sb.handle.ticket_count(), 1);

    // After the key expires the same request creates a new ticket.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let third = send("call-c-1", body).await.expect("request");
    assert_eq!(third.headers()["x-idempotency-lookup"], "miss");
    assert_eq!(sb.handle.ticket_count(), 2);

    let log = sb.requests(0).await;
    let lookups: Vec<&str> = log
        .iter()
        .filter_map(|e| e["idempotency_lookup"].as_str())
        .collect();
    assert_eq!(lookups, ["miss", "hit", "miss"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_ticket() {
    let sb = common::spawn().await;
    let body = json!({"ticket": {"comment": {"body": "race"}}});
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let req = sb
            .admin(Method::POST, "/api/v2/tickets")
            .header("Idempotency-Key", "same-key")
            .json(&body);
        tasks.push(tokio::spawn(
            async move { req.send().await.map(|r| r.status()) },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("request"), 201);
    }
    assert_eq!(sb.handle.ticket_count(), 1);
}

#[tokio::test]
async fn voice_endpoint_creates_voice_tickets_and_validates() {
    let sb = common::spawn().await;
    let r = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"display_to_agent": PRIYA_ID, "ticket": {
                "via_id": 45, "priority": "normal",
                "voice_comment": {"from": "+919876543210", "to": "+911140000000",
                    "recording_url": "https://rec.example/1.mp3", "started_at": "2026-11-23T10:00:00Z",
                    "call_duration": 40, "answered_by_id": PRIYA_ID, "location": "Delhi"}}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    let t = &body["ticket"];
    assert_eq!(t["via"]["channel"], "voice");
    assert_eq!(t["via"]["source"]["rel"], "inbound");
    assert_eq!(t["requester_id"], 50001, "the caller is matched by phone");
    let comments = sb
        .get_json(&format!("/api/v2/tickets/{}/comments", t["id"]))
        .await;
    let c = &comments["comments"][0];
    assert_eq!(c["type"], "VoiceComment");
    assert_eq!(c["data"]["recording_url"], "https://rec.example/1.mp3");
    assert_eq!(c["data"]["call_duration"], 40);
    assert!(c["body"]
        .as_str()
        .is_some_and(|b| b.contains("Priya Sharma")));

    let bad = [
        (json!({"ticket": {"comment": {"body": "x"}}}), 422, "via_id"),
        (
            json!({"ticket": {"via_id": 5, "comment": {"body": "x"}}}),
            422,
            "via_id",
        ),
        (json!({"ticket": {"via_id": 44}}), 422, "voice_comment"),
        (
            json!({"ticket": {"via_id": 46, "voice_comment": {"from": "+1", "answered_by_id": 50001}}}),
            422,
            "voice_comment",
        ),
        (
            json!({"ticket": {"via_id": 46, "voice_comment": {"from": "+1", "started_at": "yesterday"}}}),
            422,
            "voice_comment",
        ),
    ];
    for (body, status, field) in bad {
        let (got, err) = error_body(sb.post("/api/v2/channels/voice/tickets", &body).await).await;
        assert_eq!(got, status, "{body} -> {err}");
        assert!(err["details"][field].is_array(), "{body}: {err}");
    }
    let (got, err) = error_body(
        sb.post(
            "/api/v2/channels/voice/tickets",
            &json!({"display_to_agent": 50001, "ticket": {"via_id": 45, "voice_comment": {"from": "+1"}}}),
        )
        .await,
    )
    .await;
    assert_eq!(got, 422);
    assert!(err["description"]
        .as_str()
        .is_some_and(|d| d.contains("display_to_agent")));

    // A new number becomes a new end-user with that phone.
    let r = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"ticket": {"via_id": 44, "voice_comment": {"from": "+14155559999", "to": "+14155550000", "recording_url": "https://rec.example/vm.mp3"}}}),
        )
        .await;
    let body: Value = r.json().await.expect("json");
    let requester = sb
        .get_json(&format!("/api/v2/users/{}", body["ticket"]["requester_id"]))
        .await;
    assert_eq!(requester["user"]["phone"], "+14155559999");
    assert_eq!(body["ticket"]["via"]["source"]["rel"], "voicemail");
}

#[tokio::test]
async fn long_comment_bodies_are_cut_at_64_kb() {
    let sb = common::spawn().await;
    let long = "é".repeat(40_000);
    let id = sb.create_ticket(json!({"comment": {"body": long}})).await;
    let comments = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
    let body = comments["comments"][0]["body"].as_str().expect("body");
    assert!(body.len() <= 64 * 1024);
    assert!(body.len() > 60_000);
}
