//! The audit returned with a create or update.

use serde_json::{json, Value};

use super::via;
use crate::change::{TicketChange, UpdateType};
use crate::model::Account;

/// The audit Zendesk returns with a create or update: one event per changed property and
/// comment.
pub fn audit(account: &mut Account, change: &TicketChange) -> Value {
    let audit_id = account.allocate_id();
    let Some(t) = account.tickets.get(&change.ticket_id).cloned() else {
        return Value::Null;
    };
    let mut events = Vec::new();
    let mut push = |mut e: Value| {
        if let Some(obj) = e.as_object_mut() {
            obj.insert("id".into(), json!(account.allocate_id()));
        }
        events.push(e);
    };
    for c in t
        .comments
        .iter()
        .filter(|c| change.comment_ids.contains(&c.id))
    {
        push(json!({
            "type": c.kind, "author_id": c.author_id, "body": c.body,
            "html_body": c.html_body, "public": c.public, "attachments": []
        }));
    }
    let kind = if change.update_type == UpdateType::Create {
        "Create"
    } else {
        "Change"
    };
    let before = change.before.as_ref();
    let mut field = |name: &str, now: Value, was: Option<Value>| {
        if was.as_ref() != Some(&now) && !(was.is_none() && now.is_null()) {
            let mut e = json!({"type": kind, "field_name": name, "value": now});
            if let (Some(was), Some(obj)) = (was, e.as_object_mut()) {
                obj.insert("previous_value".into(), was);
            }
            push(e);
        }
    };
    field("status", json!(t.status), before.map(|b| json!(b.status)));
    field(
        "priority",
        json!(t.priority),
        before.map(|b| json!(b.priority)),
    );
    field(
        "assignee_id",
        json!(t.assignee_id),
        before.map(|b| json!(b.assignee_id)),
    );
    field(
        "group_id",
        json!(t.group_id),
        before.map(|b| json!(b.group_id)),
    );
    field("tags", json!(t.tags), before.map(|b| json!(b.tags)));
    json!({
        "id": audit_id,
        "ticket_id": t.id,
        "created_at": crate::render::timestamp(change.at),
        "author_id": change.actor_id,
        "metadata": {"system": {"client": "zendesk-sandbox"}, "custom": {}},
        "via": {"channel": via(change.via_id, json!({})).channel, "source": {"from": {}, "to": {}, "rel": null}},
        "events": events,
    })
}
