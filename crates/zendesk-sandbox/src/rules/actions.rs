//! Trigger actions: the ones the sandbox performs, checked when a trigger is saved and applied
//! to the ticket when it fires.

use serde_json::Value;

use crate::model::{Account, Action, Ticket};
use crate::tickets::normalise_tags;

use super::CONDITIONAL_TICKET_EVENTS;

/// Action fields the sandbox performs.
pub const SUPPORTED_FIELDS: &[&str] = &[
    "notification_webhook",
    "current_tags",
    "remove_tags",
    "set_tags",
    "status",
    "priority",
    "group_id",
    "assignee_id",
];

/// Statuses a trigger may set (a ticket never goes back to `new`).
const SETTABLE_STATUSES: &[&str] = &["open", "pending", "hold", "solved", "closed"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// An action, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send `body` (a template with placeholders) through a webhook.
    Notify {
        /// The webhook's id.
        webhook_id: String,
        /// The body template.
        body: String,
    },
    /// Add tags.
    AddTags(Vec<String>),
    /// Remove tags.
    RemoveTags(Vec<String>),
    /// Replace all tags.
    SetTags(Vec<String>),
    /// Set the status.
    Status(String),
    /// Set or clear the priority.
    Priority(Option<String>),
    /// Set or clear the group.
    Group(Option<u64>),
    /// Set or clear the assignee.
    Assignee(Assignee),
}

/// Who an `assignee_id` action assigns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Assignee {
    /// The user who made the change, when they are staff.
    CurrentUser,
    /// A given agent.
    User(u64),
    /// Nobody.
    Nobody,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn tags(field: &str, v: &Value) -> Result<Vec<String>, String> {
    let tags = match v {
        Value::String(s) => normalise_tags([s.as_str()]),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            normalise_tags(items.iter().filter_map(Value::as_str))
        }
        _ => Vec::new(),
    };
    if tags.is_empty() && field != "set_tags" {
        return Err(format!(
            "action {field}: value must be space-separated tags, got {v}"
        ));
    }
    Ok(tags)
}

fn one_of(field: &str, v: &Value, allowed: &[&str]) -> Result<String, String> {
    let s = text(v).unwrap_or_default().to_ascii_lowercase();
    if allowed.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(format!(
            "action {field}: {v} is not one of {}",
            allowed.join(", ")
        ))
    }
}

/// Parses an action against the account (webhooks, groups and agents must exist). The error
/// names the field and the problem.
pub fn parse(a: &Action, account: &Account) -> Result<Effect, String> {
    let field = a.field.as_str();
    let v = &a.value;
    match field {
        "notification_webhook" => {
            let pair = v.as_array().filter(|p| p.len() == 2);
            let (Some(id), Some(body)) = (
                pair.and_then(|p| p[0].as_str()),
                pair.and_then(|p| p[1].as_str()),
            ) else {
                return Err(format!(
                    "action notification_webhook: value must be [webhook_id, body] (two strings), got {v}"
                ));
            };
            let Some(webhook) = account.webhooks.get(id) else {
                return Err(format!(
                    "action notification_webhook: webhook {id} does not exist"
                ));
            };
            if !super::is_conditional(webhook) {
                return Err(format!(
                    "action notification_webhook: webhook {id} is subscribed to event types, not to \"{CONDITIONAL_TICKET_EVENTS}\", so a trigger cannot use it"
                ));
            }
            Ok(Effect::Notify {
                webhook_id: id.to_string(),
                body: body.to_string(),
            })
        }
        "current_tags" => Ok(Effect::AddTags(tags(field, v)?)),
        "remove_tags" => Ok(Effect::RemoveTags(tags(field, v)?)),
        "set_tags" => Ok(Effect::SetTags(tags(field, v)?)),
        "status" => Ok(Effect::Status(one_of(field, v, SETTABLE_STATUSES)?)),
        "priority" => match text(v).as_deref() {
            Some("") => Ok(Effect::Priority(None)),
            _ => Ok(Effect::Priority(Some(one_of(field, v, PRIORITIES)?))),
        },
        "group_id" => match text(v).as_deref() {
            Some("") => Ok(Effect::Group(None)),
            Some(s) => match s.parse::<u64>() {
                Ok(id) if account.groups.contains_key(&id) => Ok(Effect::Group(Some(id))),
                _ => Err(format!("action group_id: group {v} does not exist")),
            },
            None => Err(format!(
                "action group_id: value must be a group id, got {v}"
            )),
        },
        "assignee_id" => match text(v).as_deref() {
            Some("") => Ok(Effect::Assignee(Assignee::Nobody)),
            Some("current_user") => Ok(Effect::Assignee(Assignee::CurrentUser)),
            Some(s) => match s.parse::<u64>() {
                Ok(id) if account.users.get(&id).is_some_and(|u| u.role.is_staff()) => {
                    Ok(Effect::Assignee(Assignee::User(id)))
                }
                _ => Err(format!("action assignee_id: {v} is not an agent")),
            },
            None => Err(format!(
                "action assignee_id: value must be an agent id, \"current_user\" or \"\", got {v}"
            )),
        },
        other => Err(format!(
            "action field {other:?} is not supported by the sandbox (supported: {})",
            SUPPORTED_FIELDS.join(", ")
        )),
    }
}

/// Applies a ticket-changing effect; returns whether the ticket changed. Notifications change
/// nothing here (they are sent after the run).
pub fn apply(effect: &Effect, account: &Account, ticket: &mut Ticket, actor_id: u64) -> bool {
    let before = (
        ticket.status.clone(),
        ticket.priority.clone(),
        ticket.assignee_id,
        ticket.group_id,
        ticket.tags.clone(),
    );
    match effect {
        Effect::Notify { .. } => {}
        Effect::AddTags(add) => {
            ticket.tags = normalise_tags(ticket.tags.iter().chain(add).map(String::as_str));
        }
        Effect::RemoveTags(remove) => ticket.tags.retain(|t| !remove.contains(t)),
        Effect::SetTags(tags) => ticket.tags = tags.clone(),
        Effect::Status(s) => ticket.status = s.clone(),
        Effect::Priority(p) => ticket.priority = p.clone(),
        Effect::Group(g) => {
            ticket.group_id = *g;
            // As in Zendesk, an assignee outside the new group is removed.
            if let (Some(a), Some(g)) = (ticket.assignee_id, g) {
                if !account.is_member(a, *g) {
                    ticket.assignee_id = None;
                }
            }
        }
        Effect::Assignee(target) => {
            let id = match target {
                Assignee::Nobody => None,
                Assignee::User(id) => Some(*id),
                Assignee::CurrentUser => Some(actor_id)
                    .filter(|id| account.users.get(id).is_some_and(|u| u.role.is_staff())),
            };
            // A "current user" who is not staff cannot be assigned: the action does nothing.
            if id.is_some() || *target == Assignee::Nobody {
                ticket.assignee_id = id;
            }
            if let Some(a) = ticket.assignee_id {
                // The ticket follows the assignee into their default group unless they
                // already belong to its group.
                if !ticket.group_id.is_some_and(|g| account.is_member(a, g)) {
                    ticket.group_id = account.users.get(&a).and_then(|u| u.default_group_id);
                }
            }
        }
    }
    // A new ticket with an assignee is open, as after any update.
    if ticket.status == "new" && ticket.assignee_id.is_some() {
        ticket.status = "open".into();
    }
    before
        != (
            ticket.status.clone(),
            ticket.priority.clone(),
            ticket.assignee_id,
            ticket.group_id,
            ticket.tags.clone(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{account, ticket};
    use serde_json::json;

    fn act(field: &str, value: Value) -> Action {
        Action {
            field: field.into(),
            value,
        }
    }

    #[test]
    fn actions_parse_and_apply() {
        let account = account();
        type Check = fn(&Ticket) -> bool;
        let cases: Vec<(Action, Check)> = vec![
            (act("current_tags", json!("Synced  voice")), |t| {
                t.tags == ["existing", "synced", "voice"]
            }),
            (act("remove_tags", json!("existing")), |t| t.tags.is_empty()),
            (act("set_tags", json!(["a", "b"])), |t| t.tags == ["a", "b"]),
            (act("status", json!("pending")), |t| t.status == "pending"),
            (act("priority", json!("high")), |t| {
                t.priority.as_deref() == Some("high")
            }),
            (act("group_id", json!("7")), |t| t.group_id == Some(7)),
            (act("assignee_id", json!("current_user")), |t| {
                t.assignee_id == Some(2) && t.group_id == Some(7) && t.status == "open"
            }),
            (act("assignee_id", json!(2)), |t| t.assignee_id == Some(2)),
        ];
        for (a, check) in cases {
            let effect = parse(&a, &account).expect("parses");
            let mut t = ticket();
            t.tags = vec!["existing".into()];
            assert!(
                apply(&effect, &account, &mut t, 2),
                "{a:?} changes the ticket"
            );
            assert!(check(&t), "{a:?} gives {t:?}");
        }
    }

    #[test]
    fn bad_actions_are_named() {
        let account = account();
        let cases = [
            (
                act("notification_user", json!(["requester_id", "s", "b"])),
                "notification_user",
            ),
            (act("notification_webhook", json!(["nope", "{}"])), "nope"),
            (
                act("notification_webhook", json!(["EVENTS", "{}"])),
                "EVENTS",
            ),
            (
                act("notification_webhook", json!("HOOK")),
                "[webhook_id, body]",
            ),
            (act("status", json!("new")), "new"),
            (act("group_id", json!("999")), "999"),
            (act("assignee_id", json!("3")), "3"),
            (act("current_tags", json!("")), "current_tags"),
        ];
        for (a, named) in cases {
            let err = parse(&a, &account).expect_err("rejected");
            assert!(err.contains(named), "{err} names {named}");
        }
        assert!(parse(
            &act("notification_webhook", json!(["HOOK", "{}"])),
            &account
        )
        .is_ok());
    }
}
