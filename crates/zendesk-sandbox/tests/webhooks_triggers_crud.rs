//! Webhooks and triggers over real HTTP: CRUD and its errors.

mod common;

use common::webhooks::{
    create_trigger, create_webhook, first_error_pointer, secret, send, trigger_webhook, AGENT,
};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn webhook_crud_and_its_errors() {
    let sb = common::spawn().await;
    let id = create_webhook(&sb, trigger_webhook("https://example.com/hook")).await;
    assert_eq!(id.len(), 26, "{id}");
    assert!(
        id.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "{id}"
    );

    let shown = sb.get_json(&format!("/api/v2/webhooks/{id}")).await;
    let w = &shown["webhook"];
    assert_eq!(
        w["authentication"],
        json!({"type": "bearer_token", "add_position": "header"})
    );
    assert!(
        !shown.to_string().contains("tok-123"),
        "credentials are never shown"
    );
    let listed = sb.get_json("/api/v2/webhooks").await;
    assert_eq!(listed["webhooks"][0]["id"], id.as_str());
    assert_eq!(listed["meta"]["has_more"], false);
    assert!(listed["links"].is_object());
    let filtered = sb
        .get_json("/api/v2/webhooks?filter[status]=inactive")
        .await;
    assert_eq!(filtered["webhooks"], json!([]));

    // PUT replaces, PATCH merges; both answer 204.
    let mut replacement = trigger_webhook("https://example.com/other");
    replacement["name"] = json!("Renamed");
    let (status, _) = send(
        sb.admin(Method::PUT, &format!("/api/v2/webhooks/{id}"))
            .json(&json!({"webhook": replacement})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        sb.admin(Method::PATCH, &format!("/api/v2/webhooks/{id}"))
            .json(&json!({"webhook": {"status": "inactive"}})),
    )
    .await;
    assert_eq!(status, 204);
    let w = sb.get_json(&format!("/api/v2/webhooks/{id}")).await["webhook"].clone();
    assert_eq!(
        (
            w["name"].as_str(),
            w["endpoint"].as_str(),
            w["status"].as_str()
        ),
        (
            Some("Renamed"),
            Some("https://example.com/other"),
            Some("inactive")
        )
    );
    assert_eq!(
        w["authentication"]["type"], "bearer_token",
        "PUT without data keeps the credentials"
    );

    // The connection method cannot change.
    let mut to_events = trigger_webhook("https://example.com/hook");
    to_events["subscriptions"] = json!(["zen:event-type:ticket.created"]);
    let (status, body) = send(
        sb.admin(Method::PUT, &format!("/api/v2/webhooks/{id}"))
            .json(&json!({"webhook": to_events})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(first_error_pointer(&body), "/webhook/subscriptions");

    // Validation errors name the field.
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": null}), "/webhook/name"),
        (
            json!({"endpoint": "ftp://example.com"}),
            "/webhook/endpoint",
        ),
        (json!({"endpoint": "not a url"}), "/webhook/endpoint"),
        (json!({"http_method": "FETCH"}), "/webhook/http_method"),
        (json!({"request_format": "yaml"}), "/webhook/request_format"),
        (json!({"status": "on"}), "/webhook/status"),
        (
            json!({"subscriptions": ["conditional_ticket_events", "zen:event-type:ticket.created"]}),
            "/webhook/subscriptions",
        ),
        (
            json!({"subscriptions": ["ticket.created"]}),
            "/webhook/subscriptions",
        ),
        (
            json!({"subscriptions": ["zen:event-type:ticket.created"], "http_method": "GET"}),
            "/webhook/http_method",
        ),
        (
            json!({"subscriptions": ["zen:event-type:ticket.created"], "request_format": "xml"}),
            "/webhook/request_format",
        ),
        (
            json!({"authentication": {"type": "oauth", "data": {}}}),
            "/webhook/authentication/type",
        ),
        (
            json!({"authentication": {"type": "basic_auth", "data": {"username": "u"}}}),
            "/webhook/authentication/data/password",
        ),
        (
            json!({"custom_headers": {"Authorization": "x"}}),
            "/webhook/custom_headers",
        ),
    ];
    for (change, pointer) in cases {
        let mut w = trigger_webhook("https://example.com/hook");
        for (k, v) in change.as_object().expect("object") {
            w[k] = v.clone();
        }
        let (status, body) = send(
            sb.admin(Method::POST, "/api/v2/webhooks")
                .json(&json!({"webhook": w})),
        )
        .await;
        assert_eq!(status, 400, "{change}: {body}");
        let pointers: Vec<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["source"]["pointer"].as_str())
            .collect();
        assert!(pointers.contains(&pointer), "{change}: {body}");
        assert!(
            body["errors"][0]["detail"].is_string() && body["errors"][0]["code"].is_string(),
            "{body}"
        );
    }
    let (status, body) = send(
        sb.admin(Method::POST, "/api/v2/webhooks")
            .body("{oops")
            .header("content-type", "application/json"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("JSON"),
        "{body}"
    );

    // Signing secret: shown, reset (201, different).
    let before = secret(&sb, &id).await;
    let (status, body) = send(sb.admin(
        Method::POST,
        &format!("/api/v2/webhooks/{id}/signing_secret"),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    let after = body["signing_secret"]["secret"].as_str().expect("secret");
    assert_ne!(before, after);
    assert_eq!(secret(&sb, &id).await, after);

    // Unknown ids, roles and credentials.
    for (method, path) in [
        (Method::GET, "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000"),
        (Method::PATCH, "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000"),
        (
            Method::DELETE,
            "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000",
        ),
        (
            Method::GET,
            "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000/signing_secret",
        ),
        (
            Method::GET,
            "/api/v2/webhooks/01NOSUCHWEBHOOK00000000000/invocations",
        ),
    ] {
        let (status, body) = send(
            sb.admin(method.clone(), path)
                .json(&json!({"webhook": {"name": "x"}})),
        )
        .await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(body["errors"].is_array(), "{body}");
    }
    let (status, _) = send(sb.as_agent_api(AGENT, Method::GET, "/api/v2/webhooks")).await;
    assert_eq!(status, 403);
    let (status, _) = send(sb.as_agent_api(
        AGENT,
        Method::GET,
        &format!("/api/v2/webhooks/{id}/signing_secret"),
    ))
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(sb.http.get(format!("{}/api/v2/webhooks", sb.base))).await;
    assert_eq!(status, 401);
    let (status, _) = send(sb.as_agent_api(AGENT, Method::GET, "/sandbox/deliveries")).await;
    assert_eq!(status, 403);

    let (status, _) = send(sb.admin(Method::DELETE, &format!("/api/v2/webhooks/{id}"))).await;
    assert_eq!(status, 204);
    let (status, _) = send(sb.admin(Method::GET, &format!("/api/v2/webhooks/{id}"))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn trigger_crud_and_its_errors() {
    let sb = common::spawn().await;
    let hook = create_webhook(&sb, trigger_webhook("https://example.com/hook")).await;
    let mut events = trigger_webhook("https://example.com/events");
    events["subscriptions"] = json!(["zen:event-type:ticket.created"]);
    events["authentication"] = Value::Null;
    let event_hook = create_webhook(&sb, events).await;
    let valid = json!({
        "title": "Sync public agent replies",
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "true"},
        ], "any": []},
        "actions": [{"field": "notification_webhook", "value": [hook, "{\"id\":\"{{ticket.id}}\"}"]}],
    });
    let first = create_trigger(&sb, valid.clone()).await;
    let second = create_trigger(&sb, valid.clone()).await;
    let shown = sb.get_json(&format!("/api/v2/triggers/{second}")).await;
    assert_eq!(shown["trigger"]["active"], true);
    let first_pos =
        sb.get_json(&format!("/api/v2/triggers/{first}")).await["trigger"]["position"].as_u64();
    assert!(
        shown["trigger"]["position"].as_u64() > first_pos,
        "new triggers go last"
    );
    let listed = sb.get_json("/api/v2/triggers").await;
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["triggers"][0]["id"], first);

    // Errors name the field (422 RecordInvalid).
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"title": ""}), "title", "Title"),
        (
            json!({"actions": []}),
            "actions",
            "Trigger must contain at least one action",
        ),
        (
            json!({"actions": null}),
            "actions",
            "Trigger must contain at least one action",
        ),
        (
            json!({"actions": [{"field": "notification_user", "value": ["requester_id", "s", "b"]}]}),
            "actions",
            "notification_user",
        ),
        (
            json!({"actions": [{"field": "notification_webhook", "value": [event_hook, "{}"]}]}),
            "actions",
            event_hook.as_str(),
        ),
        (
            json!({"actions": [{"field": "notification_webhook", "value": ["01NOSUCHWEBHOOK00000000000", "{}"]}]}),
            "actions",
            "01NOSUCHWEBHOOK00000000000",
        ),
        (
            json!({"conditions": {"all": [{"field": "subject_includes_word", "operator": "includes", "value": "x"}]}}),
            "conditions",
            "subject_includes_word",
        ),
        (
            json!({"conditions": {"all": [{"field": "status", "operator": "sounds_like", "value": "open"}]}}),
            "conditions",
            "sounds_like",
        ),
        (
            json!({"conditions": {"all": [], "any": []}}),
            "conditions",
            "at least one condition",
        ),
    ];
    for (change, field, named) in cases {
        let mut t = valid.clone();
        for (k, v) in change.as_object().expect("object") {
            t[k] = v.clone();
        }
        let (status, body) = send(
            sb.admin(Method::POST, "/api/v2/triggers")
                .json(&json!({"trigger": t})),
        )
        .await;
        assert_eq!(status, 422, "{change}: {body}");
        assert_eq!(body["error"], "RecordInvalid");
        let text = body["details"][field].to_string();
        assert!(text.contains(named), "{change}: {body}");
    }

    // PUT replaces given properties; conditions without actions clears the actions (422).
    let (status, body) = send(
        sb.admin(Method::PUT, &format!("/api/v2/triggers/{first}"))
            .json(&json!({"trigger": {"title": "Renamed", "active": false}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trigger"]["title"], "Renamed");
    assert_eq!(body["trigger"]["active"], false);
    assert_eq!(body["trigger"]["actions"], valid["actions"]);
    let (status, body) = send(
        sb.admin(Method::PUT, &format!("/api/v2/triggers/{first}"))
            .json(&json!({"trigger": {"conditions": valid["conditions"]}})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["details"]["actions"]
            .to_string()
            .contains("at least one action"),
        "{body}"
    );
    let active = sb.get_json("/api/v2/triggers?active=true").await;
    assert_eq!(active["count"], 1);

    // Unknown ids, roles and credentials.
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, _) = send(
            sb.admin(method.clone(), "/api/v2/triggers/999999")
                .json(&json!({"trigger": {"title": "x"}})),
        )
        .await;
        assert_eq!(status, 404, "{method}");
    }
    let (status, _) = send(
        sb.as_agent_api(AGENT, Method::POST, "/api/v2/triggers")
            .json(&json!({"trigger": valid})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(sb.http.get(format!("{}/api/v2/triggers", sb.base))).await;
    assert_eq!(status, 401);

    let (status, _) = send(sb.admin(Method::DELETE, &format!("/api/v2/triggers/{first}"))).await;
    assert_eq!(status, 204);
    let (status, _) = send(sb.admin(Method::GET, &format!("/api/v2/triggers/{first}"))).await;
    assert_eq!(status, 404);
}
