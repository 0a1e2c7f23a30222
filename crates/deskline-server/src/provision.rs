//! Provisioning Zendesk's side of the connection: the two webhooks that call
//! `POST /zendesk/webhook`, the trigger that sends public agent replies through one of them, and
//! the signing secrets deskline verifies their deliveries with (docs/zendesk.md).
//!
//! Everything is found by its exact name and created, updated or left alone, so provisioning
//! again changes nothing when nothing drifted. The ids are recorded in links of kind
//! [`PROVISION_LINK_KIND`] so that [`disconnect`] removes exactly these objects.
//!
//! No API credential goes into Zendesk or into the store: the webhooks send none (deskline
//! checks Zendesk's signature instead), so rotating the API token needs no re-provisioning.

use chrono::{DateTime, Utc};
use deskline_store::{Store, StoreError};
use deskline_zendesk::{
    NewTrigger, NewWebhook, Trigger, TriggerAction, TriggerCondition, TriggerConditions, Webhook,
    ZendeskClient, ZendeskError, CONDITIONAL_TICKET_EVENTS,
};
use reqwest::Url;
use serde_json::Value;

use crate::zendesk_hook::{EVENTS_SIGNING_SECRET_LINK, SIGNING_SECRET_LINK};

/// Name of the trigger-connected webhook that carries public agent replies.
pub const REPLIES_WEBHOOK_NAME: &str = "deskline: public replies";
/// Name of the webhook subscribed to ticket events.
pub const EVENTS_WEBHOOK_NAME: &str = "deskline: ticket events";
/// Title of the trigger that sends public agent replies to deskline.
pub const REPLY_TRIGGER_NAME: &str = "deskline: public agent reply";
/// The event types the events webhook subscribes to.
pub const EVENT_TYPES: &[&str] = &[
    "zen:event-type:ticket.created",
    "zen:event-type:ticket.status_changed",
];
/// The `deskline_event` value of the reply trigger's body.
pub const REPLY_EVENT: &str = "public_reply";
/// The reply trigger's body template. It uses `ticket.latest_public_comment`, never
/// `ticket.latest_comment`, which would include internal notes.
pub const REPLY_TRIGGER_BODY: &str = r#"{"deskline_event":"public_reply","ticket_id":"{{ticket.id}}","external_id":"{{ticket.external_id}}","status":"{{ticket.status}}","current_user_id":"{{current_user.id}}","latest_public_comment":"{{ticket.latest_public_comment}}","updated_at":"{{ticket.updated_at_with_timestamp}}"}"#;
/// The path Zendesk's webhooks are received at.
pub const WEBHOOK_PATH: &str = "/zendesk/webhook";
/// Link kind of the ids provisioning recorded.
pub const PROVISION_LINK_KIND: &str = "zendesk_provision";
/// Link key of the replies webhook's id.
pub const REPLIES_WEBHOOK_ID_KEY: &str = "replies_webhook_id";
/// Link key of the events webhook's id.
pub const EVENTS_WEBHOOK_ID_KEY: &str = "events_webhook_id";
/// Link key of the reply trigger's id.
pub const REPLY_TRIGGER_ID_KEY: &str = "reply_trigger_id";

/// Says, in Zendesk's Admin Center, who owns these objects.
const DESCRIPTION: &str = "Managed by deskline (deskline zendesk provision / disconnect); changes made here are overwritten the next time it is provisioned.";
/// Via id of changes made through the API: deskline's own writes, which must not loop back.
const VIA_WEB_SERVICE: &str = "5";

/// Why provisioning or disconnecting stopped. Whatever was done before stays recorded, so
/// running the command again continues from there.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The URL Zendesk should call is unusable.
    #[error("the webhook endpoint {endpoint:?} cannot be used: {reason}")]
    Endpoint {
        /// The URL as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A Zendesk request failed.
    #[error("cannot {step}: {source}")]
    Zendesk {
        /// What was being done.
        step: String,
        /// Zendesk's answer, classified.
        #[source]
        source: ZendeskError,
    },
    /// deskline's database failed.
    #[error("cannot {step}: {source}")]
    Store {
        /// What was being done.
        step: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

fn zendesk(step: impl Into<String>) -> impl FnOnce(ZendeskError) -> ProvisionError {
    move |source| ProvisionError::Zendesk {
        step: step.into(),
        source,
    }
}

fn store_err(step: impl Into<String>) -> impl FnOnce(StoreError) -> ProvisionError {
    move |source| ProvisionError::Store {
        step: step.into(),
        source,
    }
}

/// What provisioning did to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// It did not exist and was created.
    Created,
    /// It existed with other settings and was updated.
    Updated,
    /// A webhook of that name was connected the other way (triggers vs event types), which
    /// Zendesk cannot change, so it was deleted and created again.
    Replaced,
    /// It already matched; nothing was sent.
    Unchanged,
}

impl Change {
    /// The word shown for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Replaced => "replaced",
            Change::Unchanged => "unchanged",
        }
    }
}

/// Whether an object is a webhook or a trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A webhook.
    Webhook,
    /// A ticket trigger.
    Trigger,
}

impl ObjectKind {
    /// The word shown for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Webhook => "webhook",
            ObjectKind::Trigger => "trigger",
        }
    }
}

/// One object provisioning made sure of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioned {
    /// Webhook or trigger.
    pub kind: ObjectKind,
    /// Its name (title, for the trigger).
    pub name: &'static str,
    /// Its Zendesk id.
    pub id: String,
    /// What was done.
    pub change: Change,
}

/// What [`provision`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionReport {
    /// The URL the webhooks call.
    pub endpoint: String,
    /// The replies webhook, the events webhook and the reply trigger, in that order.
    pub objects: Vec<Provisioned>,
    /// `kind/key` of each link written (ids and signing secrets; never their values). Empty
    /// when the store already held them.
    pub links_written: Vec<String>,
    /// Other objects with one of deskline's names, left alone (delete them by hand).
    pub duplicates: Vec<String>,
}

impl ProvisionReport {
    /// Whether anything in Zendesk or in the store was written.
    pub fn changed_anything(&self) -> bool {
        !self.links_written.is_empty() || self.objects.iter().any(|o| o.change != Change::Unchanged)
    }
}

/// One object [`disconnect`] dealt with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// Webhook or trigger.
    pub kind: ObjectKind,
    /// Its name (title, for the trigger).
    pub name: &'static str,
    /// Its Zendesk id.
    pub id: String,
    /// False when the recorded object no longer existed in Zendesk.
    pub existed: bool,
}

/// What [`disconnect`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisconnectReport {
    /// The trigger, then the webhooks.
    pub removed: Vec<Removed>,
    /// `kind/key` of each link deleted.
    pub links_removed: Vec<String>,
}

impl DisconnectReport {
    /// Whether there was nothing to remove (nothing was provisioned).
    pub fn is_noop(&self) -> bool {
        self.removed.is_empty() && self.links_removed.is_empty()
    }
}

/// The endpoint for a public base URL: `{public_url}/zendesk/webhook` (a URL that already
/// ends with that path is taken as it is).
pub fn webhook_endpoint(public_url: &str) -> Result<Url, ProvisionError> {
    let trimmed = public_url.trim().trim_end_matches('/');
    let full = if trimmed.ends_with(WEBHOOK_PATH) {
        trimmed.to_string()
    } else {
        format!("{trimmed}{WEBHOOK_PATH}")
    };
    let url = Url::parse(&full).map_err(|e| ProvisionError::Endpoint {
        endpoint: public_url.to_string(),
        reason: format!("not a URL ({e}); give the base URL, like https://deskline.example.com"),
    })?;
    check_endpoint(&url)?;
    Ok(url)
}

/// An endpoint Zendesk can call and that carries nothing secret.
fn check_endpoint(url: &Url) -> Result<(), ProvisionError> {
    let bad = |reason: &str| ProvisionError::Endpoint {
        endpoint: url.to_string(),
        reason: reason.to_string(),
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("it must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "it must not contain credentials: deskline verifies Zendesk's signature instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok(())
}

fn webhook_definition(name: &str, endpoint: &Url, subscriptions: &[&str]) -> NewWebhook {
    NewWebhook {
        name: name.to_string(),
        description: Some(DESCRIPTION.to_string()),
        endpoint: endpoint.to_string(),
        http_method: "POST".to_string(),
        request_format: "json".to_string(),
        status: "active".to_string(),
        subscriptions: subscriptions.iter().map(|s| s.to_string()).collect(),
    }
}

/// The reply trigger, sending through the webhook `replies_webhook_id`.
fn trigger_definition(replies_webhook_id: &str) -> NewTrigger {
    NewTrigger {
        title: REPLY_TRIGGER_NAME.to_string(),
        description: Some(DESCRIPTION.to_string()),
        active: true,
        conditions: TriggerConditions {
            all: vec![
                // Updates only: a ticket's first comment is the customer's request.
                TriggerCondition::new("update_type", "is", "Change"),
                // Public replies only: internal notes never reach the customer's channel.
                TriggerCondition::new("comment_is_public", "is", "true"),
                // Not deskline's own API writes (via web service), which would loop back.
                TriggerCondition::new("current_via_id", "is_not", VIA_WEB_SERVICE),
            ],
            any: Vec::new(),
        },
        actions: vec![TriggerAction::notify_webhook(
            replies_webhook_id,
            REPLY_TRIGGER_BODY,
        )],
        category_id: None,
    }
}

fn text_or_empty(s: Option<&str>) -> &str {
    s.unwrap_or_default().trim()
}

fn sorted(list: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = list.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether an existing webhook already is `want` (nothing to send).
fn webhook_matches(have: &Webhook, want: &NewWebhook) -> bool {
    have.name == want.name
        && text_or_empty(have.description.as_deref()) == text_or_empty(want.description.as_deref())
        && have.endpoint == want.endpoint
        && have.http_method.eq_ignore_ascii_case(&want.http_method)
        && have.request_format == want.request_format
        && have.status == want.status
        && sorted(&have.subscriptions) == sorted(&want.subscriptions)
        // deskline's webhooks send no credentials and no extra headers.
        && have
            .authentication
            .as_ref()
            .is_none_or(|a| a.auth_type.is_none())
        && have.custom_headers.is_empty()
}

/// A condition or action value as text, so `5`, `"5"` and `" 5 "` compare equal: Zendesk
/// shows some values (via types) as numbers while they are sent as strings.
fn normal(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.trim().to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Null => Value::String(String::new()),
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        Value::Object(_) => v.clone(),
    }
}

fn condition_keys(list: &[TriggerCondition]) -> Vec<(String, String, String)> {
    let mut keys: Vec<(String, String, String)> = list
        .iter()
        .map(|c| {
            (
                c.field.clone(),
                // Zendesk's examples leave the operator out of `update_type`; "is" is meant.
                c.operator.clone().unwrap_or_else(|| "is".to_string()),
                normal(&c.value).to_string(),
            )
        })
        .collect();
    keys.sort();
    keys
}

fn action_keys(list: &[TriggerAction]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = list
        .iter()
        .map(|a| (a.field.clone(), normal(&a.value).to_string()))
        .collect();
    keys.sort();
    keys
}

/// Whether an existing trigger already is `want` (its position and category are its own).
fn trigger_matches(have: &Trigger, want: &NewTrigger) -> bool {
    have.title == want.title
        && text_or_empty(have.description.as_deref()) == text_or_empty(want.description.as_deref())
        && have.active == want.active
        && condition_keys(&have.conditions.all) == condition_keys(&want.conditions.all)
        && condition_keys(&have.conditions.any) == condition_keys(&want.conditions.any)
        && action_keys(&have.actions) == action_keys(&want.actions)
}

/// The one of `found` to manage: the recorded id if it is among them, else the oldest; the
/// others are reported as duplicates.
fn choose<'a, T>(
    found: Vec<&'a T>,
    recorded: Option<&str>,
    id_of: impl Fn(&T) -> String,
) -> (Option<&'a T>, Vec<&'a T>) {
    let index = recorded
        .and_then(|r| found.iter().position(|x| id_of(x) == r))
        .unwrap_or(0);
    let mut rest = found;
    if rest.is_empty() {
        return (None, rest);
    }
    let chosen = rest.remove(index);
    (Some(chosen), rest)
}

/// Reads a link's value.
async fn link_value(
    store: &dyn Store,
    kind: &str,
    key: &str,
) -> Result<Option<String>, ProvisionError> {
    Ok(store
        .get_link(kind, key)
        .await
        .map_err(store_err(format!("read the link {kind}/{key}")))?
        .map(|l| l.value))
}

/// Writes a link unless it already holds `value`, so a second run leaves the store as it was.
async fn put_if_changed(
    store: &dyn Store,
    (kind, key): (&str, &str),
    value: &str,
    now: DateTime<Utc>,
    written: &mut Vec<String>,
) -> Result<(), ProvisionError> {
    if link_value(store, kind, key).await?.as_deref() == Some(value) {
        return Ok(());
    }
    store
        .put_link(kind, key, value, now)
        .await
        .map_err(store_err(format!("store the link {kind}/{key}")))?;
    written.push(format!("{kind}/{key}"));
    Ok(())
}

/// One webhook to make sure of.
struct WebhookSpec {
    name: &'static str,
    subscriptions: &'static [&'static str],
    id_key: &'static str,
    secret_link: (&'static str, &'static str),
}

async fn ensure_webhook(
    client: &ZendeskClient,
    store: &dyn Store,
    existing: &[Webhook],
    spec: &WebhookSpec,
    endpoint: &Url,
    now: DateTime<Utc>,
    report: &mut ProvisionReport,
) -> Result<String, ProvisionError> {
    let name = spec.name;
    let want = webhook_definition(name, endpoint, spec.subscriptions);
    let recorded = link_value(store, PROVISION_LINK_KIND, spec.id_key).await?;
    let same_name: Vec<&Webhook> = existing.iter().filter(|w| w.name == name).collect();
    let (found, duplicates) = choose(same_name, recorded.as_deref(), |w| w.id.clone());
    report.duplicates.extend(
        duplicates
            .iter()
            .map(|w| format!("webhook {name:?} {} (left alone)", w.id)),
    );
    let want_trigger_connected = spec.subscriptions == [CONDITIONAL_TICKET_EVENTS];
    let (id, change) = match found {
        Some(w) if webhook_matches(w, &want) => (w.id.clone(), Change::Unchanged),
        Some(w) if w.is_trigger_connected() == want_trigger_connected => {
            client
                .update_webhook(&w.id, &want)
                .await
                .map_err(zendesk(format!("update the webhook {name:?} ({})", w.id)))?;
            (w.id.clone(), Change::Updated)
        }
        Some(w) => {
            // Zendesk cannot change how a webhook is connected; a webhook of this name is
            // deskline's, so it is replaced.
            client.delete_webhook(&w.id).await.map_err(zendesk(format!(
                "delete the webhook {name:?} ({}) to replace it",
                w.id
            )))?;
            let created = client
                .create_webhook(&want)
                .await
                .map_err(zendesk(format!("create the webhook {name:?}")))?;
            (created.id, Change::Replaced)
        }
        None => {
            let created = client
                .create_webhook(&want)
                .await
                .map_err(zendesk(format!("create the webhook {name:?}")))?;
            (created.id, Change::Created)
        }
    };
    // Recorded at once, so a later failure still leaves it for `disconnect` to find.
    put_if_changed(
        store,
        (PROVISION_LINK_KIND, spec.id_key),
        &id,
        now,
        &mut report.links_written,
    )
    .await?;
    let secret = client
        .webhook_signing_secret(&id)
        .await
        .map_err(zendesk(format!(
            "read the signing secret of the webhook {name:?}"
        )))?;
    put_if_changed(
        store,
        spec.secret_link,
        secret.secret.expose(),
        now,
        &mut report.links_written,
    )
    .await?;
    report.objects.push(Provisioned {
        kind: ObjectKind::Webhook,
        name,
        id: id.clone(),
        change,
    });
    Ok(id)
}

async fn ensure_trigger(
    client: &ZendeskClient,
    store: &dyn Store,
    replies_webhook_id: &str,
    now: DateTime<Utc>,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    let name = REPLY_TRIGGER_NAME;
    let want = trigger_definition(replies_webhook_id);
    let existing = client
        .list_triggers()
        .await
        .map_err(zendesk("list the account's triggers"))?;
    let recorded = link_value(store, PROVISION_LINK_KIND, REPLY_TRIGGER_ID_KEY).await?;
    let same_name: Vec<&Trigger> = existing.iter().filter(|t| t.title == name).collect();
    let (found, duplicates) = choose(same_name, recorded.as_deref(), |t| t.id.to_string());
    report.duplicates.extend(
        duplicates
            .iter()
            .map(|t| format!("trigger {name:?} {} (left alone)", t.id)),
    );
    let (id, change) = match found {
        Some(t) if trigger_matches(t, &want) => (t.id, Change::Unchanged),
        Some(t) => {
            client
                .update_trigger(t.id, &want)
                .await
                .map_err(zendesk(format!("update the trigger {name:?} ({})", t.id)))?;
            (t.id, Change::Updated)
        }
        None => {
            let created = client
                .create_trigger(&want)
                .await
                .map_err(zendesk(format!("create the trigger {name:?}")))?;
            (created.id, Change::Created)
        }
    };
    put_if_changed(
        store,
        (PROVISION_LINK_KIND, REPLY_TRIGGER_ID_KEY),
        &id.to_string(),
        now,
        &mut report.links_written,
    )
    .await?;
    report.objects.push(Provisioned {
        kind: ObjectKind::Trigger,
        name,
        id: id.to_string(),
        change,
    });
    Ok(())
}

/// Creates, updates or leaves alone deskline's two webhooks (calling `endpoint`) and its reply
/// trigger, stores both webhooks' signing secrets where `/zendesk/webhook` reads them, and
/// records the three ids. Running it again with nothing changed sends no write at all.
///
/// Each webhook's secret is stored right after the webhook is made and before the trigger
/// exists, so the first deliveries already find it.
pub async fn provision(
    client: &ZendeskClient,
    store: &dyn Store,
    endpoint: &Url,
    now: DateTime<Utc>,
) -> Result<ProvisionReport, ProvisionError> {
    check_endpoint(endpoint)?;
    let mut report = ProvisionReport {
        endpoint: endpoint.to_string(),
        objects: Vec::new(),
        links_written: Vec::new(),
        duplicates: Vec::new(),
    };
    let webhooks = client
        .list_webhooks()
        .await
        .map_err(zendesk("list the account's webhooks"))?;
    let replies = WebhookSpec {
        name: REPLIES_WEBHOOK_NAME,
        subscriptions: &[CONDITIONAL_TICKET_EVENTS],
        id_key: REPLIES_WEBHOOK_ID_KEY,
        secret_link: SIGNING_SECRET_LINK,
    };
    let events = WebhookSpec {
        name: EVENTS_WEBHOOK_NAME,
        subscriptions: EVENT_TYPES,
        id_key: EVENTS_WEBHOOK_ID_KEY,
        secret_link: EVENTS_SIGNING_SECRET_LINK,
    };
    let replies_id = ensure_webhook(
        client,
        store,
        &webhooks,
        &replies,
        endpoint,
        now,
        &mut report,
    )
    .await?;
    ensure_webhook(
        client,
        store,
        &webhooks,
        &events,
        endpoint,
        now,
        &mut report,
    )
    .await?;
    ensure_trigger(client, store, &replies_id, now, &mut report).await?;
    Ok(report)
}

/// Deletes a link if present; records it in `removed`.
async fn delete_link(
    store: &dyn Store,
    (kind, key): (&str, &str),
    removed: &mut Vec<String>,
) -> Result<(), ProvisionError> {
    let existed = store
        .delete_link(kind, key)
        .await
        .map_err(store_err(format!("delete the link {kind}/{key}")))?;
    if existed {
        removed.push(format!("{kind}/{key}"));
    }
    Ok(())
}

/// Removes exactly what [`provision`] made: the reply trigger first (so it never points at a
/// deleted webhook), then the two webhooks, each found by its recorded id or, when that link
/// is gone, by its exact name; then the links provisioning wrote. Nothing else is touched.
/// With nothing provisioned it changes nothing ([`DisconnectReport::is_noop`]).
pub async fn disconnect(
    client: &ZendeskClient,
    store: &dyn Store,
) -> Result<DisconnectReport, ProvisionError> {
    let mut report = DisconnectReport::default();

    let name = REPLY_TRIGGER_NAME;
    // A recorded id that is not a number cannot be Zendesk's; the name finds the trigger then.
    let recorded = link_value(store, PROVISION_LINK_KIND, REPLY_TRIGGER_ID_KEY)
        .await?
        .and_then(|id| id.trim().parse::<u64>().ok());
    let trigger_ids: Vec<u64> = match recorded {
        Some(id) => vec![id],
        None => client
            .list_triggers()
            .await
            .map_err(zendesk("list the account's triggers"))?
            .into_iter()
            .filter(|t| t.title == name)
            .map(|t| t.id)
            .collect(),
    };
    for id in trigger_ids {
        let existed = match client.delete_trigger(id).await {
            Ok(()) => true,
            Err(ZendeskError::NotFound { .. }) => false,
            Err(e) => return Err(zendesk(format!("delete the trigger {name:?} ({id})"))(e)),
        };
        report.removed.push(Removed {
            kind: ObjectKind::Trigger,
            name,
            id: id.to_string(),
            existed,
        });
    }
    delete_link(
        store,
        (PROVISION_LINK_KIND, REPLY_TRIGGER_ID_KEY),
        &mut report.links_removed,
    )
    .await?;

    // Listed at most once, and only when a webhook's id was not recorded.
    let mut listed: Option<Vec<Webhook>> = None;
    for (name, id_key, secret_link) in [
        (
            REPLIES_WEBHOOK_NAME,
            REPLIES_WEBHOOK_ID_KEY,
            SIGNING_SECRET_LINK,
        ),
        (
            EVENTS_WEBHOOK_NAME,
            EVENTS_WEBHOOK_ID_KEY,
            EVENTS_SIGNING_SECRET_LINK,
        ),
    ] {
        let ids: Vec<String> = match link_value(store, PROVISION_LINK_KIND, id_key).await? {
            Some(id) if !id.trim().is_empty() => vec![id.trim().to_string()],
            _ => {
                if listed.is_none() {
                    listed = Some(
                        client
                            .list_webhooks()
                            .await
                            .map_err(zendesk("list the account's webhooks"))?,
                    );
                }
                listed
                    .iter()
                    .flatten()
                    .filter(|w| w.name == name)
                    .map(|w| w.id.clone())
                    .collect()
            }
        };
        for id in ids {
            let existed = match client.delete_webhook(&id).await {
                Ok(()) => true,
                Err(ZendeskError::NotFound { .. }) => false,
                Err(e) => return Err(zendesk(format!("delete the webhook {name:?} ({id})"))(e)),
            };
            report.removed.push(Removed {
                kind: ObjectKind::Webhook,
                name,
                id,
                existed,
            });
        }
        delete_link(
            store,
            (PROVISION_LINK_KIND, id_key),
            &mut report.links_removed,
        )
        .await?;
        delete_link(store, secret_link, &mut report.links_removed).await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskline_zendesk::WebhookAuthentication;
    use serde_json::json;

    #[test]
    fn the_reply_body_is_json_naming_the_event_and_only_public_comments() {
        let body: Value = serde_json::from_str(REPLY_TRIGGER_BODY).unwrap_or_default();
        assert_eq!(body["deskline_event"], REPLY_EVENT);
        assert_eq!(
            body["latest_public_comment"],
            "{{ticket.latest_public_comment}}"
        );
        assert!(!REPLY_TRIGGER_BODY.contains("latest_comment}}"));
        for key in [
            "ticket_id",
            "external_id",
            "status",
            "current_user_id",
            "updated_at",
        ] {
            assert!(body[key].is_string(), "{key}");
        }
    }

    #[test]
    fn endpoints() {
        let ok = |u: &str| webhook_endpoint(u).map(|u| u.to_string()).ok();
        let want = Some("https://d.example/zendesk/webhook".to_string());
        assert_eq!(ok("https://d.example"), want);
        assert_eq!(ok(" https://d.example/ "), want);
        assert_eq!(ok("https://d.example/zendesk/webhook"), want);
        assert_eq!(
            ok("https://d.example/desk").as_deref(),
            Some("https://d.example/desk/zendesk/webhook")
        );
        for bad in [
            "d.example",
            "ftp://d.example",
            "https://u:p@d.example",
            "https://d.example/?x=1",
        ] {
            assert!(webhook_endpoint(bad).is_err(), "{bad}");
        }
    }

    fn existing_webhook(want: &NewWebhook) -> Webhook {
        Webhook {
            id: "01A".into(),
            name: want.name.clone(),
            description: want.description.clone(),
            endpoint: want.endpoint.clone(),
            http_method: want.http_method.clone(),
            request_format: want.request_format.clone(),
            status: want.status.clone(),
            subscriptions: want.subscriptions.iter().rev().cloned().collect(),
            ..Default::default()
        }
    }

    #[test]
    fn webhooks_match_only_when_every_setting_does() {
        let endpoint = webhook_endpoint("https://d.example").unwrap_or_else(|e| panic!("{e}"));
        let want = webhook_definition(EVENTS_WEBHOOK_NAME, &endpoint, EVENT_TYPES);
        let have = existing_webhook(&want);
        assert!(
            webhook_matches(&have, &want),
            "subscription order is not a change"
        );
        let drifted: Vec<Webhook> = vec![
            Webhook {
                endpoint: "https://old.example/zendesk/webhook".into(),
                ..have.clone()
            },
            Webhook {
                status: "inactive".into(),
                ..have.clone()
            },
            Webhook {
                subscriptions: vec![EVENT_TYPES[0].into()],
                ..have.clone()
            },
            Webhook {
                authentication: Some(WebhookAuthentication {
                    auth_type: Some("bearer_token".into()),
                    add_position: Some("header".into()),
                }),
                ..have.clone()
            },
            Webhook {
                custom_headers: [("X-Env".to_string(), "prod".to_string())].into(),
                ..have.clone()
            },
        ];
        for d in drifted {
            assert!(!webhook_matches(&d, &want), "{d:?}");
        }
    }

    #[test]
    fn triggers_match_across_zendesks_value_forms() {
        let want = trigger_definition("01A");
        // As Zendesk may show it: via ids as numbers, conditions in another order, no
        // operator on update_type, a category and position of its own.
        let have: Trigger = serde_json::from_value(json!({"id": 9, "title": REPLY_TRIGGER_NAME,
            "description": DESCRIPTION, "active": true, "position": 12, "category_id": "10026",
            "conditions": {"all": [
                {"field": "current_via_id", "operator": "is_not", "value": 5},
                {"field": "comment_is_public", "operator": "is", "value": true},
                {"field": "update_type", "value": "Change"}], "any": []},
            "actions": [{"field": "notification_webhook", "value": ["01A", REPLY_TRIGGER_BODY]}]}))
        .unwrap_or_default();
        assert!(trigger_matches(&have, &want));
        let other_hook = trigger_definition("01B");
        assert!(!trigger_matches(&have, &other_hook));
        let inactive = Trigger {
            active: false,
            ..have.clone()
        };
        assert!(!trigger_matches(&inactive, &want));
        let mut loose = have.clone();
        loose.conditions.all.pop();
        assert!(!trigger_matches(&loose, &want));
    }

    #[test]
    fn the_recorded_duplicate_is_the_one_managed() {
        let items = ["a", "b", "c"];
        let refs: Vec<&&str> = items.iter().collect();
        let (chosen, rest) = choose(refs.clone(), Some("b"), |s| s.to_string());
        assert_eq!(chosen, Some(&"b"));
        assert_eq!(rest, vec![&"a", &"c"]);
        let (chosen, _) = choose(refs, Some("z"), |s| s.to_string());
        assert_eq!(chosen, Some(&"a"));
        let (none, rest) = choose(Vec::<&&str>::new(), None, |s| s.to_string());
        assert!(none.is_none() && rest.is_empty());
    }
}
