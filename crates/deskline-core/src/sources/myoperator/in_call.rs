//! The v1 In-Call webhook: one POST per call-state change while the call is live.
//!
//! Its documented fields are `uid` (the call id), `clid` (the caller), `call_state` (0 ringing,
//! 1 answered), `event` (1 start, 2 update), `users` (agent numbers) and `public_ivr_id`. The
//! payload is customisable, so only `uid` and `call_state` are required; `event` adds nothing
//! `call_state` does not say and is ignored, like `public_ivr_id` and any unknown field.
//!
//! The field map has no time: a `timestamp`, `event_time` or `time` field is read if the
//! payload was customised to carry one, else the epoch inside `uid` (`d5.<epoch>.<n>`). That
//! epoch is the call's start, so for an answered event it is a lower bound of the answer time.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{
    agents_from, direction_value, invalid, number, short_hash, text, time_value, SourceError,
};
use crate::call::{AgentRef, Direction, Provider};
use crate::event::{CallAnswer, CallEvent, CallStart, ParsedEvent};
use crate::phone::{PartyNumber, PhoneParser};

/// Optional time fields, in order of preference.
const TIME_FIELDS: &[&str] = &["timestamp", "event_time", "time"];

/// In-Call → `Started` (ringing) or `Answered`.
///
/// The dedupe key is `<uid>:<started|answered>:<hash of the agents' numbers>`: a redelivery
/// repeats it, while an update that rings other agents or hands the call to another agent is
/// a new event.
pub(super) fn event(
    body: &Map<String, Value>,
    phones: &PhoneParser,
) -> Result<ParsedEvent, SourceError> {
    let uid = text(body, "uid").ok_or(SourceError::MissingField("uid (In-Call call id)"))?;
    let state = number(body, "call_state")?.ok_or(SourceError::MissingField(
        "call_state (In-Call: 0 ringing, 1 answered)",
    ))?;
    let users = body
        .get("users")
        .map(|v| agents_from(v, phones))
        .unwrap_or_default();
    let at = event_time(body, &uid)?;
    let event = match state {
        0 => CallEvent::Started(CallStart {
            provider: Provider::MyOperator,
            call_id: uid.clone(),
            direction: match body.get("direction") {
                Some(v) => direction_value("direction", v)?.unwrap_or(Direction::Inbound),
                None => Direction::Inbound,
            },
            customer: text(body, "clid").map_or(PartyNumber::Withheld, |c| phones.parse(&c)),
            line: None,
            started_at: at,
            ringing: users.clone(),
        }),
        // With several numbers on an answered event, the first is taken as the one who
        // answered; the After-Call leg log settles it.
        1 => CallEvent::Answered(CallAnswer {
            provider: Provider::MyOperator,
            call_id: uid.clone(),
            at,
            agent: users.first().cloned().unwrap_or_default(),
        }),
        other => {
            return Err(invalid(
                "call_state",
                format!("{other} is not 0 (ringing) or 1 (answered)"),
            ))
        }
    };
    let mut who: Vec<String> = users.iter().map(agent_key).collect();
    who.sort();
    let dedupe_key = format!("{uid}:{}:{}", event.kind(), short_hash(&who));
    Ok(ParsedEvent { dedupe_key, event })
}

fn agent_key(a: &AgentRef) -> String {
    [&a.phone, &a.email, &a.extension, &a.name]
        .iter()
        .map(|p| p.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("/")
}

fn event_time(body: &Map<String, Value>, uid: &str) -> Result<DateTime<Utc>, SourceError> {
    for &field in TIME_FIELDS {
        if let Some(v) = body.get(field) {
            if let Some(t) = time_value(field, v)? {
                return Ok(t);
            }
        }
    }
    uid_epoch(uid).ok_or(SourceError::MissingField(
        "timestamp (the In-Call time: add a timestamp field, or send a uid like d5.<epoch>.<n>)",
    ))
}

/// The call start embedded in a MyOperator unique call id (`d5.1594969927.2496720`): the first
/// dot-separated part of 10 (seconds) or 13 (milliseconds) digits that is a time between 2000
/// and 2100.
fn uid_epoch(uid: &str) -> Option<DateTime<Utc>> {
    uid.split('.')
        .filter(|p| (p.len() == 10 || p.len() == 13) && p.chars().all(|c| c.is_ascii_digit()))
        .filter_map(|p| p.parse::<i64>().ok())
        .filter_map(|n| crate::sources::epoch::seconds_or_millis(n).ok())
        .find(|t| (946_684_800..4_102_444_800).contains(&t.timestamp()))
}
