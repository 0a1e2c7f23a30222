//! The data the store keeps, as its callers see it: no SQL types leak out of here.

mod conversation;
mod directory;
mod event;
mod job;
mod lease;

pub use conversation::{ContactKeys, Conversation};
pub use directory::{
    normalize_email, normalize_name, AgentMismatch, DirectoryAgent, DirectoryGroup,
    DirectoryReplaced, DirectoryStatus,
};
pub use event::{EventFilter, EventId, EventSummary, InboundEvent, Ingested, NewInboundEvent};
pub use job::{
    Attempt, AttemptId, AttemptOutcome, Enqueued, EventRef, Job, JobDetail, JobError, JobFilter,
    JobId, JobState, NewAttempt, NewJob, QueuePause, DEFAULT_MAX_ATTEMPTS,
};
pub use lease::{JobLease, Pruned, Settlement};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Largest page any list operation returns, whatever the caller asks for.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// A stored association, such as provider call id → Zendesk ticket id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// What is linked to what, e.g. `call_ticket`, `phone_user`.
    pub kind: String,
    /// The lookup key, e.g. the provider's call id.
    pub key: String,
    /// What the key maps to, e.g. the ticket id.
    pub value: String,
    /// When the link was first written.
    pub created_at: DateTime<Utc>,
    /// When the value was last written.
    pub updated_at: DateTime<Utc>,
}
