//! Event-subscription payloads (`zen:event-type:ticket.*`) for webhooks subscribed to event
//! types instead of triggers.
//!
//! The envelope follows Zendesk's documented example (reference §6.3); the ticket event
//! shapes (`status_changed` upper-case values, `comment_added`'s `comment` object) come from
//! third-party handlers and are UNVERIFIED. The sandbox emits three event types; a webhook may
//! subscribe to any other `zen:event-type:...` but receives nothing for it.

use serde_json::{json, Value};

use crate::change::{Outbound, TicketChange, UpdateType};
use crate::model::{Account, Ticket};
use crate::render::timestamp;
use crate::tickets::STATUSES;

/// A ticket was created.
pub const TICKET_CREATED: &str = "zen:event-type:ticket.created";
/// A ticket's status changed.
pub const TICKET_STATUS_CHANGED: &str = "zen:event-type:ticket.status_changed";
/// A comment was added to a ticket.
pub const TICKET_COMMENT_ADDED: &str = "zen:event-type:ticket.comment_added";
/// The version Zendesk sends for ticket events (third-party captures).
const EVENT_VERSION: &str = "2022-11-06";

/// A random version-4 UUID in its usual text form, for event and sequence ids.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn id_text(id: Option<u64>) -> Value {
    id.map_or(Value::Null, |i| json!(i.to_string()))
}

fn upper(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| json!(s.to_ascii_uppercase()))
}

/// The ticket snapshot in `detail`: ids as strings, enumerations upper-case. `custom_status`
/// stands for the status's default custom status; the sandbox numbers them 1 (new) to 6
/// (closed), since it has no custom statuses.
pub fn detail(change: &TicketChange, t: &Ticket) -> Value {
    let custom_status = STATUSES
        .iter()
        .position(|s| *s == t.status)
        .map(|i| (i + 1).to_string());
    json!({
        "actor_id": change.actor_id.to_string(),
        "assignee_id": id_text(t.assignee_id),
        "brand_id": "1",
        "created_at": timestamp(t.created_at),
        "custom_status": custom_status,
        "description": t.description,
        "external_id": t.external_id,
        "form_id": null,
        "group_id": id_text(t.group_id),
        "id": t.id.to_string(),
        "is_public": t.comments.iter().any(|c| c.public),
        "organization_id": id_text(t.organization_id),
        "priority": upper(t.priority.as_deref()),
        "requester_id": t.requester_id.to_string(),
        "status": t.status.to_ascii_uppercase(),
        "subject": t.subject,
        "submitter_id": t.submitter_id.to_string(),
        "tags": t.tags,
        "type": upper(t.ticket_type.as_deref()),
        "updated_at": timestamp(t.updated_at),
        "via": {"channel": t.via.channel},
    })
}

/// The events a change produces, in order, without `meta`: `ticket.created` for a create;
/// for an update, `ticket.status_changed` when the status differs from before the update
/// (trigger actions included) and one `ticket.comment_added` per comment added. Comments
/// added by a create are its description, so a create sends only `ticket.created`.
pub fn ticket_events(
    account: &Account,
    change: &TicketChange,
    t: &Ticket,
) -> Vec<(&'static str, Value)> {
    let mut events = Vec::new();
    match change.update_type {
        UpdateType::Create => events.push((TICKET_CREATED, json!({}))),
        UpdateType::Change => {
            if let Some(before) = change.before.as_ref().filter(|b| b.status != t.status) {
                events.push((
                    TICKET_STATUS_CHANGED,
                    json!({
                        "current": t.status.to_ascii_uppercase(),
                        "previous": before.status.to_ascii_uppercase(),
                    }),
                ));
            }
            for c in t
                .comments
                .iter()
                .filter(|c| change.comment_ids.contains(&c.id))
            {
                let author = account.users.get(&c.author_id);
                events.push((
                    TICKET_COMMENT_ADDED,
                    json!({"comment": {
                        "id": c.id.to_string(),
                        "body": c.body,
                        "is_public": c.public,
                        "author": {
                            "id": c.author_id.to_string(),
                            "is_staff": author.is_some_and(|u| u.role.is_staff()),
                            "name": author.map(|u| u.name.clone()),
                        },
                    }}),
                ));
            }
        }
    }
    events
}

/// The full envelope of one event.
pub fn envelope(
    event_type: &str,
    account_id: u64,
    event_id: &str,
    sequence: (&str, usize),
    change: &TicketChange,
    t: &Ticket,
    mut event: Value,
) -> Value {
    if let Some(obj) = event.as_object_mut() {
        obj.insert(
            "meta".into(),
            json!({"sequence": {"id": sequence.0, "position": sequence.1}}),
        );
    }
    json!({
        "type": event_type,
        "account_id": account_id,
        "id": event_id,
        "time": timestamp(change.at),
        "zendesk_event_version": EVENT_VERSION,
        "subject": format!("zen:ticket:{}", t.id),
        "detail": detail(change, t),
        "event": event,
    })
}

/// The requests for every active webhook subscribed to the change's events. Events of one
/// change share a sequence id and are numbered from 1; every subscriber of an event gets the
/// same event id, which receivers use to drop duplicates.
pub fn outbound(
    account: &Account,
    account_id: u64,
    change: &TicketChange,
    t: &Ticket,
) -> Vec<Outbound> {
    let subscribers: Vec<_> = account
        .webhooks
        .values()
        .filter(|w| w.status == "active" && !super::is_conditional(w))
        .collect();
    if subscribers.is_empty() {
        return Vec::new();
    }
    let sequence_id = uuid_v4();
    let mut out = Vec::new();
    for (i, (event_type, event)) in ticket_events(account, change, t).into_iter().enumerate() {
        let targets: Vec<_> = subscribers
            .iter()
            .filter(|w| w.subscriptions.iter().any(|s| s == event_type))
            .collect();
        if targets.is_empty() {
            continue;
        }
        let body = envelope(
            event_type,
            account_id,
            &uuid_v4(),
            (&sequence_id, i + 1),
            change,
            t,
            event,
        )
        .to_string();
        for w in targets {
            out.push(Outbound {
                webhook_id: w.id.clone(),
                body: body.clone(),
                trigger_id: None,
                event_type: Some(event_type.to_string()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{account, change, ticket};

    #[test]
    fn envelopes_have_the_documented_shape() {
        let account = account();
        let mut t = ticket();
        t.status = "pending".into();
        t.comments[0].public = true;
        let ch = change(Some("open"), vec![100], 0, 2);
        let events = ticket_events(&account, &ch, &t);
        let types: Vec<&str> = events.iter().map(|(ty, _)| *ty).collect();
        assert_eq!(types, [TICKET_STATUS_CHANGED, TICKET_COMMENT_ADDED]);
        assert_eq!(
            events[0].1,
            json!({"current": "PENDING", "previous": "OPEN"})
        );
        let comment = &events[1].1["comment"];
        assert_eq!(comment["id"], "100");
        assert_eq!(comment["is_public"], true);
        assert_eq!(
            comment["author"],
            json!({"id": "2", "is_staff": true, "name": "Agent Smith"})
        );

        let env = envelope(
            TICKET_STATUS_CHANGED,
            42,
            "e1",
            ("s1", 1),
            &ch,
            &t,
            events[0].1.clone(),
        );
        assert_eq!(env["subject"], "zen:ticket:1");
        assert_eq!(env["account_id"], 42);
        assert_eq!(env["zendesk_event_version"], "2022-11-06");
        assert_eq!(
            env["event"]["meta"]["sequence"],
            json!({"id": "s1", "position": 1})
        );
        let d = &env["detail"];
        assert_eq!(d["id"], "1");
        assert_eq!(d["status"], "PENDING");
        assert_eq!(d["requester_id"], "3");
        assert_eq!(d["assignee_id"], Value::Null);
        assert_eq!(d["via"]["channel"], "api");
        assert_eq!(d["external_id"], "ext-1");
    }

    #[test]
    fn only_event_subscribers_receive_events() {
        let account = account();
        let t = ticket();
        let mut ch = change(None, vec![], 5, 1);
        ch.update_type = UpdateType::Create;
        let out = outbound(&account, 1, &ch, &t);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].webhook_id, "EVENTS");
        assert_eq!(out[0].event_type.as_deref(), Some(TICKET_CREATED));
        let body: Value = serde_json::from_str(&out[0].body).expect("json");
        assert_eq!(body["type"], TICKET_CREATED);
        let id = body["id"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
