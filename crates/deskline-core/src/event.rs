//! What providers tell us happened to a call, one event at a time. A call may arrive as a
//! single finished record (MyOperator After-Call, Aircall `call.ended`) or as several events
//! (ringing, answered, ended, disposition), possibly twice or out of order; the worker folds
//! them into one ticket per call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::call::{AgentRef, CallLeg, CallRecord, Direction, Provider};
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

/// Every agent a call's answered events named, kept between events: Twilio (and MyOperator v2)
/// name an agent only there, one event per agent who took the call, so a transfer is two.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AnswerLog(Vec<LoggedAnswer>);

/// One answer in an [`AnswerLog`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct LoggedAnswer {
    /// When, if known (answers stored before the log kept times have none).
    at: Option<DateTime<Utc>>,
    /// Who.
    agent: AgentRef,
}

impl AnswerLog {
    /// Reads a stored log. A single agent is how one answer was stored before every answer
    /// was kept; anything unreadable is an empty log.
    pub fn from_json(text: &str) -> AnswerLog {
        serde_json::from_str::<AnswerLog>(text)
            .or_else(|_| {
                serde_json::from_str::<AgentRef>(text)
                    .map(|agent| AnswerLog(vec![LoggedAnswer { at: None, agent }]))
            })
            .unwrap_or_default()
    }

    /// The log as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Adds an answer. An agent is listed once, at their latest answer: Twilio reports an
    /// agent's answer again when their leg completes (a second or so apart), a retried job
    /// records it again, and an agent who takes the call back after a transfer is again the
    /// one who took it last.
    pub fn record(&mut self, answer: &CallAnswer) {
        match self.0.iter_mut().find(|a| a.agent == answer.agent) {
            Some(known) => known.at = known.at.max(Some(answer.at)),
            None => self.0.push(LoggedAnswer {
                at: Some(answer.at),
                agent: answer.agent.clone(),
            }),
        }
    }

    /// Whether no answer was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The agent who answered last (an answer without a time counts as the earliest).
    pub fn latest(&self) -> Option<&AgentRef> {
        self.0.iter().max_by_key(|a| a.at).map(|a| &a.agent)
    }

    /// One received leg per answer, for an end record without a leg log of its own, so the
    /// planner's first-or-last policy chooses among them by time.
    pub fn legs(&self) -> Vec<CallLeg> {
        self.0
            .iter()
            .map(|a| CallLeg {
                started_at: a.at,
                ended_at: None,
                duration_seconds: None,
                received: true,
                status: "answered".to_string(),
                agents: vec![a.agent.clone()],
            })
            .collect()
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::plan::{answering_agent, AnsweringAgent};

    fn answer(email: &str, minute: u32) -> CallAnswer {
        CallAnswer {
            provider: Provider::Twilio,
            call_id: "CA1".into(),
            at: Utc
                .with_ymd_and_hms(2024, 11, 23, 12, minute, 0)
                .single()
                .expect("time"),
            agent: AgentRef {
                email: Some(email.into()),
                ..AgentRef::default()
            },
        }
    }

    #[test]
    fn answers_become_legs_the_policy_chooses_from_by_time() {
        let mut log = AnswerLog::default();
        // Delivered out of order; b's answer again (a retried job, or Twilio's report when
        // b's leg completed, a second off).
        for a in [
            answer("b@x.test", 5),
            answer("a@x.test", 1),
            answer("b@x.test", 5),
            answer("b@x.test", 4),
        ] {
            log.record(&a);
        }
        let log = AnswerLog::from_json(&log.to_json());
        assert_eq!(log.legs().len(), 2);
        assert_eq!(log.latest().and_then(AgentRef::email), Some("b@x.test"));
        let call = CallRecord {
            provider: Provider::Twilio,
            call_id: "CA1".into(),
            direction: Direction::Inbound,
            customer: PartyNumber::Withheld,
            line: None,
            started_at: answer("a@x.test", 0).at,
            ended_at: None,
            total_seconds: 600,
            talk_seconds: Some(600),
            outcome: crate::call::Outcome::Answered,
            answered_by: None,
            department: None,
            location: None,
            recording: None,
            legs: log.legs(),
        };
        let pick = |policy| answering_agent(&call, policy).and_then(AgentRef::email);
        assert_eq!(pick(AnsweringAgent::First), Some("a@x.test"));
        assert_eq!(pick(AnsweringAgent::Last), Some("b@x.test"));
    }

    #[test]
    fn an_agent_who_takes_the_call_back_is_the_last_again() {
        let mut log = AnswerLog::default();
        for a in [
            answer("a@x.test", 1),
            answer("b@x.test", 3),
            answer("a@x.test", 7),
        ] {
            log.record(&a);
        }
        let latest_leg = log.legs().into_iter().max_by_key(|l| l.started_at);
        assert_eq!(
            latest_leg
                .and_then(|l| l.agents[0].email.clone())
                .as_deref(),
            Some("a@x.test")
        );
    }

    #[test]
    fn an_answer_stored_as_one_agent_still_reads() {
        let stored = r#"{"email":"a@x.test","name":null,"extension":null,"phone":null}"#;
        let log = AnswerLog::from_json(stored);
        assert_eq!(log.latest().and_then(AgentRef::email), Some("a@x.test"));
        assert_eq!(log.legs()[0].started_at, None);
        assert!(AnswerLog::from_json("not json").is_empty());
    }
}
