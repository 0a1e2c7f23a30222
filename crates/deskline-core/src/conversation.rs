//! A conversation's state and the rules for relaying an agent's reply to the customer.
//!
//! A conversation is `open` (handed off, no human has replied yet), `assigned` (a human agent
//! replied) or `closed` (its ticket was solved or closed). Two rules decide whether an agent's
//! public reply is sent to the customer:
//!
//! - a closed conversation accepts no agent reply until the customer writes again, which
//!   reopens it;
//! - a reply is sent only within 24 hours of the customer's last message (the customer-care
//!   window that messaging channels such as WhatsApp enforce); after that the customer has to
//!   write again first.
//!
//! Time is always passed in, so the rules are tested with any clock.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How long after the customer's last message an agent may still reply.
pub fn reply_window() -> Duration {
    Duration::hours(24)
}

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Handed off; no human agent has replied yet.
    Open,
    /// A human agent is active in it.
    Assigned,
    /// Its ticket was solved or closed.
    Closed,
}

impl ConversationState {
    /// The lower-case name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Open => "open",
            ConversationState::Assigned => "assigned",
            ConversationState::Closed => "closed",
        }
    }

    /// Reads [`ConversationState::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(ConversationState::Open),
            "assigned" => Some(ConversationState::Assigned),
            "closed" => Some(ConversationState::Closed),
            _ => None,
        }
    }
}

/// The part of a conversation the reply rules read and change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationStatus {
    /// Open, assigned or closed.
    pub state: ConversationState,
    /// When the customer last wrote, if ever.
    pub last_customer_at: Option<DateTime<Utc>>,
    /// When the conversation was closed, while it is.
    pub closed_at: Option<DateTime<Utc>>,
    /// The Zendesk id of the human agent who last replied.
    pub agent_id: Option<u64>,
}

/// Why an agent's reply is not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyRefusal {
    /// The ticket was solved or closed and the customer has not written since.
    Closed {
        /// When it was closed.
        since: DateTime<Utc>,
    },
    /// The customer last wrote more than 24 hours ago (or never).
    WindowPassed {
        /// When the customer last wrote.
        last_customer_at: Option<DateTime<Utc>>,
    },
}

impl std::fmt::Display for ReplyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyRefusal::Closed { since } => write!(
                f,
                "the conversation was closed at {since} (ticket solved or closed); a reply is sent only after the customer writes again"
            ),
            ReplyRefusal::WindowPassed {
                last_customer_at: Some(t),
            } => write!(
                f,
                "the customer last wrote at {t}, more than 24 hours ago; a reply is sent only after the customer writes again"
            ),
            ReplyRefusal::WindowPassed {
                last_customer_at: None,
            } => write!(
                f,
                "the customer has not written in this conversation; nothing can be sent until they do"
            ),
        }
    }
}

impl ConversationStatus {
    /// A conversation the customer opened at `at`.
    pub fn opened(at: DateTime<Utc>) -> Self {
        ConversationStatus {
            state: ConversationState::Open,
            last_customer_at: Some(at),
            closed_at: None,
            agent_id: None,
        }
    }

    /// The customer wrote at `at`: the reply window restarts, and a closed conversation opens
    /// again (with no agent yet: the next reply assigns one). An older message than the last
    /// one seen (a late delivery) moves nothing back.
    pub fn customer_wrote(&mut self, at: DateTime<Utc>) {
        if self.last_customer_at.is_some_and(|last| last >= at) {
            return;
        }
        self.last_customer_at = Some(at);
        if self.state == ConversationState::Closed
            && self.closed_at.is_none_or(|closed| at >= closed)
        {
            self.state = ConversationState::Open;
            self.closed_at = None;
            self.agent_id = None;
        }
    }

    /// The ticket's status became `status` (Zendesk's API value or its label, any case) at
    /// `at`. Solved and closed close the conversation; any other status leaves it as it is,
    /// so an agent reopening a ticket does not make the customer reachable again.
    pub fn ticket_status_changed(&mut self, status: &str, at: DateTime<Utc>) {
        let status = status.trim().to_ascii_lowercase();
        if (status == "solved" || status == "closed") && self.state != ConversationState::Closed {
            self.state = ConversationState::Closed;
            self.closed_at = Some(at);
        }
    }

    /// Whether an agent's public reply made at `now` is sent to the customer.
    pub fn reply_decision(&self, now: DateTime<Utc>) -> Result<(), ReplyRefusal> {
        if self.state == ConversationState::Closed {
            return Err(ReplyRefusal::Closed {
                since: self.closed_at.unwrap_or(now),
            });
        }
        match self.last_customer_at {
            Some(last) if now - last <= reply_window() => Ok(()),
            last => Err(ReplyRefusal::WindowPassed {
                last_customer_at: last,
            }),
        }
    }

    /// An agent's reply was accepted for delivery: the conversation has an active human.
    pub fn agent_replied(&mut self, agent_id: u64) {
        if self.state != ConversationState::Closed {
            self.state = ConversationState::Assigned;
            self.agent_id = Some(agent_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap() + Duration::hours(hours)
    }

    #[test]
    fn state_names_round_trip() {
        for s in [
            ConversationState::Open,
            ConversationState::Assigned,
            ConversationState::Closed,
        ] {
            assert_eq!(ConversationState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConversationState::parse("pending"), None);
    }

    #[test]
    fn the_reply_rules_table() {
        struct Case {
            name: &'static str,
            steps: &'static [Step],
            reply_at: i64,
            sent: bool,
        }
        enum Step {
            Customer(i64),
            Status(&'static str, i64),
            Agent(u64),
        }
        use Step::*;
        let cases = [
            Case {
                name: "fresh handoff, agent replies at once",
                steps: &[],
                reply_at: 0,
                sent: true,
            },
            Case {
                name: "exactly 24 hours after the customer's message",
                steps: &[],
                reply_at: 24,
                sent: true,
            },
            Case {
                name: "25 hours after the customer's message",
                steps: &[],
                reply_at: 25,
                sent: false,
            },
            Case {
                name: "the customer wrote again: the window restarts",
                steps: &[Customer(20)],
                reply_at: 40,
                sent: true,
            },
            Case {
                name: "a late delivery of an old message moves nothing back",
                steps: &[Customer(20), Customer(1)],
                reply_at: 40,
                sent: true,
            },
            Case {
                name: "solved closes it",
                steps: &[Status("solved", 1)],
                reply_at: 2,
                sent: false,
            },
            Case {
                name: "closed (label, any case) closes it",
                steps: &[Status("Closed", 1)],
                reply_at: 2,
                sent: false,
            },
            Case {
                name: "pending and open change nothing",
                steps: &[Status("pending", 1), Status("OPEN", 2)],
                reply_at: 3,
                sent: true,
            },
            Case {
                name: "an agent reopening a solved ticket does not reopen the conversation",
                steps: &[Status("solved", 1), Status("open", 2)],
                reply_at: 3,
                sent: false,
            },
            Case {
                name: "the customer writing after the close reopens it",
                steps: &[Status("solved", 1), Customer(30)],
                reply_at: 31,
                sent: true,
            },
            Case {
                name: "reopened, but the new window passed too",
                steps: &[Status("solved", 1), Customer(30)],
                reply_at: 55,
                sent: false,
            },
            Case {
                name: "an assigned conversation follows the same window",
                steps: &[Agent(30011)],
                reply_at: 23,
                sent: true,
            },
        ];
        for case in cases {
            let mut s = ConversationStatus::opened(t(0));
            for step in case.steps {
                match step {
                    Customer(h) => s.customer_wrote(t(*h)),
                    Status(v, h) => s.ticket_status_changed(v, t(*h)),
                    Agent(id) => s.agent_replied(*id),
                }
            }
            assert_eq!(
                s.reply_decision(t(case.reply_at)).is_ok(),
                case.sent,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn a_customer_message_older_than_the_close_does_not_reopen() {
        let mut s = ConversationStatus::opened(t(0));
        s.ticket_status_changed("solved", t(5));
        s.customer_wrote(t(3));
        assert_eq!(s.state, ConversationState::Closed);
        assert!(matches!(
            s.reply_decision(t(6)),
            Err(ReplyRefusal::Closed { since }) if since == t(5)
        ));
    }

    #[test]
    fn agents_are_recorded_and_cleared_on_reopen() {
        let mut s = ConversationStatus::opened(t(0));
        s.agent_replied(30011);
        assert_eq!(
            (s.state, s.agent_id),
            (ConversationState::Assigned, Some(30011))
        );
        s.ticket_status_changed("solved", t(1));
        s.agent_replied(30012);
        assert_eq!(
            s.state,
            ConversationState::Closed,
            "no reply assigns a closed one"
        );
        s.customer_wrote(t(2));
        assert_eq!((s.state, s.agent_id), (ConversationState::Open, None));
    }

    #[test]
    fn refusals_say_why() {
        let mut s = ConversationStatus::opened(t(0));
        let late = s.reply_decision(t(30)).unwrap_err().to_string();
        assert!(late.contains("more than 24 hours ago"), "{late}");
        s.ticket_status_changed("solved", t(1));
        let closed = s.reply_decision(t(2)).unwrap_err().to_string();
        assert!(closed.contains("closed"), "{closed}");
        s.last_customer_at = None;
        s.state = ConversationState::Open;
        let never = s.reply_decision(t(2)).unwrap_err().to_string();
        assert!(never.contains("has not written"), "{never}");
    }
}
