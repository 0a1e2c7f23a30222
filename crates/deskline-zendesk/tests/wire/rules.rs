//! Webhooks and triggers: what each method sends, how the answers (including the webhooks
//! API's 204s and `{"errors": [...]}` bodies) are read, and that lists are followed to the end.

use deskline_zendesk::{
    NewTrigger, NewWebhook, TriggerAction, TriggerCondition, TriggerConditions, ZendeskError,
};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::{server, AUTHORIZATION};

const HOOK_ID: &str = "01FMJQSY40HZBCBVPZB9212S8V";

fn new_webhook() -> NewWebhook {
    NewWebhook {
        name: "deskline: public replies".into(),
        description: None,
        endpoint: "https://deskline.example/zendesk/webhook".into(),
        http_method: "POST".into(),
        request_format: "json".into(),
        status: "active".into(),
        subscriptions: vec!["conditional_ticket_events".into()],
    }
}

/// The webhook as Zendesk documents its answer (`signing_secret` is always null there).
fn webhook_json(id: &str) -> serde_json::Value {
    json!({"id": id, "name": "deskline: public replies", "description": "",
        "endpoint": "https://deskline.example/zendesk/webhook", "http_method": "POST",
        "request_format": "json", "status": "active",
        "subscriptions": ["conditional_ticket_events"], "authentication": null,
        "custom_headers": {}, "signing_secret": null,
        "created_at": "2026-05-01T10:00:00Z", "created_by": "30001",
        "updated_at": "2026-05-01T10:00:00Z", "updated_by": "30001"})
}

fn new_trigger() -> NewTrigger {
    NewTrigger {
        title: "deskline: public agent reply".into(),
        description: Some("managed".into()),
        active: true,
        conditions: TriggerConditions {
            all: vec![
                TriggerCondition::new("update_type", "is", "Change"),
                TriggerCondition::new("current_via_id", "is_not", "5"),
            ],
            any: vec![],
        },
        actions: vec![TriggerAction::notify_webhook(
            HOOK_ID,
            "{\"id\":\"{{ticket.id}}\"}",
        )],
        category_id: None,
    }
}

fn trigger_json(id: u64) -> serde_json::Value {
    json!({"url": format!("https://acme.zendesk.com/api/v2/triggers/{id}.json"), "id": id,
        "title": "deskline: public agent reply", "raw_title": "deskline: public agent reply",
        "description": "managed", "active": true, "position": 9, "category_id": "10026",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "current_via_id", "operator": "is_not", "value": 5}], "any": []},
        "actions": [{"field": "notification_webhook",
            "value": [HOOK_ID, "{\"id\":\"{{ticket.id}}\"}"]}],
        "default": false, "created_at": "2026-05-01T10:00:00Z",
        "updated_at": "2026-05-01T10:00:00Z"})
}

#[tokio::test]
async fn webhooks_are_created_replaced_and_deleted() {
    let (server, client) = server().await;
    let sent = json!({"webhook": {"name": "deskline: public replies",
        "endpoint": "https://deskline.example/zendesk/webhook", "http_method": "POST",
        "request_format": "json", "status": "active",
        "subscriptions": ["conditional_ticket_events"]}});
    Mock::given(method("POST"))
        .and(path("/api/v2/webhooks"))
        .and(header("authorization", AUTHORIZATION))
        .and(header("content-type", "application/json"))
        .and(body_json(&sent))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"webhook": webhook_json(HOOK_ID)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Zendesk answers a replace with 204 and no body.
    Mock::given(method("PUT"))
        .and(path(format!("/api/v2/webhooks/{HOOK_ID}")))
        .and(body_json(&sent))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/api/v2/webhooks/{HOOK_ID}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let created = client.create_webhook(&new_webhook()).await;
    let created = created.unwrap_or_default();
    assert_eq!(created.id, HOOK_ID);
    assert!(created.is_trigger_connected());
    assert!(created.authentication.is_none());
    assert_eq!(client.update_webhook(HOOK_ID, &new_webhook()).await, Ok(()));
    assert_eq!(client.delete_webhook(HOOK_ID).await, Ok(()));
    // An id that would change the path is never sent.
    assert!(matches!(
        client.delete_webhook("../tickets/1").await,
        Err(ZendeskError::BadRequest { .. })
    ));
}

#[tokio::test]
async fn the_signing_secret_is_read_and_hidden() {
    let (server, client) = server().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/webhooks/{HOOK_ID}/signing_secret")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"signing_secret": {"algorithm": "SHA256", "secret": "dGhpc19pc19hX3NlY3JldA"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let secret = client.webhook_signing_secret(HOOK_ID).await;
    let secret = secret.unwrap_or_else(|e| panic!("signing secret: {e}"));
    assert_eq!(secret.secret.expose(), "dGhpc19pc19hX3NlY3JldA");
    assert_eq!(secret.algorithm.as_deref(), Some("SHA256"));
    assert!(!format!("{secret:?}").contains("dGhpc19pc19hX3NlY3JldA"));
}

#[tokio::test]
async fn webhook_lists_follow_cursor_links() {
    let (server, client) = server().await;
    let next = format!(
        "{}/api/v2/webhooks?page%5Bsize%5D=100&page%5Bafter%5D=c1",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/api/v2/webhooks"))
        .and(query_param("page[size]", "100"))
        .and(query_param_is_missing("page[after]"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "webhooks": [webhook_json("01A")],
            "meta": {"has_more": true, "after_cursor": "c1"}, "links": {"next": next}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/webhooks"))
        .and(query_param("page[after]", "c1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "webhooks": [webhook_json("01B")],
            "meta": {"has_more": false}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let ids: Vec<String> = client
        .list_webhooks()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, ["01A", "01B"]);
}

#[tokio::test]
async fn webhook_errors_lists_are_classified() {
    let (server, client) = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/webhooks"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"errors": [
            {"code": "InvalidValue", "title": "Invalid value",
             "detail": "endpoint \"x\" is not an http or https URL", "status": "400",
             "source": {"pointer": "/webhook/endpoint"}}]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/webhooks/{HOOK_ID}/signing_secret")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": [
            {"code": "RecordNotFound", "title": "Not Found", "detail": "webhook not found"}]})))
        .mount(&server)
        .await;
    let err = client.create_webhook(&new_webhook()).await.err();
    assert_eq!(
        err,
        Some(ZendeskError::BadRequest {
            description: "endpoint \"x\" is not an http or https URL (POST /api/v2/webhooks)"
                .into()
        })
    );
    let err = client.webhook_signing_secret(HOOK_ID).await.err();
    assert!(
        matches!(err, Some(ZendeskError::NotFound { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn triggers_are_listed_created_updated_and_deleted() {
    let (server, client) = server().await;
    let sent = json!({"trigger": {"title": "deskline: public agent reply",
        "description": "managed", "active": true,
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "current_via_id", "operator": "is_not", "value": "5"}], "any": []},
        "actions": [{"field": "notification_webhook",
            "value": [HOOK_ID, "{\"id\":\"{{ticket.id}}\"}"]}]}});
    Mock::given(method("GET"))
        .and(path("/api/v2/triggers"))
        .and(query_param("page[size]", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "triggers": [trigger_json(41), trigger_json(42)],
            "meta": {"has_more": false}, "links": {"next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/triggers"))
        .and(body_json(&sent))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"trigger": trigger_json(43)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v2/triggers/43"))
        .and(body_json(&sent))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"trigger": trigger_json(43)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v2/triggers/43"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v2/triggers/44"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "RecordNotFound", "description": "Not found"})),
        )
        .mount(&server)
        .await;

    let listed = client.list_triggers().await.unwrap_or_default();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), [41, 42]);
    // Via types come back as numbers; the value is kept as Zendesk sent it.
    assert_eq!(listed[0].conditions.all[1].value, json!(5));
    assert_eq!(listed[0].position, Some(9));
    let created = client
        .create_trigger(&new_trigger())
        .await
        .unwrap_or_default();
    assert_eq!((created.id, created.active), (43, true));
    let updated = client.update_trigger(43, &new_trigger()).await;
    assert_eq!(updated.map(|t| t.id).ok(), Some(43));
    assert_eq!(client.delete_trigger(43).await, Ok(()));
    assert!(matches!(
        client.delete_trigger(44).await,
        Err(ZendeskError::NotFound { .. })
    ));
}
