//! The account's records as the sandbox keeps them (not as they appear on the wire; see
//! `render`). Everything here is saved to the state file, so it derives serde.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A user's role, as Zendesk names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A customer.
    EndUser,
    /// A staff member who works tickets.
    Agent,
    /// A staff member who also administers the account.
    Admin,
}

impl Role {
    /// The wire name (`end-user`, `agent`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::EndUser => "end-user",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "end-user" => Some(Role::EndUser),
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Agents and admins are staff: they can be assignees and use the API.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Agent | Role::Admin)
    }
}

/// A person known to the account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub role: Role,
    pub organization_id: Option<u64>,
    pub default_group_id: Option<u64>,
    pub time_zone: String,
    pub locale: String,
    pub tags: Vec<String>,
    pub notes: String,
    pub details: String,
    pub user_fields: BTreeMap<String, Value>,
    pub shared_phone_number: bool,
    pub verified: bool,
    pub active: bool,
    pub suspended: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the search index catches up with this user (Zendesk indexes with a lag).
    pub searchable_from: DateTime<Utc>,
}

/// A customer organization.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Organization {
    pub id: u64,
    pub name: String,
    pub external_id: Option<String>,
    pub domain_names: Vec<String>,
    pub tags: Vec<String>,
    pub organization_fields: BTreeMap<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A group of agents tickets can be routed to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Group {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub default: bool,
    pub is_public: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An agent's membership of a group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupMembership {
    pub id: u64,
    pub user_id: u64,
    pub group_id: u64,
    pub default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The definition of a custom ticket field.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TicketField {
    pub id: u64,
    /// `text`, `textarea`, `integer`, `decimal`, `checkbox`, `date`, `tagger`, `regexp`, ...
    pub field_type: String,
    pub title: String,
    pub description: String,
    pub active: bool,
    pub required: bool,
    /// For `tagger` and `multiselect` fields: the allowed option values.
    pub options: Vec<FieldOption>,
    pub regexp_for_validation: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One option of a drop-down ticket field.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FieldOption {
    pub id: u64,
    pub name: String,
    pub value: String,
}

/// How a ticket or comment came in (Zendesk's via object).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Via {
    pub id: u32,
    pub channel: String,
    pub source: Value,
}

/// A ticket and its conversation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ticket {
    pub id: u64,
    pub subject: Option<String>,
    pub description: String,
    pub status: String,
    pub priority: Option<String>,
    pub ticket_type: Option<String>,
    pub requester_id: u64,
    pub submitter_id: u64,
    pub assignee_id: Option<u64>,
    pub group_id: Option<u64>,
    pub organization_id: Option<u64>,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<u64, Value>,
    pub via: Via,
    pub comments: Vec<Comment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    /// The most recent public comment, if any.
    pub fn latest_public_comment(&self) -> Option<&Comment> {
        self.comments.iter().rev().find(|c| c.public)
    }
}

/// One comment on a ticket: a public reply, an internal note or a voice comment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    /// `Comment` or `VoiceComment`.
    pub kind: String,
    pub author_id: u64,
    pub body: String,
    pub html_body: String,
    pub plain_body: String,
    pub public: bool,
    pub audit_id: u64,
    pub via: Via,
    /// For voice comments: the call data (from, to, recording_url, started_at, ...).
    pub data: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// An outbound webhook.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub http_method: String,
    pub request_format: String,
    pub status: String,
    pub subscriptions: Vec<String>,
    /// Authentication as sent (type, data, add_position); the data is never shown again.
    pub authentication: Option<Value>,
    pub custom_headers: BTreeMap<String, String>,
    pub signing_secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: u64,
    pub updated_by: u64,
}

/// One condition of a trigger (`{field, operator, value}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    pub operator: String,
    pub value: Value,
}

/// One action of a trigger (`{field, value}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Action {
    pub field: String,
    pub value: Value,
}

/// A business rule run on every ticket create and update.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trigger {
    pub id: u64,
    pub title: String,
    pub description: String,
    pub active: bool,
    pub position: u64,
    pub category_id: Option<String>,
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
    pub actions: Vec<Action>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The whole account: what is saved to and restored from the state file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Account {
    /// Next id for users, groups, fields, organizations, memberships, comments, triggers.
    pub next_id: u64,
    /// Next ticket id (tickets are numbered from 1, as on a new Zendesk account).
    pub next_ticket_id: u64,
    pub users: BTreeMap<u64, User>,
    pub organizations: BTreeMap<u64, Organization>,
    pub groups: BTreeMap<u64, Group>,
    pub group_memberships: BTreeMap<u64, GroupMembership>,
    pub ticket_fields: BTreeMap<u64, TicketField>,
    pub tickets: BTreeMap<u64, Ticket>,
    pub webhooks: BTreeMap<String, Webhook>,
    pub triggers: BTreeMap<u64, Trigger>,
}

impl Account {
    /// Hands out the next general-purpose id.
    pub fn allocate_id(&mut self) -> u64 {
        if self.next_id == 0 {
            self.next_id = 360_000_000_001;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Hands out the next ticket id.
    pub fn allocate_ticket_id(&mut self) -> u64 {
        if self.next_ticket_id == 0 {
            self.next_ticket_id = 1;
        }
        let id = self.next_ticket_id;
        self.next_ticket_id += 1;
        id
    }

    /// Finds a user by email, ignoring case and surrounding space, as Zendesk does.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        let wanted = email.trim();
        self.users.values().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(wanted))
        })
    }

    /// Finds a user by external id, ignoring case (Zendesk's lookup is case-insensitive).
    pub fn user_by_external_id(&self, external_id: &str) -> Option<&User> {
        self.users.values().find(|u| {
            u.external_id
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(external_id))
        })
    }

    /// Finds a group by name, ignoring case.
    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups
            .values()
            .find(|g| g.name.eq_ignore_ascii_case(name.trim()))
    }

    /// Whether an agent belongs to a group.
    pub fn is_member(&self, user_id: u64, group_id: u64) -> bool {
        self.group_memberships
            .values()
            .any(|m| m.user_id == user_id && m.group_id == group_id)
    }
}
