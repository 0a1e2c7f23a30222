//! The v1 After-Call webhook: the call log, sent once the call ends.

use serde_json::{Map, Value};

use super::{correlation_id, duration, epoch_field, invalid, number, text, SourceError};
use crate::call::{AgentRef, CallLeg, CallRecord, Direction, Outcome, Provider, Recording};
use crate::event::{CallEvent, ParsedEvent};
use crate::phone::{PartyNumber, PhoneParser};

/// After-Call → one `Ended` event keyed by `_ai`.
pub(super) fn events(
    log: &Map<String, Value>,
    phones: &PhoneParser,
) -> Result<Vec<ParsedEvent>, SourceError> {
    let (record, dedupe_key) = correlated_record(log, phones)?;
    Ok(vec![ParsedEvent {
        dedupe_key,
        event: CallEvent::Ended(record),
    }])
}

/// The call log's record with `call_id` set to the correlation id (`_pm.ui`, else `_ai`),
/// and `_ai`, its dedupe key. `_ai` stays the key so that a call log delivered before the
/// correlation id existed still deduplicates against its redeliveries.
pub(super) fn correlated_record(
    log: &Map<String, Value>,
    phones: &PhoneParser,
) -> Result<(CallRecord, String), SourceError> {
    let mut record = record_from_log(log, phones)?;
    let log_id = record.call_id.clone();
    if let Some(id) = correlation_id(log) {
        record.call_id = id;
    }
    Ok((record, log_id))
}

fn agent(v: &Value) -> AgentRef {
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    AgentRef {
        email: get("_em"),
        name: get("_na"),
        extension: get("_ex"),
        phone: get("_nr").or_else(|| get("_ct")),
    }
}

fn legs(log: &Map<String, Value>) -> Result<Vec<CallLeg>, SourceError> {
    let Some(list) = log.get("_ld") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(invalid("_ld", "expected a list of call legs".into()));
    };
    let mut out = Vec::new();
    for leg in list {
        let Some(leg) = leg.as_object() else {
            return Err(invalid("_ld", "every call leg must be an object".into()));
        };
        let action = text(leg, "_ac").unwrap_or_default();
        let status = text(leg, "_ds").unwrap_or_default();
        let received = action.eq_ignore_ascii_case("received")
            || (action.is_empty() && status.eq_ignore_ascii_case("answer"));
        let agents = leg
            .get("_rr")
            .and_then(Value::as_array)
            .map(|rr| rr.iter().map(agent).collect())
            .unwrap_or_default();
        out.push(CallLeg {
            started_at: epoch_field(leg, "_st", "_ld._st")?,
            ended_at: epoch_field(leg, "_et", "_ld._et")?,
            duration_seconds: text(leg, "_dr")
                .map(|d| duration("_ld._dr", &d))
                .transpose()?,
            received,
            status: if action.is_empty() { status } else { action },
            agents,
        });
    }
    Ok(out)
}

/// Builds the record from a call-log object. Its `call_id` is `_ai`, the call-log id.
pub fn record_from_log(
    log: &Map<String, Value>,
    phones: &PhoneParser,
) -> Result<CallRecord, SourceError> {
    let call_id = text(log, "_ai").ok_or(SourceError::MissingField("_ai (call id)"))?;
    let direction = match number(log, "_ev")? {
        Some(1) | None => Direction::Inbound,
        Some(2) => Direction::Outbound,
        Some(other) => {
            return Err(invalid(
                "_ev",
                format!("{other} is not 1 (incoming) or 2 (outgoing)"),
            ))
        }
    };
    let started_at = match epoch_field(log, "_st", "_st")? {
        Some(t) => t,
        None => {
            epoch_field(log, "_ms", "_ms")?.ok_or(SourceError::MissingField("_st (call start)"))?
        }
    };
    let ended_at = epoch_field(log, "_et", "_et")?;
    let total_seconds = match text(log, "_dr") {
        Some(d) => duration("_dr", &d)?,
        None => ended_at.map_or(0, |e| (e - started_at).num_seconds().max(0).unsigned_abs()),
    };
    // The customer's number: E.164 in `_cl` when MyOperator knows the country, else raw `_cr`.
    let customer = match (text(log, "_cl"), text(log, "_cr")) {
        (Some(cl), _) => phones.parse(&cl),
        // `_cr` has no country code; `_cy` gives it when present.
        (None, Some(cr)) => match text(log, "_cy") {
            Some(cc) if !cr.starts_with('+') && cc.chars().all(|c| c.is_ascii_digit()) => {
                phones.parse(&format!("+{cc}{}", cr.trim_start_matches('0')))
            }
            _ => phones.parse(&cr),
        },
        (None, None) => PartyNumber::Withheld,
    };
    let legs = legs(log)?;
    // Missed means nobody received the call by the per-leg log; a simultaneous ring where one
    // agent answered is answered, whatever the other legs say. Without a leg log, fall back
    // to the call's own status (1 answered, 2 missed).
    let received_leg = legs.iter().find(|l| l.received);
    let outcome = if received_leg.is_some() {
        Outcome::Answered
    } else if !legs.is_empty() {
        Outcome::Missed
    } else {
        match number(log, "_su")? {
            Some(1) => Outcome::Answered,
            Some(2) | None => Outcome::Missed,
            Some(other) => {
                return Err(invalid(
                    "_su",
                    format!("{other} is not 1 (answered) or 2 (missed)"),
                ))
            }
        }
    };
    let answered_by = received_leg.and_then(|l| l.agents.first().cloned());
    let talk_seconds = match outcome {
        Outcome::Answered => received_leg.and_then(|l| l.duration_seconds),
        Outcome::Missed => Some(0),
    };
    let recording = text(log, "_fu").map(|url| Recording {
        url: url.replace("\\/", "/"),
        file_name: text(log, "_fn"),
    });
    Ok(CallRecord {
        provider: Provider::MyOperator,
        call_id,
        direction,
        customer,
        line: None,
        started_at,
        ended_at,
        total_seconds,
        talk_seconds,
        outcome,
        answered_by,
        department: text(log, "_dn"),
        location: text(log, "_se"),
        recording,
        legs,
    })
}
