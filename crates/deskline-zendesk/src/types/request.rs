//! Bodies deskline sends: tickets to create or update, comments, users to create or update.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Priority, TicketStatus, TicketType, UserRole};

/// A comment to add on create or update: plain text or HTML, public reply or internal note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewComment {
    /// The text, as `body` (plain) or `html_body` (HTML).
    #[serde(flatten)]
    pub content: CommentContent,
    /// `true` for a public reply, `false` for an internal note. Always sent: Zendesk otherwise
    /// reuses the ticket's first comment's visibility, which could publish a private note.
    pub public: bool,
    /// Shown as the comment's author (the API user stays the updater).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_id: Option<u64>,
}

/// The text of a comment; Zendesk takes one of `body` or `html_body`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommentContent {
    /// Plain text: Zendesk strips HTML and collapses whitespace.
    #[serde(rename = "body")]
    Text(String),
    /// HTML, kept as sent (recommended for the Agent Workspace).
    #[serde(rename = "html_body")]
    Html(String),
}

impl NewComment {
    /// An internal note in plain text.
    pub fn private_text(body: impl Into<String>) -> Self {
        NewComment {
            content: CommentContent::Text(body.into()),
            public: false,
            author_id: None,
        }
    }

    /// An internal note in HTML.
    pub fn private_html(html: impl Into<String>) -> Self {
        NewComment {
            content: CommentContent::Html(html.into()),
            public: false,
            author_id: None,
        }
    }

    /// A public reply in plain text.
    pub fn public_text(body: impl Into<String>) -> Self {
        NewComment {
            content: CommentContent::Text(body.into()),
            public: true,
            author_id: None,
        }
    }
}

/// A requester created (or matched by email) inline with the ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// Display name.
    pub name: String,
    /// Email; Zendesk matches an existing user by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A custom field value, `{"id": <field id>, "value": <value>}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomField {
    /// The ticket field's id.
    pub id: u64,
    /// A string for text/numeric/drop-down fields, a bool for checkboxes, null to clear.
    #[serde(default)]
    pub value: Value,
}

impl CustomField {
    /// A field set to a value.
    pub fn new(id: u64, value: impl Into<Value>) -> Self {
        CustomField {
            id,
            value: value.into(),
        }
    }
}

/// Call details that become a voice comment (with a recording player) on the ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceComment {
    /// Caller number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Dialed number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A hosted MP3 or WAV; Zendesk stores only the link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// When the call started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Call length in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_duration: Option<u64>,
    /// The agent who answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by_id: Option<u64>,
    /// Transcript, if the provider made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcription_text: Option<String>,
    /// Caller's location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// The `ticket` object of a create request (`POST /api/v2/tickets` or the voice endpoint).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    /// Subject line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The first comment; required by `POST /api/v2/tickets`, optional for a voicemail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<NewComment>,
    /// An existing requester.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_id: Option<u64>,
    /// A requester to create or match inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester>,
    /// Who submitted the ticket (becomes the first comment's author).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitter_id: Option<u64>,
    /// Assigned agent by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<u64>,
    /// Assigned agent by email (write-only on Zendesk's side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_email: Option<String>,
    /// Assigned group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u64>,
    /// deskline's own key for the event, to find the ticket again after the idempotency window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Tags (replace the whole list).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<String>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub custom_fields: Vec<CustomField>,
    /// Initial status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// Priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Ticket type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ticket_type: Option<TicketType>,
    /// The channel the ticket came in by; required (44/45/46) on the voice endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_id: Option<u32>,
    /// Call details shown as a voice comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_comment: Option<VoiceComment>,
}

/// The `ticket` object of `PUT /api/v2/tickets/{id}`; only what is set changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketUpdate {
    /// New subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A comment to add (public reply or internal note).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<NewComment>,
    /// New status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// New priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// New type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ticket_type: Option<TicketType>,
    /// New assignee by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<u64>,
    /// Clears the assignee (`"assignee_id": null`), e.g. when a call moves to a group its
    /// agent is not in; wins over `assignee_id`.
    #[serde(skip)]
    pub unassign: bool,
    /// New assignee by email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_email: Option<String>,
    /// New group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u64>,
    /// New requester.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_id: Option<u64>,
    /// New external id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Replaces the whole tag list; prefer `additional_tags`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Tags to add, keeping the others.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub additional_tags: Vec<String>,
    /// Tags to remove, keeping the others.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub remove_tags: Vec<String>,
    /// Custom field values to set (the others are kept).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub custom_fields: Vec<CustomField>,
    /// Call details to add as a voice comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_comment: Option<VoiceComment>,
    /// Refuse the update if the ticket changed since `updated_stamp` (409 otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe_update: Option<bool>,
    /// The `updated_at` the caller last saw, for `safe_update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_stamp: Option<DateTime<Utc>>,
}

/// The `user` object of `POST /api/v2/users/create_or_update` (matched by email or external id).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    /// Display name; required to create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Primary email; a match key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// deskline's or a CRM's id; a match key (case-insensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Role; Zendesk defaults to end-user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<UserRole>,
    /// Organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<u64>,
    /// Custom user field values by field key (merged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_fields: Option<Map<String, Value>>,
    /// Do not send a verification email to a new user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_verify_email: Option<bool>,
}
