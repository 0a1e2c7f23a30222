//! MyOperator's After-Call webhook (the v1 call-log format with terse `_xx` keys).
//!
//! The call log arrives as a bare JSON object, wrapped as `{"myoperator": {...}}` (or with the
//! object as a JSON string), or as the form field `myoperator=<json>`. The key meanings are
//! inferred from MyOperator's samples and its search API's long names; see
//! docs/providers/myoperator.md.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::{BodyKind, SourceError};
use crate::call::{AgentRef, CallLeg, CallRecord, Direction, Outcome, Provider, Recording};
use crate::phone::{PartyNumber, PhoneParser};

/// Parses a MyOperator webhook into call events (today: the After-Call record).
pub fn parse(
    inbound: &super::Inbound<'_>,
    phones: &PhoneParser,
) -> Result<Vec<crate::event::ParsedEvent>, SourceError> {
    let record = parse_after_call(inbound.body, inbound.content_type(), phones)?;
    Ok(vec![crate::event::ParsedEvent::keyed_by_call(
        crate::event::CallEvent::Ended(record),
    )])
}

/// Parses an After-Call webhook body into a call record.
pub fn parse_after_call(
    body: &[u8],
    content_type: Option<&str>,
    phones: &PhoneParser,
) -> Result<CallRecord, SourceError> {
    let log = call_log(body, BodyKind::from_content_type(content_type)?)?;
    record_from_log(&log, phones)
}

/// Extracts the call-log object from any of the accepted envelopes.
pub fn call_log(body: &[u8], kind: BodyKind) -> Result<Map<String, Value>, SourceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty);
    }
    let value = match kind {
        BodyKind::Json => parse_json(body)?,
        BodyKind::Form => {
            let field = form_urlencoded::parse(body)
                .find(|(k, _)| k == "myoperator")
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| {
                    SourceError::Shape(
                        "the form has no myoperator field holding the call log".to_string(),
                    )
                })?;
            parse_json(field.as_bytes())?
        }
    };
    let value = match value {
        Value::Object(mut outer) if outer.contains_key("myoperator") => {
            match outer.remove("myoperator") {
                Some(Value::String(s)) => parse_json(s.as_bytes())?,
                Some(inner) => inner,
                None => Value::Null,
            }
        }
        other => other,
    };
    match value {
        Value::Object(log) => Ok(log),
        other => Err(SourceError::Shape(format!(
            "expected the call log as a JSON object, got {}",
            kind_of(&other)
        ))),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::MalformedJson(e.to_string()))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field as text: strings as they are, numbers printed; empty means absent.
fn text(log: &Map<String, Value>, key: &str) -> Option<String> {
    match log.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A field as a whole number, from a number or a numeric string.
fn number(log: &Map<String, Value>, key: &'static str) -> Result<Option<i64>, SourceError> {
    match log.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid(key, format!("{n} is not a whole number"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(key, format!("{s:?} is not a whole number"))),
        Some(other) => Err(invalid(
            key,
            format!("expected a number, got {}", kind_of(other)),
        )),
    }
}

fn invalid(field: &'static str, reason: String) -> SourceError {
    SourceError::InvalidField { field, reason }
}

fn epoch(field: &'static str, secs: i64) -> Result<DateTime<Utc>, SourceError> {
    // Accept milliseconds too: some MyOperator fields (`_ms`) carry them.
    let secs = if secs > 100_000_000_000 {
        secs / 1000
    } else {
        secs
    };
    if secs <= 0 {
        return Err(invalid(field, format!("{secs} is not a time")));
    }
    Utc.timestamp_opt(secs, 0)
        .single()
        .ok_or_else(|| invalid(field, format!("{secs} is out of range")))
}

/// Parses MyOperator's `HH:MM:SS` durations (also `MM:SS` and plain seconds).
fn duration(field: &'static str, s: &str) -> Result<u64, SourceError> {
    let parts: Result<Vec<u64>, _> = s.trim().split(':').map(str::parse::<u64>).collect();
    match parts.as_deref() {
        Ok([secs]) => Ok(*secs),
        Ok([m, sec]) if *sec < 60 => Ok(m * 60 + sec),
        Ok([h, m, sec]) if *m < 60 && *sec < 60 => Ok(h * 3600 + m * 60 + sec),
        _ => Err(invalid(
            field,
            format!("{s:?} is not a duration like 00:01:05"),
        )),
    }
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
            started_at: number(leg, "_st")?
                .map(|s| epoch("_ld._st", s))
                .transpose()?,
            ended_at: number(leg, "_et")?
                .map(|s| epoch("_ld._et", s))
                .transpose()?,
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

/// Builds the record from a call-log object.
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
    let started_at = match number(log, "_st")? {
        Some(s) => epoch("_st", s)?,
        None => match number(log, "_ms")? {
            Some(ms) => epoch("_ms", ms)?,
            None => return Err(SourceError::MissingField("_st (call start)")),
        },
    };
    let ended_at = number(log, "_et")?.map(|s| epoch("_et", s)).transpose()?;
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

#[cfg(test)]
mod tests;
