//! The client against a scripted HTTP server (wiremock): what goes on the wire for each method,
//! how every kind of answer is classified, and how lists are paged (tickets, users, the
//! directory, webhooks and triggers).

mod errors;
mod gate;
mod pagination;
mod requests;
mod rules;

use std::time::Duration;

use deskline_zendesk::{Secret, ZendeskClient, ZendeskConfig};
use wiremock::MockServer;

/// The email and token of Zendesk's own documentation example (reference §1), so the expected
/// Authorization header below is Zendesk's published value, not one computed by this code.
pub const EMAIL: &str = "jdoe@example.com";
/// The documented example token.
pub const TOKEN: &str = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv";
/// `Authorization` for EMAIL/TOKEN, copied from Zendesk's documentation.
pub const AUTHORIZATION: &str =
    "Basic amRvZUBleGFtcGxlLmNvbS90b2tlbjo2d2lJQldiR2tCTW8xbVJETXVWd2t3MUVQc05rZVVqOTVQSXoyYWt2";

/// A client for `base` with a short timeout and a budget that never holds a test back.
pub fn client_for(base: &str) -> ZendeskClient {
    let mut config = ZendeskConfig::new(base, EMAIL, Secret::new(TOKEN));
    config.timeout = Duration::from_millis(1500);
    config.requests_per_minute = 6000;
    match ZendeskClient::new(&config) {
        Ok(c) => c,
        Err(e) => panic!("client for {base}: {e}"),
    }
}

/// A scripted server and a client pointed at it.
pub async fn server() -> (MockServer, ZendeskClient) {
    let server = MockServer::start().await;
    let client = client_for(&server.uri());
    (server, client)
}

/// A ticket answer as Zendesk shapes it (with nulls where the live API sends them).
pub fn ticket_json(id: u64) -> serde_json::Value {
    serde_json::json!({
        "id": id, "url": format!("https://acme.zendesk.com/api/v2/tickets/{id}.json"),
        "external_id": "call:CA123", "subject": "Inbound call", "status": "open",
        "priority": null, "type": null, "assignee_id": 30011, "group_id": 20001,
        "requester_id": 50001, "submitter_id": 30001, "organization_id": null,
        "tags": ["voice"], "custom_fields": [{"id": 10001, "value": "CA123"}],
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": null}},
        "created_at": "2026-05-01T10:00:00Z", "updated_at": "2026-05-01T10:00:00Z",
        "satisfaction_rating": null, "description": "x"
    })
}

/// A user answer as Zendesk shapes it.
pub fn user_json(id: u64, role: &str, phone: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "id": id, "name": format!("User {id}"), "email": format!("u{id}@example.com"),
        "phone": phone, "role": role, "external_id": null, "organization_id": null,
        "user_fields": {}, "default_group_id": null, "active": true, "suspended": false,
        "verified": true, "last_login_at": null
    })
}
