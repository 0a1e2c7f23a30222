//! Webhooks and ticket triggers: the business-rule objects that let Zendesk call deskline.
//!
//! Webhooks belong to Zendesk's newer API (string ids, `{"errors": [...]}` answers); triggers
//! to the classic one (numeric ids). Responses are read leniently, like the other types.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::response::{lenient_string, lenient_time, null_as_default};
use crate::config::Secret;

/// The only subscription of a webhook driven by triggers and automations.
pub const CONDITIONAL_TICKET_EVENTS: &str = "conditional_ticket_events";

/// A webhook as Zendesk returns it (credentials are never returned).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Webhook id (a ULID-like string).
    pub id: String,
    /// Name shown in Admin Center.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The URL requests go to.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoint: String,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub http_method: String,
    /// `json`, `xml` or `form_encoded`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub request_format: String,
    /// `active` or `inactive`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    /// `["conditional_ticket_events"]` (trigger-connected) or event types.
    #[serde(default, deserialize_with = "null_as_default")]
    pub subscriptions: Vec<String>,
    /// The kind of credentials the webhook sends, if any (never the credentials themselves).
    #[serde(default)]
    pub authentication: Option<WebhookAuthentication>,
    /// Extra headers sent with each request.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_headers: BTreeMap<String, String>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last update time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Webhook {
    /// Whether the webhook is connected to triggers rather than subscribed to event types.
    pub fn is_trigger_connected(&self) -> bool {
        self.subscriptions.len() == 1 && self.subscriptions[0] == CONDITIONAL_TICKET_EVENTS
    }
}

/// How a webhook authenticates to its endpoint, as Zendesk shows it (type only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookAuthentication {
    /// `api_key`, `basic_auth` or `bearer_token`.
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub auth_type: Option<String>,
    /// Where the credentials go (`header`).
    #[serde(default, deserialize_with = "lenient_string")]
    pub add_position: Option<String>,
}

/// A webhook to create, or the full definition that replaces one (`PUT`).
///
/// It has no `authentication` or `custom_headers` on purpose: deskline's webhooks carry no
/// credentials (deskline verifies Zendesk's signature instead), so a replace also removes any
/// that were added by hand.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewWebhook {
    /// Name shown in Admin Center.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The URL requests go to.
    pub endpoint: String,
    /// `POST` for deskline (event-subscription webhooks must use it).
    pub http_method: String,
    /// `json` for deskline (event-subscription webhooks must use it).
    pub request_format: String,
    /// `active` or `inactive`.
    pub status: String,
    /// `["conditional_ticket_events"]` or event types; never both, and fixed after creation.
    pub subscriptions: Vec<String>,
}

/// A webhook's signing secret (`GET /api/v2/webhooks/{id}/signing_secret`).
#[derive(Clone)]
pub struct SigningSecret {
    /// The HMAC algorithm Zendesk names (`SHA256`), when given.
    pub algorithm: Option<String>,
    /// The key Zendesk signs deliveries with; prints as `***`.
    pub secret: Secret,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningSecret")
            .field("algorithm", &self.algorithm)
            .field("secret", &self.secret)
            .finish()
    }
}

/// One condition of a trigger: `{field, operator, value}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerCondition {
    /// What is tested (`update_type`, `comment_is_public`, `current_via_id`, ...).
    pub field: String,
    /// `is`, `is_not`, ...; Zendesk's own examples leave it out of `update_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The value; Zendesk shows some (via types) as numbers, so it is kept as JSON.
    #[serde(default)]
    pub value: Value,
}

impl TriggerCondition {
    /// A condition with an operator and a text value, the way Zendesk documents them.
    pub fn new(field: &str, operator: &str, value: &str) -> Self {
        TriggerCondition {
            field: field.to_string(),
            operator: Some(operator.to_string()),
            value: Value::String(value.to_string()),
        }
    }
}

/// A trigger's conditions: all of `all` and at least one of `any` (when `any` is not empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerConditions {
    /// Conditions that must all hold.
    #[serde(default, deserialize_with = "null_as_default")]
    pub all: Vec<TriggerCondition>,
    /// Conditions of which one must hold.
    #[serde(default, deserialize_with = "null_as_default")]
    pub any: Vec<TriggerCondition>,
}

/// One action of a trigger: `{field, value}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerAction {
    /// What the action does (`notification_webhook`, `status`, ...).
    pub field: String,
    /// Its value; for `notification_webhook`, `[webhook_id, body]`.
    #[serde(default)]
    pub value: Value,
}

impl TriggerAction {
    /// Sends `body` (a template with placeholders) through the webhook `webhook_id`.
    pub fn notify_webhook(webhook_id: &str, body: &str) -> Self {
        TriggerAction {
            field: "notification_webhook".to_string(),
            value: Value::Array(vec![
                Value::String(webhook_id.to_string()),
                Value::String(body.to_string()),
            ]),
        }
    }
}

/// A ticket trigger as Zendesk returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Trigger id.
    pub id: u64,
    /// Title shown in Admin Center.
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Inactive triggers never fire.
    #[serde(default, deserialize_with = "null_as_default")]
    pub active: bool,
    /// Place in the order triggers run in.
    #[serde(default)]
    pub position: Option<u64>,
    /// The trigger category, on accounts that use them.
    #[serde(default, deserialize_with = "lenient_string")]
    pub category_id: Option<String>,
    /// When it fires.
    #[serde(default, deserialize_with = "null_as_default")]
    pub conditions: TriggerConditions,
    /// What it does.
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<TriggerAction>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last update time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A trigger to create, or what an update sets. Zendesk replaces conditions and actions
/// together on update, so both are always sent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewTrigger {
    /// Title shown in Admin Center.
    pub title: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it fires.
    pub active: bool,
    /// When it fires.
    pub conditions: TriggerConditions,
    /// What it does (at least one action).
    pub actions: Vec<TriggerAction>,
    /// The trigger category; left out, Zendesk uses the account's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn webhooks_are_read_leniently() {
        let w: Webhook = serde_json::from_value(json!({"id": "01HZ", "name": "x",
            "endpoint": "https://d.example/zendesk/webhook", "http_method": "POST",
            "request_format": "json", "status": "active",
            "subscriptions": ["conditional_ticket_events"], "authentication": null,
            "custom_headers": null, "created_at": "2026-05-01T10:00:00Z", "updated_at": "soon",
            "signing_secret": null, "created_by": "1"}))
        .unwrap_or_default();
        assert_eq!(w.id, "01HZ");
        assert!(w.is_trigger_connected());
        assert!(w.authentication.is_none() && w.custom_headers.is_empty());
        assert!(w.created_at.is_some() && w.updated_at.is_none());
    }

    #[test]
    fn triggers_read_numbers_and_missing_operators() {
        let t: Trigger = serde_json::from_value(json!({"id": 7, "title": "t", "active": true,
            "category_id": 10026, "conditions": {"all": [
                {"field": "update_type", "value": "Change"},
                {"field": "current_via_id", "operator": "is_not", "value": 5}], "any": null},
            "actions": [{"field": "notification_webhook", "value": ["01HZ", "{}"]}]}))
        .unwrap_or_default();
        assert_eq!(t.id, 7);
        assert_eq!(t.category_id.as_deref(), Some("10026"));
        assert_eq!(t.conditions.all[0].operator, None);
        assert_eq!(t.conditions.all[1].value, json!(5));
        assert!(t.conditions.any.is_empty());
        assert_eq!(t.actions[0], TriggerAction::notify_webhook("01HZ", "{}"));
    }

    #[test]
    fn signing_secrets_never_print() {
        let s = SigningSecret {
            algorithm: Some("SHA256".into()),
            secret: Secret::new("hunter2"),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
