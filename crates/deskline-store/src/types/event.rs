//! Inbound events: what a provider or Zendesk delivered, kept verbatim for audit and replay.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::job::JobId;

/// Identifies one stored inbound event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An authenticated, parsed delivery, ready to be made durable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewInboundEvent {
    /// Which configured source delivered it, e.g. `myoperator`.
    pub source: String,
    /// What it is, e.g. `call.completed`.
    pub kind: String,
    /// The provider's identity of this delivery; a redelivery carries the same key.
    pub dedupe_key: String,
    /// When ingress received it.
    pub received_at: DateTime<Utc>,
    /// Request headers, already scrubbed of secrets by the caller.
    pub headers: serde_json::Value,
    /// The body exactly as received.
    pub raw_body: Vec<u8>,
    /// The normalized event the planner works from.
    pub normalized: serde_json::Value,
}

/// A stored inbound event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// Its id.
    pub id: EventId,
    /// Which configured source delivered it.
    pub source: String,
    /// What it is.
    pub kind: String,
    /// The provider's identity of this delivery.
    pub dedupe_key: String,
    /// When ingress received it.
    pub received_at: DateTime<Utc>,
    /// Request headers, as scrubbed by ingress.
    pub headers: serde_json::Value,
    /// The body exactly as received.
    pub raw_body: Vec<u8>,
    /// The normalized event.
    pub normalized: serde_json::Value,
}

/// An inbound event without its bulky parts, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    /// Its id.
    pub id: EventId,
    /// Which configured source delivered it.
    pub source: String,
    /// What it is.
    pub kind: String,
    /// The provider's identity of this delivery.
    pub dedupe_key: String,
    /// When ingress received it.
    pub received_at: DateTime<Utc>,
}

/// Which events to list: every set field must match; ordered by id, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Only events from this source.
    pub source: Option<String>,
    /// Only events of this kind.
    pub kind: Option<String>,
    /// At most this many (capped at [`crate::MAX_LIST_LIMIT`]).
    pub limit: u32,
    /// Only events with a greater id: the last id of the previous page.
    pub after_id: Option<EventId>,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            source: None,
            kind: None,
            limit: 100,
            after_id: None,
        }
    }
}

/// What [`crate::Store::ingest`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ingested {
    /// The event and its jobs are durable.
    Stored {
        /// The new event.
        event_id: EventId,
        /// The jobs inserted, in the order given.
        job_ids: Vec<JobId>,
        /// Jobs not inserted because a job with the same unique key already existed: the ids of
        /// those existing jobs.
        existing_unique: Vec<JobId>,
    },
    /// The same (source, dedupe key) was stored before: nothing was written.
    Duplicate {
        /// The event stored the first time.
        event_id: EventId,
    },
}

impl Ingested {
    /// The event's id, whether stored now or before.
    pub fn event_id(&self) -> EventId {
        match self {
            Ingested::Stored { event_id, .. } | Ingested::Duplicate { event_id } => *event_id,
        }
    }
}
