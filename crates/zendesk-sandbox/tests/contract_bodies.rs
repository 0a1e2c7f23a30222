//! Contract test, the sandbox side: response bodies fetched over real HTTP are validated
//! against the response schemas of Zendesk's OpenAPI file (see `common/oas.rs`).

mod common;

use common::oas::{
    assert_valid, body_of, check, component_schema, operation, response_oas_schema, spec,
    PLACEHOLDER_ERRORS,
};
use reqwest::Method;
use serde_json::{json, Value};
use zendesk_sandbox::SandboxConfig;

const PRIYA_ID: u64 = 30011;
const FIELD_CALL_ID: u64 = 10001;
const FIELD_DIRECTION: u64 = 10002;
const FIELD_DURATION: u64 = 10003;

#[tokio::test]
async fn ticket_bodies_match_the_spec() {
    spec();
    let sb = common::spawn().await;
    // A checkbox field, so a boolean custom field value is exercised too.
    let r = sb
        .post(
            "/api/v2/ticket_fields",
            &json!({"ticket_field": {"type": "checkbox", "title": "Callback requested"}}),
        )
        .await;
    let field = body_of(r, 201).await;
    check("post", "/api/v2/ticket_fields", 201, "ticket_field", &field);
    let checkbox = field["ticket_field"]["id"].as_u64().expect("field id");

    let r = sb
        .post(
            "/api/v2/tickets",
            &json!({"ticket": {
                "subject": "Inbound call from +919876500001",
                "comment": {"body": "Call log\nDuration: 42 s", "public": false},
                "requester": {"name": "New Caller", "phone": "+919876500001"},
                "assignee_email": "priya.sharma@sandbox.test",
                "external_id": "myoperator:contract-1",
                "tags": ["deskline", "voice"],
                "priority": "normal",
                "type": "question",
                "custom_fields": [
                    {"id": FIELD_CALL_ID, "value": "contract-1"},
                    {"id": FIELD_DIRECTION, "value": "inbound"},
                    {"id": FIELD_DURATION, "value": 42},
                    {"id": checkbox, "value": true}
                ]
            }}),
        )
        .await;
    let created = body_of(r, 201).await;
    check("post", "/api/v2/tickets", 201, "ticket", &created);
    let t = &created["ticket"];
    assert_eq!(t["assignee_id"], PRIYA_ID);
    let values: Vec<&Value> = t["custom_fields"]
        .as_array()
        .expect("custom_fields")
        .iter()
        .map(|f| &f["value"])
        .collect();
    assert!(values.contains(&&json!(true)), "{values:?}");
    assert!(values.contains(&&json!("42")), "{values:?}");

    // A minimal ticket: most optional properties are null, a custom field is cleared.
    let r = sb
        .post(
            "/api/v2/tickets",
            &json!({"ticket": {"comment": {"body": "no subject"},
                "custom_fields": [{"id": FIELD_CALL_ID, "value": null}]}}),
        )
        .await;
    let minimal = body_of(r, 201).await;
    check("post", "/api/v2/tickets", 201, "ticket", &minimal);
    let m = &minimal["ticket"];
    for key in ["assignee_id", "group_id", "priority", "type", "subject"] {
        assert!(m[key].is_null(), "{key}: {}", m[key]);
    }

    for ticket in [t, m] {
        let id = ticket["id"].as_u64().expect("ticket id");
        let shown = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
        check("get", "/api/v2/tickets/{ticket_id}", 200, "ticket", &shown);
        let comments = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
        check(
            "get",
            "/api/v2/tickets/{ticket_id}/comments",
            200,
            "comments",
            &comments,
        );
    }
    let list = sb.get_json("/api/v2/tickets").await;
    check("get", "/api/v2/tickets", 200, "tickets", &list);
}

#[tokio::test]
async fn voice_ticket_bodies_match_the_spec() {
    spec();
    let sb = common::spawn().await;
    let answered = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"display_to_agent": PRIYA_ID, "ticket": {
                "via_id": 45, "priority": "normal",
                "voice_comment": {"from": "+919876543210", "to": "+911140000000",
                    "recording_url": "https://rec.example/1.mp3",
                    "started_at": "2026-11-23T10:00:00Z", "call_duration": 40,
                    "answered_by_id": PRIYA_ID, "location": "Delhi"}}}),
        )
        .await;
    let answered = body_of(answered, 201).await;
    check(
        "post",
        "/api/v2/channels/voice/tickets",
        201,
        "ticket",
        &answered,
    );
    // A voicemail from an unknown number: a new end-user with no email is the requester.
    let voicemail = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"ticket": {"via_id": 44, "voice_comment": {"from": "+14155559999",
                "to": "+14155550000", "recording_url": "https://rec.example/vm.mp3"}}}),
        )
        .await;
    let voicemail = body_of(voicemail, 201).await;
    check(
        "post",
        "/api/v2/channels/voice/tickets",
        201,
        "ticket",
        &voicemail,
    );
    for body in [&answered, &voicemail] {
        let id = body["ticket"]["id"].as_u64().expect("ticket id");
        let comments = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
        assert_eq!(comments["comments"][0]["type"], "VoiceComment");
        check(
            "get",
            "/api/v2/tickets/{ticket_id}/comments",
            200,
            "comments",
            &comments,
        );
    }
    let caller = voicemail["ticket"]["requester_id"]
        .as_u64()
        .expect("requester");
    let user = sb.get_json(&format!("/api/v2/users/{caller}")).await;
    assert!(user["user"]["email"].is_null());
    check("get", "/api/v2/users/{user_id}", 200, "user", &user);
}

#[tokio::test]
async fn user_bodies_match_the_spec() {
    spec();
    // create_or_update is limited to one call a second; this test makes three.
    let sb = common::spawn_with(SandboxConfig {
        create_or_update_per_second: 100,
        search_index_delay: std::time::Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    // The sandbox renders users as an admin sees them: besides the spec's anyOf of the admin
    // and end-user views, each user must match the admin view itself.
    let admin_view = component_schema("UserForAdmin");

    let list = sb.get_json("/api/v2/users").await;
    check("get", "/api/v2/users", 200, "users", &list);
    let users = list["users"].as_array().expect("users");
    let roles: Vec<&str> = users.iter().filter_map(|u| u["role"].as_str()).collect();
    for role in ["admin", "agent", "end-user"] {
        assert!(roles.contains(&role), "the seed has an {role}");
    }
    for u in users {
        assert_valid(&admin_view, u, &format!("user {}", u["id"]));
        let id = u["id"].as_u64().expect("user id");
        let shown = sb.get_json(&format!("/api/v2/users/{id}")).await;
        check("get", "/api/v2/users/{user_id}", 200, "user", &shown);
    }

    let me = sb.get_json("/api/v2/users/me").await;
    check("get", "/api/v2/users/me", 200, "user", &me);

    let r = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Jane Caller", "email": "jane@example.com",
                "phone": "+15551234567", "external_id": "crm-8812",
                "user_fields": {"tier": "gold"}}}),
        )
        .await;
    let created = body_of(r, 201).await;
    check(
        "post",
        "/api/v2/users/create_or_update",
        201,
        "user",
        &created,
    );
    assert_valid(&admin_view, &created["user"], "the created user");
    let r = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Jane C.", "email": "JANE@example.com"}}),
        )
        .await;
    let updated = body_of(r, 200).await;
    check(
        "post",
        "/api/v2/users/create_or_update",
        200,
        "user",
        &updated,
    );
    // A phone-only user: no email.
    let r = sb
        .post(
            "/api/v2/users/create_or_update",
            &json!({"user": {"name": "Phone Only", "phone": "+15550001111"}}),
        )
        .await;
    let phone_only = body_of(r, 201).await;
    assert!(phone_only["user"]["email"].is_null());
    check(
        "post",
        "/api/v2/users/create_or_update",
        201,
        "user",
        &phone_only,
    );

    let found = sb.get_json("/api/v2/users/search?query=Jane").await;
    check("get", "/api/v2/users/search", 200, "users", &found);
}

#[tokio::test]
async fn directory_bodies_match_the_spec() {
    spec();
    let sb = common::spawn().await;
    let groups = sb.get_json("/api/v2/groups").await;
    check("get", "/api/v2/groups", 200, "groups", &groups);
    let id = groups["groups"][0]["id"].as_u64().expect("group id");
    let group = sb.get_json(&format!("/api/v2/groups/{id}")).await;
    check("get", "/api/v2/groups/{group_id}", 200, "group", &group);

    let memberships = sb.get_json("/api/v2/group_memberships").await;
    check(
        "get",
        "/api/v2/group_memberships",
        200,
        "group_memberships",
        &memberships,
    );

    let fields = sb.get_json("/api/v2/ticket_fields").await;
    check(
        "get",
        "/api/v2/ticket_fields",
        200,
        "ticket_fields",
        &fields,
    );
    let list = fields["ticket_fields"].as_array().expect("fields");
    assert!(
        list.iter().any(|f| f["custom_field_options"].is_array()),
        "a drop-down field with options is checked too"
    );
    for f in list {
        let id = f["id"].as_u64().expect("field id");
        let shown = sb.get_json(&format!("/api/v2/ticket_fields/{id}")).await;
        check(
            "get",
            "/api/v2/ticket_fields/{ticket_field_id}",
            200,
            "ticket_field",
            &shown,
        );
    }

    let orgs = sb.get_json("/api/v2/organizations").await;
    check("get", "/api/v2/organizations", 200, "organizations", &orgs);
    let id = orgs["organizations"][0]["id"].as_u64().expect("org id");
    let org = sb.get_json(&format!("/api/v2/organizations/{id}")).await;
    check(
        "get",
        "/api/v2/organizations/{organization_id}",
        200,
        "organization",
        &org,
    );
}

/// The spec gives no schema for the classic `{"error", "description"}` answers of the covered
/// operations: only the voice endpoint declares 404/422, as a `type: string` placeholder, and the
/// 404 body appears as prose in an operation's description. This checks what can be checked.
#[tokio::test]
async fn error_bodies_follow_the_spec() {
    // The 404 body Zendesk documents (ShowUserComplianceDeletionStatuses' description).
    let description = operation(
        "get",
        "/api/v2/users/{user_id}/compliance_deletion_statuses",
    )["description"]
        .as_str()
        .expect("description");
    let start = description.find("Status: 404").expect("a documented 404");
    let rest = &description[start..];
    let open = rest.find('{').expect("a JSON body");
    let close = rest.find('}').expect("a JSON body");
    let documented_404: Value =
        serde_json::from_str(&rest[open..=close]).expect("the documented 404 body is JSON");
    assert_eq!(documented_404["error"], "RecordNotFound");

    // The voice endpoint's declared error schemas are still the placeholders listed.
    for &(method, path, status) in PLACEHOLDER_ERRORS {
        let schema = response_oas_schema(method, path, status);
        assert_eq!(schema["type"], "string", "{method} {path} {status}");
        assert!(schema.get("properties").is_none());
    }

    let sb = common::spawn().await;
    for path in [
        "/api/v2/tickets/999999",
        "/api/v2/users/999999",
        "/api/v2/tickets/999999/comments",
        "/api/v2/groups/999999",
        "/api/v2/ticket_fields/999999",
    ] {
        let r = sb.admin(Method::GET, path).send().await.expect("request");
        let body = body_of(r, 404).await;
        assert_eq!(body, documented_404, "GET {path}");
    }
    // The voice endpoint's 422 (invalid display_to_agent) is Zendesk's error object, not the
    // spec's bare string.
    let r = sb
        .post(
            "/api/v2/channels/voice/tickets",
            &json!({"display_to_agent": 50001,
                "ticket": {"via_id": 45, "voice_comment": {"from": "+1"}}}),
        )
        .await;
    let body = body_of(r, 422).await;
    assert!(
        body["error"].is_string() && body["description"].is_string(),
        "{body}"
    );
}
