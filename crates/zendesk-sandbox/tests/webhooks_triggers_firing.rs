//! Triggers and event subscriptions firing over real HTTP: signed deliveries to a loopback
//! receiver, placeholders, retries and timeouts, inactive webhooks and triggers, and trigger
//! actions that change the ticket.

mod common;

use std::time::Duration;

use common::webhooks::{
    assert_signed, create_trigger, create_webhook, deliveries, secret, send, settled_deliveries,
    trigger_webhook, update_ticket, web, Hit, Receiver, AGENT,
};
use reqwest::Method;
use serde_json::{json, Value};
use zendesk_sandbox::SandboxConfig;

const REQUESTER: u64 = 50001;

#[tokio::test]
async fn a_public_agent_reply_fires_a_signed_webhook_and_notes_and_api_updates_do_not() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let hook = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    create_trigger(&sb, json!({
        "title": "Sync public agent replies",
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "true"},
            {"field": "current_via_id", "operator": "is_not", "value": "5"},
        ]},
        "actions": [{"field": "notification_webhook", "value": [hook,
            "{\"ticket_id\":\"{{ticket.id}}\",\"external_id\":\"{{ticket.external_id}}\",\"author\":\"{{current_user.email}}\",\"reply\":\"{{ticket.latest_public_comment}}\",\"status\":\"{{ticket.status}}\",\"requester\":\"{{ticket.requester.email}}\"}"]}],
    })).await;
    let id = sb
        .create_ticket(json!({"subject": "Call back", "comment": {"body": "Missed call"}, "requester_id": REQUESTER, "external_id": "call-1"}))
        .await;

    // An internal note in the agent workspace and a public reply through the API token fire
    // nothing: deliveries are recorded before the update answers, so the log is already final.
    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": "note to self", "public": false}}),
    )
    .await;
    update_ticket(
        sb.as_agent_api(AGENT, Method::PUT, &format!("/api/v2/tickets/{id}")),
        json!({"comment": {"body": "api reply", "public": true}}),
    )
    .await;
    assert!(deliveries(&sb).await.is_empty());

    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": "We will call you back", "public": true}, "status": "pending"}),
    )
    .await;
    let hits = rx.wait_for(1).await;
    let hit = &hits[0];
    assert_eq!(
        (hit.method.as_str(), hit.path.as_str()),
        ("POST", "/zendesk/webhook")
    );
    assert_signed(hit, &secret(&sb, &hook).await);
    assert_eq!(hit.header("x-zendesk-webhook-id"), hook);
    assert_eq!(hit.header("x-zendesk-account-id"), "9000001");
    assert_eq!(hit.header("content-type"), "application/json");
    assert_eq!(hit.header("authorization"), "Bearer tok-123");
    assert_eq!(hit.header("x-env"), "test");
    assert_eq!(
        hit.json(),
        json!({"ticket_id": id.to_string(), "external_id": "call-1", "author": AGENT,
               "reply": "We will call you back", "status": "Pending", "requester": "anita@acme-logistics.example"})
    );

    let log = settled_deliveries(&sb, 1).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], "success");
    assert_eq!(
        hit.header("x-zendesk-webhook-invocation-id"),
        log[0]["invocation_id"].as_str().unwrap_or_default()
    );
    assert_eq!(log[0]["request_headers"]["authorization"], "[redacted]");
    let invocations = sb
        .get_json(&format!("/api/v2/webhooks/{hook}/invocations"))
        .await;
    let inv = &invocations["invocations"][0];
    assert_eq!(inv["status"], "success");
    assert_eq!(inv["id"], log[0]["invocation_id"]);
    assert!(inv["latest_completed_at"].is_string(), "{inv}");
}

#[tokio::test]
async fn placeholders_render_and_stay_valid_json() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let hook = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    create_trigger(&sb, json!({
        "title": "Every agent comment",
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "not_relevant"},
            {"field": "role", "operator": "is", "value": "agent"},
        ]},
        "actions": [{"field": "notification_webhook", "value": [hook,
            "{\"public\":\"{{ticket.latest_public_comment}}\",\"latest\":\"{{ticket.latest_comment}}\",\"title\":\"{{ticket.title}}\",\"link\":\"{{ticket.link}}\",\"via\":\"{{ticket.via}}\",\"tags\":\"{{ticket.tags}}\",\"requester\":\"{{ticket.requester.name}}|{{ticket.requester.phone}}|{{ticket.requester.external_id}}\",\"user\":\"{{current_user.name}}|{{current_user.id}}|{{current_user.role}}\",\"updated\":\"{{ticket.updated_at_with_timestamp}}\",\"unknown\":\"{{ticket.no_such_thing}}\",\"spaced\":\"{{ ticket.id }}\"}"]}],
    })).await;
    let id = sb
        .create_ticket(json!({"subject": "Quote \"me\"", "comment": {"body": "first"}, "requester_id": REQUESTER, "tags": ["voice"]}))
        .await;
    let tricky = "He said \"call me\"\nat 5\\6 {{not a placeholder}}";
    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": tricky, "public": true}}),
    )
    .await;
    update_ticket(
        web(&sb, id),
        json!({"comment": {"body": "internal only", "public": false}}),
    )
    .await;
    let hits = rx.wait_for(2).await;
    // Two separate requests may arrive in either order; tell them apart by the latest comment.
    let bodies: Vec<Value> = hits.iter().map(Hit::json).collect();
    let after_reply = bodies
        .iter()
        .find(|b| b["latest"] != "internal only")
        .expect("reply body");
    let after_note = bodies
        .iter()
        .find(|b| b["latest"] == "internal only")
        .expect("note body");
    let stored = sb.get_json(&format!("/api/v2/tickets/{id}/comments")).await;
    let reply_text = stored["comments"][1]["body"].clone();
    assert_eq!(after_reply["public"], reply_text);
    assert_eq!(after_reply["latest"], reply_text);
    assert_eq!(
        after_note["public"], reply_text,
        "latest_public_comment skips the internal note"
    );
    assert_eq!(after_reply["title"], "Quote \"me\"");
    assert_eq!(
        after_reply["link"],
        format!("{}/agent/tickets/{id}", sb.base)
    );
    assert_eq!(after_reply["via"], "Web Service");
    assert_eq!(after_reply["tags"], "voice");
    assert_eq!(
        after_reply["requester"],
        "Anita Desai|+919876543210|crm-1001"
    );
    assert_eq!(after_reply["user"], "Priya Sharma|30011|agent");
    assert_eq!(after_reply["unknown"], "");
    assert_eq!(after_reply["spaced"], id.to_string());
    let ticket = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(after_note["updated"], ticket["ticket"]["updated_at"]);
}

#[tokio::test]
async fn event_subscriptions_receive_ticket_events() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let hook = create_webhook(&sb, json!({
        "name": "Ticket events",
        "endpoint": rx.url,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["zen:event-type:ticket.created", "zen:event-type:ticket.status_changed", "zen:event-type:ticket.comment_added"],
    })).await;
    let id = sb
        .create_ticket(json!({"subject": "Voice call", "comment": {"body": "Call log"}, "requester_id": REQUESTER, "external_id": "call-9"}))
        .await;
    update_ticket(
        web(&sb, id),
        json!({"status": "pending", "comment": {"body": "Called back", "public": true}}),
    )
    .await;
    let hits = rx.wait_for(3).await;
    let key = secret(&sb, &hook).await;
    let mut by_type = std::collections::BTreeMap::new();
    for hit in &hits {
        assert_signed(hit, &key);
        let body = hit.json();
        by_type.insert(body["type"].as_str().unwrap_or_default().to_string(), body);
    }
    let created = &by_type["zen:event-type:ticket.created"];
    assert_eq!(created["account_id"], 9_000_001);
    assert_eq!(created["subject"], format!("zen:ticket:{id}"));
    assert_eq!(created["zendesk_event_version"], "2022-11-06");
    assert_eq!(created["detail"]["id"], id.to_string());
    assert_eq!(created["detail"]["external_id"], "call-9");
    assert_eq!(created["detail"]["status"], "NEW");
    assert_eq!(created["detail"]["requester_id"], REQUESTER.to_string());
    assert_eq!(created["id"].as_str().map(str::len), Some(36));
    let status = &by_type["zen:event-type:ticket.status_changed"];
    assert_eq!(status["event"]["current"], "PENDING");
    assert_eq!(status["event"]["previous"], "NEW");
    assert_eq!(status["detail"]["actor_id"], "30011");
    let comment = &by_type["zen:event-type:ticket.comment_added"];
    assert_eq!(comment["event"]["comment"]["body"], "Called back");
    assert_eq!(comment["event"]["comment"]["is_public"], true);
    assert_eq!(
        comment["event"]["comment"]["author"],
        json!({"id": "30011", "is_staff": true, "name": "Priya Sharma"})
    );
    // Events of one update share a sequence.
    assert_eq!(
        status["event"]["meta"]["sequence"]["id"],
        comment["event"]["meta"]["sequence"]["id"]
    );
    assert_ne!(
        status["event"]["meta"]["sequence"]["position"],
        comment["event"]["meta"]["sequence"]["position"]
    );
}

#[tokio::test]
async fn a_5xx_is_retried_and_the_attempts_are_logged() {
    let sb = common::spawn_with(SandboxConfig {
        webhook_retry_backoff: Duration::from_millis(20),
        ..SandboxConfig::default()
    })
    .await;
    let rx = Receiver::start(1, Duration::ZERO).await;
    let hook = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    create_trigger(&sb, json!({
        "title": "On create",
        "conditions": {"all": [{"field": "update_type", "value": "Create"}]},
        "actions": [{"field": "notification_webhook", "value": [hook, "{\"id\":{{ticket.id}}}"]}],
    })).await;
    sb.create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    let log = settled_deliveries(&sb, 1).await;
    let d = &log[0];
    assert_eq!(d["status"], "success", "{d}");
    let attempts = d["attempts"].as_array().expect("attempts");
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(200)]);
    assert_eq!(attempts[0]["outcome"], "server error");
    let hits = rx.wait_for(2).await;
    assert_eq!(
        hits[0].header("x-zendesk-webhook-invocation-id"),
        hits[1].header("x-zendesk-webhook-invocation-id")
    );
    let key = secret(&sb, &hook).await;
    for hit in &hits {
        assert_signed(hit, &key);
    }
    let inv_id = d["invocation_id"].as_str().expect("invocation id");
    let listed = sb
        .get_json(&format!(
            "/api/v2/webhooks/{hook}/invocations/{inv_id}/attempts"
        ))
        .await;
    let codes: Vec<&Value> = listed["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| &a["response_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(200)]);
    let filtered = sb
        .get_json(&format!(
            "/api/v2/webhooks/{hook}/invocations?filter[status]=failed"
        ))
        .await;
    assert_eq!(filtered["invocations"], json!([]));
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_a_4xx_is_final() {
    let sb = common::spawn_with(SandboxConfig {
        webhook_timeout: Duration::from_millis(300),
        webhook_retries: 1,
        webhook_retry_backoff: Duration::from_millis(10),
        ..SandboxConfig::default()
    })
    .await;
    let slow = Receiver::start(0, Duration::from_secs(3)).await;
    let hook = create_webhook(&sb, trigger_webhook(&slow.url)).await;
    create_trigger(
        &sb,
        json!({
            "title": "On create",
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "notification_webhook", "value": [hook, "{}"]}],
        }),
    )
    .await;
    sb.create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    let log = settled_deliveries(&sb, 1).await;
    assert_eq!(log[0]["status"], "timeout", "{:?}", log[0]);
    let attempts = log[0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "one try and one retry");
    for a in attempts {
        assert_eq!(a["outcome"], "timeout");
        assert!(a["status"].is_null());
        assert!(
            a["error"]
                .as_str()
                .unwrap_or_default()
                .contains("timed out"),
            "{a}"
        );
    }

    // A 4xx is not retried. Point the webhook at a path the sandbox itself answers 401 on.
    let (status, _) = send(sb.admin(Method::PATCH, &format!("/api/v2/webhooks/{hook}")).json(&json!({"webhook": {"endpoint": format!("{}/api/v2/users/me", sb.base), "http_method": "GET", "authentication": null}}))).await;
    assert_eq!(status, 204);
    let (status, _) = send(sb.admin(Method::DELETE, "/sandbox/deliveries")).await;
    assert_eq!(status, 200);
    sb.create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    let log = settled_deliveries(&sb, 1).await;
    assert_eq!(log[0]["status"], "client error");
    assert_eq!(log[0]["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(log[0]["attempts"][0]["status"], 401);
}

#[tokio::test]
async fn inactive_webhooks_and_triggers_do_not_fire() {
    let sb = common::spawn().await;
    let rx = Receiver::start(0, Duration::ZERO).await;
    let mut inactive_hook = trigger_webhook(&rx.url);
    inactive_hook["status"] = json!("inactive");
    let off = create_webhook(&sb, inactive_hook).await;
    let on = create_webhook(&sb, trigger_webhook(&rx.url)).await;
    let on_create = json!({"all": [{"field": "update_type", "operator": "is", "value": "Create"}]});
    create_trigger(
        &sb,
        json!({"title": "To an inactive webhook", "conditions": on_create,
        "actions": [{"field": "notification_webhook", "value": [off, "{}"]}]}),
    )
    .await;
    create_trigger(&sb, json!({"title": "Inactive", "active": false, "conditions": on_create,
        "actions": [{"field": "notification_webhook", "value": [on, "{}"]}, {"field": "current_tags", "value": "never"}]})).await;
    let id = sb
        .create_ticket(json!({"subject": "x", "comment": {"body": "y"}}))
        .await;
    assert!(deliveries(&sb).await.is_empty());
    assert!(rx.hits().is_empty());
    let t = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(t["ticket"]["tags"], json!([]));
}

#[tokio::test]
async fn trigger_actions_change_the_ticket() {
    let sb = common::spawn().await;
    create_trigger(
        &sb,
        json!({
            "title": "Triage voice tickets",
            "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "Create"},
                {"field": "current_tags", "operator": "includes", "value": "voice missed"},
            ]},
            "actions": [
                {"field": "current_tags", "value": "triaged"},
                {"field": "remove_tags", "value": "missed"},
                {"field": "priority", "value": "high"},
                {"field": "group_id", "value": "20003"},
            ],
        }),
    )
    .await;
    let (status, body) = send(sb.admin(Method::POST, "/api/v2/tickets").json(&json!({"ticket": {"subject": "Missed call", "comment": {"body": "y"}, "tags": ["missed"]}}))).await;
    assert_eq!(status, 201, "{body}");
    let t = &body["ticket"];
    assert_eq!(t["tags"], json!(["triaged"]));
    assert_eq!(t["priority"], "high");
    assert_eq!(t["group_id"], 20003);
    let id = t["id"].as_u64().expect("id");
    let stored = sb.get_json(&format!("/api/v2/tickets/{id}")).await;
    assert_eq!(stored["ticket"]["tags"], json!(["triaged"]));
    // Not tagged: the trigger does not fire.
    let other = sb
        .create_ticket(json!({"subject": "Email", "comment": {"body": "y"}}))
        .await;
    let stored = sb.get_json(&format!("/api/v2/tickets/{other}")).await;
    assert_eq!(stored["ticket"]["priority"], Value::Null);
}
