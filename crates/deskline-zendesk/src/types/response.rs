//! Bodies Zendesk answers with, read leniently.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{CustomField, Priority, TicketStatus, TicketType, UserRole};

/// How a ticket or comment came in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Via {
    /// `api`, `web`, `voice`, `email`, ...
    #[serde(default, deserialize_with = "lenient_string")]
    pub channel: Option<String>,
    /// `{from, to, rel}`; its shape depends on the channel.
    #[serde(default)]
    pub source: Value,
}

/// A ticket as Zendesk returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Ticket id.
    pub id: u64,
    /// The external id it was created with.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<TicketStatus>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Type.
    #[serde(rename = "type", default)]
    pub ticket_type: Option<TicketType>,
    /// Assigned agent.
    #[serde(default)]
    pub assignee_id: Option<u64>,
    /// Assigned group.
    #[serde(default)]
    pub group_id: Option<u64>,
    /// Requester.
    #[serde(default)]
    pub requester_id: Option<u64>,
    /// Submitter.
    #[serde(default)]
    pub submitter_id: Option<u64>,
    /// Requester's organization.
    #[serde(default)]
    pub organization_id: Option<u64>,
    /// Tags.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// Custom field values.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Vec<CustomField>,
    /// How the ticket came in.
    #[serde(default)]
    pub via: Option<Via>,
    /// API URL of the ticket.
    #[serde(default)]
    pub url: Option<String>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last update time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A comment as listed by `GET /api/v2/tickets/{id}/comments`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Comment id.
    pub id: u64,
    /// `Comment` or `VoiceComment`.
    #[serde(rename = "type", default)]
    pub comment_type: Option<String>,
    /// Author.
    #[serde(default)]
    pub author_id: Option<u64>,
    /// Text.
    #[serde(default)]
    pub body: Option<String>,
    /// HTML.
    #[serde(default)]
    pub html_body: Option<String>,
    /// Text without formatting.
    #[serde(default)]
    pub plain_body: Option<String>,
    /// Public reply (`true`) or internal note (`false`); unknown counts as private.
    #[serde(default, deserialize_with = "null_as_default")]
    pub public: bool,
    /// How the comment was made.
    #[serde(default)]
    pub via: Option<Via>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
}

/// A user as Zendesk returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: u64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Primary email (none for phone-only callers).
    #[serde(default)]
    pub email: Option<String>,
    /// Primary phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Role.
    #[serde(default)]
    pub role: Option<UserRole>,
    /// External id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub external_id: Option<String>,
    /// Organization.
    #[serde(default)]
    pub organization_id: Option<u64>,
    /// Custom user field values by key.
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_fields: Map<String, Value>,
    /// Default group (staff only).
    #[serde(default)]
    pub default_group_id: Option<u64>,
    /// False once deleted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub active: bool,
    /// Suspended users cannot sign in or be assigned.
    #[serde(default, deserialize_with = "null_as_default")]
    pub suspended: bool,
}

/// A group of agents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Group id.
    pub id: u64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The account's default group.
    #[serde(default, deserialize_with = "null_as_default")]
    pub default: bool,
    /// Deleted groups are still listed by some endpoints.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deleted: bool,
}

/// An agent's membership of a group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupMembership {
    /// Membership id.
    pub id: u64,
    /// The agent.
    pub user_id: u64,
    /// The group.
    pub group_id: u64,
    /// Whether this is the agent's default group.
    #[serde(default, deserialize_with = "null_as_default")]
    pub default: bool,
}

/// One option of a drop-down ticket field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldOption {
    /// Option id.
    #[serde(default)]
    pub id: Option<u64>,
    /// Label shown to agents.
    #[serde(default)]
    pub name: String,
    /// The value (and tag) stored on tickets.
    #[serde(default)]
    pub value: String,
}

/// A ticket field definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketField {
    /// Field id (used in `custom_fields`).
    pub id: u64,
    /// `text`, `integer`, `tagger`, `checkbox`, ...
    #[serde(rename = "type", default)]
    pub field_type: String,
    /// Title shown to agents.
    #[serde(default)]
    pub title: String,
    /// Inactive fields are ignored on tickets.
    #[serde(default, deserialize_with = "null_as_default")]
    pub active: bool,
    /// Options of a drop-down field.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_field_options: Vec<FieldOption>,
}

/// Whether an `Idempotency-Key` replayed an earlier create (`x-idempotency-lookup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdempotencyLookup {
    /// The key was seen with the same body: no new ticket, the original answer was replayed.
    Hit,
    /// First use of the key: the ticket was created now.
    Miss,
}

/// The answer to a ticket create with an idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub struct CreatedTicket {
    /// The ticket (the original one on a hit).
    pub ticket: Ticket,
    /// Zendesk's lookup result; `None` when the header was absent.
    pub idempotency: Option<IdempotencyLookup>,
}

/// `null` (or absent, with `default`) becomes the type's default.
pub(super) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string, or a number kept as its text (Zendesk is not consistent about some ids).
pub(super) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// An ISO-8601 time, or `None` when absent or unreadable rather than failing the record.
pub(super) fn lenient_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .and_then(|v| v.as_str().map(str::to_string))
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc)))
}
