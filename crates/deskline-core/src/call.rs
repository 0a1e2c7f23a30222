//! A call as deskline understands it, whatever provider reported it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::phone::PartyNumber;

/// Which telephony provider reported a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// MyOperator (India).
    MyOperator,
    /// Twilio Programmable Voice.
    Twilio,
    /// Aircall.
    Aircall,
    /// Exotel.
    Exotel,
    /// Any other provider, mapped by configuration.
    Generic,
}

impl Provider {
    /// The short name used in external ids and tags.
    pub fn slug(self) -> &'static str {
        match self {
            Provider::MyOperator => "myoperator",
            Provider::Twilio => "twilio",
            Provider::Aircall => "aircall",
            Provider::Exotel => "exotel",
            Provider::Generic => "generic",
        }
    }
}

/// Who started the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer called us.
    Inbound,
    /// We called the customer.
    Outbound,
}

impl Direction {
    /// `inbound` or `outbound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Whether anybody took the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Some leg was received by a person.
    Answered,
    /// No leg was received.
    Missed,
}

/// An agent as the provider names them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRef {
    /// Email, as sent (may differ in case or spacing from Zendesk's).
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Extension on the provider's PBX.
    pub extension: Option<String>,
    /// The agent's phone.
    pub phone: Option<String>,
}

impl AgentRef {
    /// The email trimmed, or `None` when blank.
    pub fn email(&self) -> Option<&str> {
        self.email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }

    /// A name for notes: the name, else the email, else the phone, else the extension.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| self.email().map(str::to_string))
            .or_else(|| self.phone.clone().filter(|p| !p.trim().is_empty()))
            .or_else(|| self.extension.clone().map(|e| format!("extension {e}")))
            .unwrap_or_else(|| "unknown agent".to_string())
    }
}

/// What happened on one leg of a call (one attempt to reach agents).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLeg {
    /// When the leg started ringing.
    pub started_at: Option<DateTime<Utc>>,
    /// When the leg ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds the leg lasted.
    pub duration_seconds: Option<u64>,
    /// Whether someone on this leg took the call.
    pub received: bool,
    /// The provider's status word for the leg (`ANSWER`, `NOANSWER`, `received`, ...).
    pub status: String,
    /// Agents the leg rang, or who took it.
    pub agents: Vec<AgentRef>,
}

/// A call recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// Where the provider serves it.
    pub url: String,
    /// The provider's file name, used to fetch a fresh link later.
    pub file_name: Option<String>,
}

/// One finished call, normalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The provider.
    pub provider: Provider,
    /// The provider's id for this call; the deduplication key.
    pub call_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The customer's number (the caller of an inbound call, the callee of an outbound one).
    pub customer: PartyNumber,
    /// Our number on the call (the line dialled, or the caller id used), when the provider
    /// says it.
    pub line: Option<PartyNumber>,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// When the call ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds from start to end, ringing included.
    pub total_seconds: u64,
    /// Seconds spent talking, when answered.
    pub talk_seconds: Option<u64>,
    /// Answered or missed, by the per-leg log.
    pub outcome: Outcome,
    /// The agent who took the call.
    pub answered_by: Option<AgentRef>,
    /// The provider's department or queue.
    pub department: Option<String>,
    /// Where the customer is, as the provider reports it.
    pub location: Option<String>,
    /// The recording, if any.
    pub recording: Option<Recording>,
    /// Every leg, in order.
    pub legs: Vec<CallLeg>,
}

impl CallRecord {
    /// The caller: the customer for inbound calls, our line for outbound ones.
    pub fn from(&self) -> Option<&PartyNumber> {
        match self.direction {
            Direction::Inbound => Some(&self.customer),
            Direction::Outbound => self.line.as_ref(),
        }
    }

    /// The callee: our line for inbound calls, the customer for outbound ones.
    pub fn to(&self) -> Option<&PartyNumber> {
        match self.direction {
            Direction::Inbound => self.line.as_ref(),
            Direction::Outbound => Some(&self.customer),
        }
    }
}
