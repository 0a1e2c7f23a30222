//! What changed on a ticket, handed to triggers and event subscriptions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::Ticket;

/// Whether the ticket was just created or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateType {
    /// The ticket was created by this request.
    Create,
    /// An existing ticket was updated.
    Change,
}

impl UpdateType {
    /// Zendesk's condition value (`Create` / `Change`).
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateType::Create => "Create",
            UpdateType::Change => "Change",
        }
    }
}

/// The ticket's properties before an update, to compare against.
#[derive(Clone, Debug)]
pub struct TicketSnapshot {
    /// Status before.
    pub status: String,
    /// Priority before.
    pub priority: Option<String>,
    /// Assignee before.
    pub assignee_id: Option<u64>,
    /// Group before.
    pub group_id: Option<u64>,
    /// Tags before.
    pub tags: Vec<String>,
    /// Custom field values before.
    pub custom_fields: BTreeMap<u64, Value>,
}

impl TicketSnapshot {
    /// Captures a ticket's current properties.
    pub fn of(t: &Ticket) -> TicketSnapshot {
        TicketSnapshot {
            status: t.status.clone(),
            priority: t.priority.clone(),
            assignee_id: t.assignee_id,
            group_id: t.group_id,
            tags: t.tags.clone(),
            custom_fields: t.custom_fields.clone(),
        }
    }
}

/// One create or update of a ticket, as business rules see it.
#[derive(Clone, Debug)]
pub struct TicketChange {
    /// The ticket.
    pub ticket_id: u64,
    /// Create or change.
    pub update_type: UpdateType,
    /// The user who made the change (`current_user`).
    pub actor_id: u64,
    /// How the change came in: 5 through the API, 0 in the agent interface.
    pub via_id: u32,
    /// The ticket before the change; `None` for a create.
    pub before: Option<TicketSnapshot>,
    /// Comments added by this change, in order.
    pub comment_ids: Vec<u64>,
    /// When the change happened.
    pub at: DateTime<Utc>,
}

/// A webhook request to send, produced by a trigger or an event subscription.
#[derive(Clone, Debug)]
pub struct Outbound {
    /// The webhook to send through.
    pub webhook_id: String,
    /// The body, already rendered.
    pub body: String,
    /// The trigger that fired, if any.
    pub trigger_id: Option<u64>,
    /// The event type for event-subscription webhooks (`zen:event-type:ticket.created`, ...).
    pub event_type: Option<String>,
}
