//! AI, chat and phone conversations handed to Zendesk, and the ticket each one lives on.

use chrono::{DateTime, Utc};
use deskline_core::conversation::ConversationStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One conversation, keyed by its source and the session id the source gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The source (handoff source name) it came from.
    pub source: String,
    /// The source's session id.
    pub session_id: String,
    /// The channel replies go back on (`web`, `whatsapp`, `phone`, …).
    pub channel: String,
    /// The contact's email, lower-cased, if known.
    pub email: Option<String>,
    /// The contact's phone number in E.164, if known.
    pub phone: Option<String>,
    /// The contact's id in the source's platform, if known.
    pub contact_external_id: Option<String>,
    /// Everything known about the contact (as sent, then enriched from Zendesk).
    pub contact: Value,
    /// The Zendesk ticket the conversation lives on, once there is one.
    pub ticket_id: Option<u64>,
    /// Open, assigned or closed, and the reply window.
    pub status: ConversationStatus,
    /// When deskline first saw it.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The identities a contact can be recognised by; any one matching is the same contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactKeys {
    /// Lower-cased email.
    pub email: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// The source platform's contact id; only compared within one source.
    pub external_id: Option<String>,
}
