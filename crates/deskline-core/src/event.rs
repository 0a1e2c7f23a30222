//! What providers tell us happened to a call, one event at a time. A call may arrive as a
//! single finished record (MyOperator After-Call, Aircall `call.ended`) or as several events
//! (ringing, answered, ended, disposition), possibly twice or out of order; the worker folds
//! them into one ticket per call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::call::{AgentRef, CallRecord, Direction, Provider};
use crate::phone::PartyNumber;

/// A call started ringing (or was placed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallStart {
    /// The provider.
    pub provider: Provider,
    /// The provider's id for the call (the correlation key for all its events).
    pub call_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The customer's number.
    pub customer: PartyNumber,
    /// Our number, when given.
    pub line: Option<PartyNumber>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Agents it is ringing on, when given.
    pub ringing: Vec<AgentRef>,
}

/// An agent took the call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallAnswer {
    /// The provider.
    pub provider: Provider,
    /// The call.
    pub call_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub agent: AgentRef,
}

/// An agent's disposition of a finished call: outcome codes and a comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disposition {
    /// The provider.
    pub provider: Provider,
    /// The call.
    pub call_id: String,
    /// When the agent saved it.
    pub at: DateTime<Utc>,
    /// Disposition names, as the provider sends them.
    pub dispositions: Vec<String>,
    /// The agent's comment.
    pub comment: Option<String>,
    /// The agent.
    pub agent: Option<AgentRef>,
}

/// One event of a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallEvent {
    /// Ringing or placed.
    Started(CallStart),
    /// Answered by an agent.
    Answered(CallAnswer),
    /// Finished, with everything known about it.
    Ended(CallRecord),
    /// Dispositioned by the agent after the call.
    Disposition(Disposition),
}

impl CallEvent {
    /// The call this event belongs to.
    pub fn call_id(&self) -> &str {
        match self {
            CallEvent::Started(s) => &s.call_id,
            CallEvent::Answered(a) => &a.call_id,
            CallEvent::Ended(r) => &r.call_id,
            CallEvent::Disposition(d) => &d.call_id,
        }
    }

    /// A short name for logs and the dedupe key: `started`, `answered`, `ended`, `disposition`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallEvent::Started(_) => "started",
            CallEvent::Answered(_) => "answered",
            CallEvent::Ended(_) => "ended",
            CallEvent::Disposition(_) => "disposition",
        }
    }
}

/// An event with the key that recognises its redelivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParsedEvent {
    /// Same key ⇒ same delivery: the provider's event id when it has one, else derived from
    /// the call id and the event kind.
    pub dedupe_key: String,
    /// The event.
    pub event: CallEvent,
}

impl ParsedEvent {
    /// An event whose provider gives no event id: one per call and kind.
    pub fn keyed_by_call(event: CallEvent) -> ParsedEvent {
        let dedupe_key = match &event {
            // The After-Call record is the call's one final word: keyed by the call alone, as
            // before, so existing data keeps deduplicating.
            CallEvent::Ended(r) => r.call_id.clone(),
            other => format!("{}:{}", other.call_id(), other.kind()),
        };
        ParsedEvent { dedupe_key, event }
    }
}
