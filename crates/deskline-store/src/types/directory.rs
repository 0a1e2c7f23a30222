//! The Zendesk agent directory as last synced, and the emails it did not know.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The form an email is matched in: trimmed and lowercased (Unicode-aware), so a provider's
/// `" Alice@Example.COM"` finds the agent `alice@example.com`.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The form a group name is matched in: trimmed and lowercased, like emails.
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A Zendesk agent as synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryAgent {
    /// The agent's Zendesk user id.
    pub zendesk_id: i64,
    /// The email as Zendesk has it.
    pub email: String,
    /// The display name.
    pub name: String,
    /// The phone number Zendesk has, if any.
    pub phone: Option<String>,
    /// The Zendesk groups the agent belongs to.
    pub group_ids: Vec<i64>,
    /// False for suspended or deactivated agents.
    pub active: bool,
}

/// A Zendesk group as synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryGroup {
    /// The group's Zendesk id.
    pub zendesk_id: i64,
    /// Its name as Zendesk has it.
    pub name: String,
}

/// How fresh the directory is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryStatus {
    /// When the last successful sync finished; `None` before the first.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Agents the last successful sync stored.
    pub agent_count: u64,
    /// Groups the last successful sync stored.
    pub group_count: u64,
    /// Why the latest sync failed, if it failed after the last success.
    pub last_error: Option<String>,
    /// When that failure happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// What [`crate::Store::replace_directory`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryReplaced {
    /// Agents now stored.
    pub agents: u64,
    /// Groups now stored.
    pub groups: u64,
    /// Agent mismatches removed because the new directory knows their email.
    pub resolved_mismatches: u64,
}

/// An email a provider gave for the answering agent that no synced agent has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMismatch {
    /// The email, normalized.
    pub email_normalized: String,
    /// The email exactly as the provider last sent it.
    pub email_as_sent: String,
    /// First time it was seen.
    pub first_seen: DateTime<Utc>,
    /// Latest time it was seen.
    pub last_seen: DateTime<Utc>,
    /// How many calls named it.
    pub count: u64,
    /// The latest call that named it.
    pub last_call_id: Option<String>,
    /// The source of that call.
    pub source: String,
}
