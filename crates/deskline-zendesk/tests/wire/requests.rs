//! What each method sends: method, path, query, headers and the exact JSON body.

use chrono::{TimeZone, Utc};
use deskline_zendesk::{
    CustomField, IdempotencyLookup, NewComment, NewTicket, NewUser, Priority, Requester,
    TicketStatus, TicketType, TicketUpdate, UserRole, VoiceComment,
};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{server, ticket_json, user_json, AUTHORIZATION};

/// Every request carried the exact credentials and asked for JSON; those with a body said it
/// is JSON; none carried the token in the URL.
async fn assert_headers(server: &MockServer) -> Vec<wiremock::Request> {
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(!requests.is_empty(), "no request reached the server");
    for r in &requests {
        let h = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(
            h("authorization"),
            Some(AUTHORIZATION),
            "{} {}",
            r.method,
            r.url
        );
        assert_eq!(h("accept"), Some("application/json"));
        if !r.body.is_empty() {
            assert_eq!(h("content-type"), Some("application/json"));
        }
        assert!(!r.url.as_str().contains(crate::TOKEN));
    }
    requests
}

fn get(p: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", AUTHORIZATION))
}

#[tokio::test]
async fn create_ticket_sends_the_key_and_reads_the_lookup() {
    let (server, client) = server().await;
    let ticket = NewTicket {
        subject: Some("Inbound call from +15551234567".into()),
        comment: Some(NewComment {
            author_id: Some(30011),
            ..NewComment::private_html("<p>Summary</p>")
        }),
        requester: Some(Requester {
            name: "Jane Caller".into(),
            email: None,
            phone: Some("+15551234567".into()),
        }),
        assignee_email: Some("priya.sharma@sandbox.test".into()),
        group_id: Some(20003),
        external_id: Some("call:CA123".into()),
        tags: vec!["voice".into(), "deskline".into()],
        custom_fields: vec![CustomField::new(10001, "CA123")],
        status: Some(TicketStatus::Open),
        priority: Some(Priority::Normal),
        ticket_type: Some(TicketType::Question),
        ..Default::default()
    };
    let expected = json!({"ticket": {
        "subject": "Inbound call from +15551234567",
        "comment": {"html_body": "<p>Summary</p>", "public": false, "author_id": 30011},
        "requester": {"name": "Jane Caller", "phone": "+15551234567"},
        "assignee_email": "priya.sharma@sandbox.test",
        "group_id": 20003,
        "external_id": "call:CA123",
        "tags": ["voice", "deskline"],
        "custom_fields": [{"id": 10001, "value": "CA123"}],
        "status": "open", "priority": "normal", "type": "question"
    }});
    for (lookup, want) in [
        ("miss", IdempotencyLookup::Miss),
        ("hit", IdempotencyLookup::Hit),
    ] {
        server.reset().await;
        Mock::given(method("POST"))
            .and(path("/api/v2/tickets"))
            .and(header("authorization", AUTHORIZATION))
            .and(header("idempotency-key", "call:CA123"))
            .and(header("content-type", "application/json"))
            .and(body_json(&expected))
            .respond_with(
                ResponseTemplate::new(201)
                    .insert_header("x-idempotency-lookup", lookup)
                    .set_body_json(json!({"ticket": ticket_json(42), "audit": {"events": []}})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let created = client.create_ticket(&ticket, "call:CA123").await;
        let created = created.unwrap_or_else(|e| panic!("create: {e}"));
        assert_eq!(created.idempotency, Some(want));
        assert_eq!(created.ticket.id, 42);
        assert_eq!(created.ticket.status, Some(TicketStatus::Open));
        assert_eq!(
            created.ticket.custom_fields,
            vec![CustomField::new(10001, "CA123")]
        );
        assert_headers(&server).await;
    }
}

#[tokio::test]
async fn create_ticket_refuses_what_zendesk_would_refuse_without_sending() {
    let (server, client) = server().await;
    let no_comment = NewTicket::default();
    let with_comment = NewTicket {
        comment: Some(NewComment::public_text("hi")),
        ..Default::default()
    };
    for (ticket, key) in [
        (&no_comment, "k"),
        (&with_comment, ""),
        (&with_comment, "has space"),
        (&with_comment, &"k".repeat(256)),
    ] {
        let err = client.create_ticket(ticket, key).await.err();
        assert!(
            matches!(&err, Some(e) if e.is_permanent() && e.to_string().contains("not sent")),
            "{err:?}"
        );
    }
    let voice = NewTicket {
        via_id: Some(44),
        ..Default::default()
    };
    assert!(client.create_voice_ticket(&voice, None).await.is_err());
    assert!(client.create_voice_ticket(&no_comment, None).await.is_err());
    assert!(client.find_users_by_phone("555-1234").await.is_err());
    assert!(server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}

#[tokio::test]
async fn voice_ticket_goes_to_the_talk_endpoint_without_a_key() {
    let (server, client) = server().await;
    let ticket = NewTicket {
        via_id: Some(44),
        voice_comment: Some(VoiceComment {
            from: Some("+16617480240".into()),
            to: Some("+16617480123".into()),
            recording_url: Some("https://rec.example/1.mp3".into()),
            started_at: Utc.with_ymd_and_hms(2019, 4, 16, 9, 14, 57).single(),
            call_duration: Some(40),
            answered_by_id: Some(28),
            transcription_text: Some("The transcription".into()),
            location: Some("Dublin, Ireland".into()),
        }),
        priority: Some(Priority::Urgent),
        ..Default::default()
    };
    Mock::given(method("POST"))
        .and(path("/api/v2/channels/voice/tickets"))
        .and(body_json(json!({"display_to_agent": 1234, "ticket": {
            "priority": "urgent", "via_id": 44,
            "voice_comment": {"from": "+16617480240", "to": "+16617480123",
                "recording_url": "https://rec.example/1.mp3",
                "started_at": "2019-04-16T09:14:57Z", "call_duration": 40,
                "answered_by_id": 28, "transcription_text": "The transcription",
                "location": "Dublin, Ireland"}}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"ticket": ticket_json(7)})))
        .expect(1)
        .mount(&server)
        .await;
    let t = client.create_voice_ticket(&ticket, Some(1234)).await;
    assert_eq!(t.map(|t| t.id).ok(), Some(7));
    let requests = assert_headers(&server).await;
    assert!(requests[0].headers.get("idempotency-key").is_none());
}

#[tokio::test]
async fn ticket_reads_and_update() {
    let (server, client) = server().await;
    get("/api/v2/tickets")
        .and(query_param("external_id", "call:CA 1+2"))
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "tickets": [ticket_json(1), ticket_json(2)],
            "meta": {"has_more": false, "after_cursor": null, "before_cursor": null},
            "links": {"next": null, "prev": null}})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/v2/tickets/42")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ticket": ticket_json(42)})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v2/tickets/42"))
        .and(body_json(json!({"ticket": {
            "comment": {"body": "Customer called back", "public": false},
            "status": "pending", "assignee_id": 30011, "group_id": 20003,
            "additional_tags": ["callback"],
            "custom_fields": [{"id": 10003, "value": "95"}]}})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"ticket": ticket_json(42), "audit": {"id": 1, "events": []}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    get("/api/v2/tickets/42/comments")
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "comments": [
                {"id": 1, "type": "Comment", "author_id": 30001, "body": "a", "html_body": "<p>a</p>",
                 "plain_body": "a", "public": true, "via": {"channel": "api", "source": {}},
                 "created_at": "2026-05-01T10:00:00Z", "attachments": []},
                {"id": 2, "type": "VoiceComment", "author_id": 30011, "body": "call",
                 "public": false, "data": {"from": "+1"}, "created_at": "2026-05-01T10:01:00Z"}],
            "meta": {"has_more": false}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;

    let found = client.tickets_by_external_id("call:CA 1+2").await;
    assert_eq!(found.map(|v| v.len()).ok(), Some(2));
    let shown = client.show_ticket(42).await;
    assert_eq!(shown.map(|t| t.assignee_id).ok(), Some(Some(30011)));
    let update = TicketUpdate {
        comment: Some(NewComment::private_text("Customer called back")),
        status: Some(TicketStatus::Pending),
        assignee_id: Some(30011),
        group_id: Some(20003),
        additional_tags: vec!["callback".into()],
        custom_fields: vec![CustomField::new(10003, "95")],
        ..Default::default()
    };
    assert_eq!(
        client.update_ticket(42, &update).await.map(|t| t.id).ok(),
        Some(42)
    );
    let comments = client.list_comments(42).await.unwrap_or_default();
    assert_eq!(comments.len(), 2);
    assert!(comments[0].public && !comments[1].public);
    assert_eq!(comments[1].comment_type.as_deref(), Some("VoiceComment"));
    assert_headers(&server).await;
}

#[tokio::test]
async fn user_methods() {
    let (server, client) = server().await;
    get("/api/v2/users/search")
        .and(query_param("query", "phone:+15551234567"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "users": [
                user_json(1, "end-user", Some("+15551234567")),
                user_json(2, "end-user", Some("+1 (555) 123-4567")),
                user_json(3, "end-user", Some("+155512345678")),
                user_json(4, "end-user", None)],
            "next_page": null, "previous_page": null, "count": 4})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/create_or_update"))
        .and(body_json(
            json!({"user": {"name": "Jane Caller", "email": "jane@example.com",
            "phone": "+15551234567", "external_id": "crm-8812", "role": "end-user",
            "user_fields": {"tier": "gold"}, "skip_verify_email": true}}),
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("location", "/api/v2/users/9.json")
                .set_body_json(json!({"user": user_json(9, "end-user", Some("+15551234567"))})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/create_or_update"))
        .and(body_json(
            json!({"user": {"email": "jane@example.com", "name": "Jane C."}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": user_json(9, "end-user", None)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    get("/api/v2/users/9")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": user_json(9, "end-user", None)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    get("/api/v2/users/me")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": user_json(30001, "admin", None)})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let by_phone = client.find_users_by_phone("+15551234567").await;
    let ids: Vec<u64> = by_phone.unwrap_or_default().iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![1, 2]);
    let mut fields = serde_json::Map::new();
    fields.insert("tier".into(), json!("gold"));
    let new = NewUser {
        name: Some("Jane Caller".into()),
        email: Some("jane@example.com".into()),
        phone: Some("+15551234567".into()),
        external_id: Some("crm-8812".into()),
        role: Some(UserRole::EndUser),
        user_fields: Some(fields),
        skip_verify_email: Some(true),
        ..Default::default()
    };
    let created = client.create_or_update_user(&new).await;
    assert_eq!(created.map(|(u, c)| (u.id, c)).ok(), Some((9, true)));
    let rename = NewUser {
        name: Some("Jane C.".into()),
        email: Some("jane@example.com".into()),
        ..Default::default()
    };
    let updated = client.create_or_update_user(&rename).await;
    assert_eq!(updated.map(|(u, c)| (u.id, c)).ok(), Some((9, false)));
    assert_eq!(client.show_user(9).await.map(|u| u.id).ok(), Some(9));
    let me = client.me().await;
    assert_eq!(me.map(|u| u.role).ok(), Some(Some(UserRole::Admin)));
    let requests = assert_headers(&server).await;
    // The phone's `+` is percent-encoded, not sent as a space.
    assert!(
        requests[0]
            .url
            .query()
            .unwrap_or("")
            .contains("phone%3A%2B15551234567"),
        "{}",
        requests[0].url
    );
}

#[tokio::test]
async fn directory_lists() {
    let (server, client) = server().await;
    get("/api/v2/users")
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "users": [user_json(30001, "admin", None), user_json(30011, "agent", None)],
            "meta": {"has_more": false}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/v2/groups")
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "groups": [{"id": 20001, "name": "Support", "default": true, "deleted": false,
                        "description": "", "is_public": true}],
            "meta": {"has_more": false}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/v2/group_memberships")
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "group_memberships": [{"id": 1, "user_id": 30011, "group_id": 20001, "default": true}],
            "meta": {"has_more": false}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    get("/api/v2/ticket_fields")
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ticket_fields": [{"id": 10002, "type": "tagger", "title": "Call direction",
                "active": true, "custom_field_options": [
                    {"id": 1, "name": "Inbound", "value": "inbound", "default": false}]}],
            "meta": {"has_more": false}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;

    let staff = client.list_staff().await.unwrap_or_default();
    assert_eq!(staff.len(), 2);
    let groups = client.list_groups().await.unwrap_or_default();
    assert_eq!(
        groups.first().map(|g| (g.id, g.default)),
        Some((20001, true))
    );
    let memberships = client.list_group_memberships().await.unwrap_or_default();
    assert_eq!(
        memberships.first().map(|m| (m.user_id, m.group_id)),
        Some((30011, 20001))
    );
    let fields = client.list_ticket_fields().await.unwrap_or_default();
    assert_eq!(
        fields.first().map(|f| f.custom_field_options.len()),
        Some(1)
    );
    let requests = assert_headers(&server).await;
    // list_staff asks for agents and admins, in Zendesk's repeated `role[]` form.
    let pairs: Vec<(String, String)> = requests[0]
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let want: Vec<(String, String)> = [
        ("role[]", "agent"),
        ("role[]", "admin"),
        ("page[size]", "100"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(pairs, want);
}

#[tokio::test]
async fn an_update_can_clear_the_assignee() {
    let (server, client) = server().await;
    Mock::given(method("PUT"))
        .and(path("/api/v2/tickets/7"))
        .and(body_json(
            json!({"ticket": {"assignee_id": null, "group_id": 20003}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ticket": ticket_json(7)})))
        .expect(1)
        .mount(&server)
        .await;
    let update = TicketUpdate {
        assignee_id: Some(30011),
        unassign: true,
        group_id: Some(20003),
        ..Default::default()
    };
    assert_eq!(
        client.update_ticket(7, &update).await.map(|t| t.id).ok(),
        Some(7)
    );
}
