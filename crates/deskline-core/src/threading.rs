//! Threading: whether a call opens a ticket of its own or is appended to a recent ticket of
//! the same caller. Pure: the server looks up the caller's most recent ticket and asks
//! [`decide`].
//!
//! Configured per source, e.g.
//!
//! ```toml
//! [sources.myoperator.threading]
//! mode = "per_caller"      # or "per_call" (the default) or "missed_rollup"
//! window_minutes = 30      # required by per_caller and missed_rollup
//! ```
//!
//! The window is measured between the start of this call and the start of the last call on
//! the recent ticket (either way round, so an event processed late still joins), not to the
//! moment the server processes the call: a backlog after an outage threads the same as live
//! traffic.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::call::{CallRecord, Outcome};

/// How calls from one number join tickets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyFields", into = "PolicyFields")]
pub enum ThreadingPolicy {
    /// Every call opens its own ticket.
    #[default]
    PerCall,
    /// A call is appended, as an internal note, to the caller's unsolved ticket whose last
    /// call started within the window.
    PerCaller {
        /// How far apart two calls may start and still share a ticket.
        window_minutes: u32,
    },
    /// A missed call is appended to the caller's unsolved ticket when that ticket's last call
    /// was missed too and started within the window; answered calls open their own tickets.
    MissedRollup {
        /// How far apart two missed calls may start and still share a ticket.
        window_minutes: u32,
    },
}

/// The TOML table as written; serde's internally tagged enums ignore unknown keys of unit
/// variants, so the table is read flat and checked here.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFields {
    mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window_minutes: Option<u32>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    PerCall,
    PerCaller,
    MissedRollup,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::PerCall => "per_call",
            Mode::PerCaller => "per_caller",
            Mode::MissedRollup => "missed_rollup",
        }
    }
}

impl TryFrom<PolicyFields> for ThreadingPolicy {
    type Error = String;

    fn try_from(fields: PolicyFields) -> Result<Self, String> {
        match (fields.mode, fields.window_minutes) {
            (Mode::PerCall, None) => Ok(ThreadingPolicy::PerCall),
            (Mode::PerCall, Some(_)) => {
                Err("window_minutes does nothing with mode = \"per_call\"; \
                 remove it, or choose mode = \"per_caller\" or \"missed_rollup\""
                    .to_string())
            }
            (Mode::PerCaller, Some(window_minutes)) => {
                Ok(ThreadingPolicy::PerCaller { window_minutes })
            }
            (Mode::MissedRollup, Some(window_minutes)) => {
                Ok(ThreadingPolicy::MissedRollup { window_minutes })
            }
            (mode @ (Mode::PerCaller | Mode::MissedRollup), None) => Err(format!(
                "mode = \"{}\" needs window_minutes, the most minutes between two calls that \
                 share a ticket, e.g. window_minutes = 30",
                mode.name()
            )),
        }
    }
}

impl From<ThreadingPolicy> for PolicyFields {
    fn from(policy: ThreadingPolicy) -> Self {
        let (mode, window_minutes) = match policy {
            ThreadingPolicy::PerCall => (Mode::PerCall, None),
            ThreadingPolicy::PerCaller { window_minutes } => {
                (Mode::PerCaller, Some(window_minutes))
            }
            ThreadingPolicy::MissedRollup { window_minutes } => {
                (Mode::MissedRollup, Some(window_minutes))
            }
        };
        PolicyFields {
            mode,
            window_minutes,
        }
    }
}

/// Zendesk statuses of a ticket a call may still be appended to; anything else (`solved`,
/// `closed`, `deleted`, or a status deskline does not know) gets a new ticket.
pub const APPENDABLE_STATUSES: &[&str] = &["new", "open", "pending", "hold"];

/// The caller's most recent ticket from this source, as the server knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentTicket {
    /// The Zendesk ticket id.
    pub ticket_id: u64,
    /// When the last call created on or appended to the ticket started.
    pub last_call_at: DateTime<Utc>,
    /// The ticket's Zendesk status (`new`, `open`, `pending`, `hold`, `solved`, `closed`).
    pub status: String,
    /// Whether that last call was missed.
    pub last_call_missed: bool,
}

impl RecentTicket {
    /// Whether the status still takes new calls (see [`APPENDABLE_STATUSES`]).
    pub fn is_appendable(&self) -> bool {
        let status = self.status.trim().to_ascii_lowercase();
        APPENDABLE_STATUSES.contains(&status.as_str())
    }
}

/// What to do with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ThreadDecision {
    /// Open a new ticket (the normal plan).
    Create,
    /// Add the call's note to this ticket as an internal comment.
    Append {
        /// The Zendesk ticket id.
        ticket_id: u64,
    },
}

impl ThreadingPolicy {
    /// The window, or `None` for [`ThreadingPolicy::PerCall`].
    pub fn window(&self) -> Option<Duration> {
        match self {
            ThreadingPolicy::PerCall => None,
            ThreadingPolicy::PerCaller { window_minutes }
            | ThreadingPolicy::MissedRollup { window_minutes } => {
                Some(Duration::minutes(i64::from(*window_minutes)))
            }
        }
    }

    /// Problems with the settings, each naming the key and the fix.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        match self {
            ThreadingPolicy::PerCaller { window_minutes: 0 }
            | ThreadingPolicy::MissedRollup { window_minutes: 0 } => Err(vec![
                "threading.window_minutes is 0, which never threads a call; set a number of \
                 minutes such as 30, or use mode = \"per_call\""
                    .to_string(),
            ]),
            _ => Ok(()),
        }
    }

    /// Whether [`decide`] could append this call at all: when false, the server need not look
    /// up the caller's recent ticket.
    pub fn may_append(&self, call: &CallRecord) -> bool {
        // Withheld and unparseable numbers all share one requester: threading them would
        // pile strangers' calls onto one ticket.
        if call.customer.phone().is_none() {
            return false;
        }
        match self {
            ThreadingPolicy::PerCall => false,
            ThreadingPolicy::PerCaller { .. } => true,
            ThreadingPolicy::MissedRollup { .. } => call.outcome == Outcome::Missed,
        }
    }
}

/// Whether `call` opens a ticket or joins `recent`, the caller's most recent ticket from the
/// same source (`None` when there is none).
pub fn decide(
    policy: &ThreadingPolicy,
    call: &CallRecord,
    recent: Option<&RecentTicket>,
) -> ThreadDecision {
    let (Some(recent), Some(window)) = (recent, policy.window()) else {
        return ThreadDecision::Create;
    };
    if !policy.may_append(call) || !recent.is_appendable() {
        return ThreadDecision::Create;
    }
    if let ThreadingPolicy::MissedRollup { .. } = policy {
        if !recent.last_call_missed {
            return ThreadDecision::Create;
        }
    }
    let gap = (call.started_at - recent.last_call_at).abs();
    if gap <= window {
        ThreadDecision::Append {
            ticket_id: recent.ticket_id,
        }
    } else {
        ThreadDecision::Create
    }
}

#[cfg(test)]
mod tests;
