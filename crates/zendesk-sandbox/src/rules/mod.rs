//! Triggers and event subscriptions, run after every ticket create and update.
//!
//! Pure: no IO and no clock reads (the change carries its time); the only impurity is random
//! ids for event envelopes. The requests produced here are sent by `delivery` after the
//! account lock is released.

pub mod actions;
pub mod conditions;
pub mod events;
pub mod placeholders;

use crate::change::{Outbound, TicketChange};
use crate::model::{Account, Ticket, Trigger, Webhook};

use actions::Effect;
use conditions::Facts;
use placeholders::Scope;

/// The subscription of a webhook driven by triggers (rather than by event types).
pub const CONDITIONAL_TICKET_EVENTS: &str = "conditional_ticket_events";

/// Whether a webhook is connected to triggers (`["conditional_ticket_events"]`).
pub fn is_conditional(w: &Webhook) -> bool {
    w.subscriptions.len() == 1 && w.subscriptions[0] == CONDITIONAL_TICKET_EVENTS
}

/// A `notification_webhook` action of a trigger that fired, rendered after the run.
struct Notification {
    trigger_id: u64,
    webhook_id: String,
    template: String,
}

/// Runs active triggers in position order against `change` (applying their ticket actions)
/// and collects the webhook requests they and the event subscriptions produce.
///
/// Webhook bodies are rendered once the run is over, from the ticket as it will be saved, as
/// Zendesk sends notifications after the update is committed.
pub fn after_ticket_change(
    account: &mut Account,
    base_url: &str,
    account_id: u64,
    change: &TicketChange,
) -> Vec<Outbound> {
    let Some(mut ticket) = account.tickets.get(&change.ticket_id).cloned() else {
        return Vec::new();
    };
    let notifications = run_triggers(account, &mut ticket, change);
    let mut out = Vec::new();
    for n in notifications {
        // A webhook deactivated (or deleted) since the trigger was saved sends nothing.
        let Some(webhook) = account
            .webhooks
            .get(&n.webhook_id)
            .filter(|w| w.status == "active" && is_conditional(w))
        else {
            continue;
        };
        let scope = Scope {
            account,
            ticket: &ticket,
            actor_id: change.actor_id,
            base_url,
        };
        let json = webhook.request_format == "json";
        out.push(Outbound {
            webhook_id: n.webhook_id,
            body: placeholders::render(&n.template, &scope, json),
            trigger_id: Some(n.trigger_id),
            event_type: None,
        });
    }
    out.extend(events::outbound(account, account_id, change, &ticket));
    account.tickets.insert(ticket.id, ticket);
    out
}

/// Zendesk's trigger cycle: walk the active triggers by position; when one fires and changes
/// the ticket, start again from the top, skipping triggers that already fired. So every
/// trigger fires at most once per change, and each sees the ticket as earlier actions left it.
fn run_triggers(
    account: &Account,
    ticket: &mut Ticket,
    change: &TicketChange,
) -> Vec<Notification> {
    let mut order: Vec<&Trigger> = account.triggers.values().filter(|t| t.active).collect();
    order.sort_by_key(|t| (t.position, t.id));
    let mut fired: Vec<u64> = Vec::new();
    let mut notifications = Vec::new();
    'cycle: loop {
        for trigger in &order {
            if fired.contains(&trigger.id) {
                continue;
            }
            let facts = Facts {
                account,
                ticket,
                change,
            };
            if !conditions::matches(&trigger.all, &trigger.any, &facts) {
                continue;
            }
            fired.push(trigger.id);
            let mut changed = false;
            for action in &trigger.actions {
                // An action that no longer parses (its group or webhook was deleted since the
                // trigger was saved) is skipped; the others still run.
                match actions::parse(action, account) {
                    Ok(Effect::Notify { webhook_id, body }) => notifications.push(Notification {
                        trigger_id: trigger.id,
                        webhook_id,
                        template: body,
                    }),
                    Ok(effect) => {
                        changed |= actions::apply(&effect, account, ticket, change.actor_id)
                    }
                    Err(_) => {}
                }
            }
            if changed {
                continue 'cycle;
            }
        }
        break;
    }
    notifications
}

/// Small fixtures shared by the rule tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use serde_json::json;

    use crate::change::{TicketChange, TicketSnapshot, UpdateType};
    use crate::model::{
        Account, Comment, Group, GroupMembership, Role, Ticket, TicketField, User, Via, Webhook,
    };

    fn epoch() -> DateTime<Utc> {
        DateTime::UNIX_EPOCH
    }

    fn user(id: u64, name: &str, email: &str, role: Role) -> User {
        User {
            id,
            name: name.into(),
            email: Some(email.into()),
            phone: None,
            external_id: None,
            role,
            organization_id: None,
            default_group_id: None,
            time_zone: "UTC".into(),
            locale: "en-US".into(),
            tags: vec![],
            notes: String::new(),
            details: String::new(),
            user_fields: BTreeMap::new(),
            shared_phone_number: false,
            verified: true,
            active: true,
            suspended: false,
            created_at: epoch(),
            updated_at: epoch(),
            searchable_from: epoch(),
        }
    }

    fn webhook(id: &str, subscriptions: &[&str]) -> Webhook {
        Webhook {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            endpoint: "http://127.0.0.1:9/hook".into(),
            http_method: "POST".into(),
            request_format: "json".into(),
            status: "active".into(),
            subscriptions: subscriptions.iter().map(|s| s.to_string()).collect(),
            authentication: None,
            custom_headers: BTreeMap::new(),
            signing_secret: "secret".into(),
            created_at: epoch(),
            updated_at: epoch(),
            created_by: 1,
            updated_by: 1,
        }
    }

    /// Admin 1, agent 2 (member of group 7, its default), end-user 3 (requester), group 7,
    /// a trigger webhook `HOOK`, an event webhook `EVENTS`, text field 11 and ticket 1.
    pub fn account() -> Account {
        let mut a = Account::default();
        a.users
            .insert(1, user(1, "Ada Admin", "admin@example.com", Role::Admin));
        let mut agent = user(2, "Agent Smith", "agent@example.com", Role::Agent);
        agent.default_group_id = Some(7);
        a.users.insert(2, agent);
        let mut customer = user(3, "Cus Tomer", "cust@example.com", Role::EndUser);
        customer.phone = Some("+15550001".into());
        customer.external_id = Some("crm-9".into());
        a.users.insert(3, customer);
        a.groups.insert(
            7,
            Group {
                id: 7,
                name: "Support".into(),
                description: String::new(),
                default: true,
                is_public: true,
                created_at: epoch(),
                updated_at: epoch(),
            },
        );
        a.group_memberships.insert(
            8,
            GroupMembership {
                id: 8,
                user_id: 2,
                group_id: 7,
                default: true,
                created_at: epoch(),
                updated_at: epoch(),
            },
        );
        a.webhooks.insert(
            "HOOK".into(),
            webhook("HOOK", &[super::CONDITIONAL_TICKET_EVENTS]),
        );
        a.webhooks.insert(
            "EVENTS".into(),
            webhook(
                "EVENTS",
                &[
                    "zen:event-type:ticket.created",
                    "zen:event-type:ticket.comment_added",
                ],
            ),
        );
        a.ticket_fields.insert(
            11,
            TicketField {
                id: 11,
                field_type: "text".into(),
                title: "Call ID".into(),
                description: String::new(),
                active: true,
                required: false,
                options: vec![],
                regexp_for_validation: None,
                created_at: epoch(),
                updated_at: epoch(),
            },
        );
        a.tickets.insert(1, ticket());
        a
    }

    /// Ticket 1: new, created through the API, with one (private) comment 100 by agent 2.
    pub fn ticket() -> Ticket {
        let via = Via {
            id: 5,
            channel: "api".into(),
            source: json!({}),
        };
        Ticket {
            id: 1,
            subject: Some("Help".into()),
            description: "Hello".into(),
            status: "new".into(),
            priority: None,
            ticket_type: None,
            requester_id: 3,
            submitter_id: 3,
            assignee_id: None,
            group_id: None,
            organization_id: None,
            external_id: Some("ext-1".into()),
            tags: vec![],
            custom_fields: BTreeMap::new(),
            via: via.clone(),
            comments: vec![Comment {
                id: 100,
                kind: "Comment".into(),
                author_id: 2,
                body: "Hello \"there\"\nbye".into(),
                html_body: String::new(),
                plain_body: String::new(),
                public: false,
                audit_id: 0,
                via,
                data: None,
                created_at: epoch(),
            }],
            created_at: epoch(),
            updated_at: epoch(),
        }
    }

    /// An update of ticket 1 (a create when `before_status` is `None`).
    pub fn change(
        before_status: Option<&str>,
        comment_ids: Vec<u64>,
        via_id: u32,
        actor_id: u64,
    ) -> TicketChange {
        let before = before_status.map(|s| {
            let mut t = ticket();
            t.status = s.into();
            TicketSnapshot::of(&t)
        });
        TicketChange {
            ticket_id: 1,
            update_type: if before.is_some() {
                UpdateType::Change
            } else {
                UpdateType::Create
            },
            actor_id,
            via_id,
            before,
            comment_ids,
            at: epoch(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{account, change};
    use super::*;
    use crate::model::{Action, Condition};
    use serde_json::{json, Value};

    fn trigger(id: u64, position: u64, all: Vec<Condition>, actions: Vec<Action>) -> Trigger {
        Trigger {
            id,
            title: format!("t{id}"),
            description: String::new(),
            active: true,
            position,
            category_id: None,
            all,
            any: vec![],
            actions,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn cond(field: &str, operator: &str, value: Value) -> Condition {
        Condition {
            field: field.into(),
            operator: operator.into(),
            value,
        }
    }

    fn act(field: &str, value: Value) -> Action {
        Action {
            field: field.into(),
            value,
        }
    }

    #[test]
    fn the_cycle_restarts_after_a_change_and_fires_each_trigger_once() {
        let mut account = account();
        // Position 1 only matches once position 2 has tagged the ticket.
        account.triggers.insert(
            10,
            trigger(
                10,
                1,
                vec![cond("current_tags", "includes", json!("escalated"))],
                vec![act("status", json!("pending"))],
            ),
        );
        // Always matches; would loop forever if a trigger could fire twice.
        account.triggers.insert(
            11,
            trigger(
                11,
                2,
                vec![cond("update_type", "is", json!("Change"))],
                vec![
                    act("current_tags", json!("escalated")),
                    act(
                        "notification_webhook",
                        json!(["HOOK", "{{ticket.status}}|{{ticket.tags}}"]),
                    ),
                ],
            ),
        );
        let mut inactive = trigger(12, 3, vec![], vec![act("current_tags", json!("never"))]);
        inactive.active = false;
        account.triggers.insert(12, inactive);
        let out = after_ticket_change(
            &mut account,
            "http://s",
            1,
            &change(Some("new"), vec![], 0, 2),
        );
        let t = &account.tickets[&1];
        assert_eq!(t.status, "pending");
        assert_eq!(t.tags, ["escalated"]);
        let hooks: Vec<_> = out.iter().filter(|o| o.webhook_id == "HOOK").collect();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].body, "Pending|escalated");
        assert_eq!(hooks[0].trigger_id, Some(11));
    }

    #[test]
    fn inactive_webhooks_receive_nothing() {
        let mut account = account();
        account.triggers.insert(
            10,
            trigger(
                10,
                1,
                vec![cond("update_type", "is", json!("Change"))],
                vec![act("notification_webhook", json!(["HOOK", "x"]))],
            ),
        );
        for w in account.webhooks.values_mut() {
            w.status = "inactive".into();
        }
        let out = after_ticket_change(
            &mut account,
            "http://s",
            1,
            &change(Some("new"), vec![100], 0, 2),
        );
        assert!(out.is_empty(), "{out:?}");
    }
}
