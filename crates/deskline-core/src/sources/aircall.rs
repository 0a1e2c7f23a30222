//! Aircall call webhooks.
//!
//! Aircall posts JSON envelopes `{"resource": "call", "event": "call.ended", "timestamp": …,
//! "token": "…", "data": {<Call>}}` and signs nothing: the envelope's `token` is the webhook's
//! own token, checked by [`verify`].
//!
//! | `event` | event |
//! |---|---|
//! | `call.created` | [`CallEvent::Started`] |
//! | `call.answered` | [`CallEvent::Answered`], the agent from `data.user` |
//! | `call.ended` | [`CallEvent::Ended`]: the call's final word, sent once its data (recording, voicemail) is ready |
//! | `call.tagged`, `call.commented` | [`CallEvent::Disposition`]: tags and the latest comment |
//! | anything else (`call.hungup`, `call.ringing_on_agent`, …, other resources) | nothing |
//!
//! A call is answered when `answered_at` is set and no voicemail was left; a call that went to
//! voicemail is one missed call carrying the voicemail as its recording. See
//! docs/providers/aircall.md.

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use chrono::{DateTime, Utc};

use super::{Inbound, SourceError, VerifyError};
use crate::call::{AgentRef, CallLeg, CallRecord, Direction, Outcome, Provider, Recording};
use crate::event::{CallAnswer, CallEvent, CallStart, Disposition, ParsedEvent};
use crate::phone::{PartyNumber, PhoneParser};
use crate::sources::{epoch, json_kind, json_object_body};

/// Parses one Aircall webhook into call events: none, or one.
pub fn parse(inbound: &Inbound<'_>, phones: &PhoneParser) -> Result<Vec<ParsedEvent>, SourceError> {
    let envelope = envelope(inbound)?;
    let event = text(&envelope, "event").ok_or(SourceError::MissingField("event"))?;
    let resource = text(&envelope, "resource");
    if !event.starts_with("call.") || resource.as_deref().is_some_and(|r| r != "call") {
        // Users, numbers, contacts and messages are not calls.
        return Ok(Vec::new());
    }
    let kind = match event.as_str() {
        "call.created" => Kind::Created,
        "call.answered" => Kind::Answered,
        "call.ended" => Kind::Ended,
        "call.tagged" | "call.commented" => Kind::Disposition,
        // `call.hungup` comes before the data is complete (`call.ended` follows ~30 s later);
        // per-agent events (`call.ringing_on_agent`, `call.agent_declined`) and the rest add
        // nothing `call.ended` does not say.
        _ => return Ok(Vec::new()),
    };
    let data = match envelope.get("data") {
        Some(Value::Object(d)) => d,
        None | Some(Value::Null) => return Err(SourceError::MissingField("data")),
        Some(other) => {
            return Err(invalid(
                "data",
                format!("expected the call object, got {}", json_kind(other)),
            ))
        }
    };
    let call_id = text(data, "id").ok_or(SourceError::MissingField("data.id"))?;
    let sent_at = epoch_field(&envelope, "timestamp", "timestamp")?;
    let dedupe_key = match (kind, sent_at) {
        // A call is tagged and commented on many times, each with its own delivery.
        (Kind::Disposition, Some(t)) => format!("{call_id}:{event}:{}", t.timestamp()),
        _ => format!("{call_id}:{event}"),
    };
    let event = match kind {
        Kind::Created => CallEvent::Started(CallStart {
            provider: Provider::Aircall,
            direction: direction(data)?,
            customer: customer(data, phones),
            line: line(data, phones),
            started_at: epoch_field(data, "started_at", "data.started_at")?
                .or(sent_at)
                .ok_or(SourceError::MissingField("data.started_at"))?,
            ringing: Vec::new(),
            call_id,
        }),
        Kind::Answered => CallEvent::Answered(CallAnswer {
            provider: Provider::Aircall,
            at: epoch_field(data, "answered_at", "data.answered_at")?
                .or(sent_at)
                .ok_or(SourceError::MissingField("data.answered_at"))?,
            agent: data.get("user").and_then(agent).unwrap_or_default(),
            call_id,
        }),
        Kind::Ended => CallEvent::Ended(record(call_id, data, phones)?),
        Kind::Disposition => CallEvent::Disposition(disposition(call_id, data, sent_at)?),
    };
    Ok(vec![ParsedEvent { dedupe_key, event }])
}

/// The body as deskline stores it, once verified and parsed: the envelope's `token`, the
/// webhook's proof of origin, replaced by `"[redacted]"`, every other byte as received. A body
/// that is not a JSON object (never one that verified) is stored empty rather than risk it.
pub fn stored_body(body: &[u8]) -> Vec<u8> {
    super::redact::json_members(body, &["token"]).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Created,
    Answered,
    Ended,
    Disposition,
}

/// The envelope object.
fn envelope(inbound: &Inbound<'_>) -> Result<Map<String, Value>, SourceError> {
    json_object_body(
        inbound,
        "Aircall sends JSON; this is a form body",
        "the webhook",
    )
}

fn invalid(field: &'static str, reason: String) -> SourceError {
    SourceError::InvalidField { field, reason }
}

/// A field as text: strings trimmed, numbers printed; empty means absent.
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An epoch-seconds field (a number or a numeric string); null or absent is `None`.
fn epoch_field(
    map: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, SourceError> {
    let Some(value) = map.get(key) else {
        return Ok(None);
    };
    let secs = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| invalid(field, format!("{n} is not epoch seconds")))?,
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid(field, format!("{s:?} is not epoch seconds")))?,
        other => {
            return Err(invalid(
                field,
                format!("expected epoch seconds, got {}", json_kind(other)),
            ))
        }
    };
    epoch::seconds_or_millis(secs)
        .map(Some)
        .map_err(|e| invalid(field, e.reason(value)))
}

fn seconds(
    map: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<u64>, SourceError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| invalid(field, format!("{n} is not a number of seconds"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(field, format!("{s:?} is not a number of seconds"))),
        Some(other) => Err(invalid(
            field,
            format!("expected a number of seconds, got {}", json_kind(other)),
        )),
    }
}

fn direction(data: &Map<String, Value>) -> Result<Direction, SourceError> {
    let raw = text(data, "direction").ok_or(SourceError::MissingField("data.direction"))?;
    match raw.to_ascii_lowercase().as_str() {
        "inbound" => Ok(Direction::Inbound),
        "outbound" => Ok(Direction::Outbound),
        _ => Err(invalid(
            "data.direction",
            format!("{raw:?} is not inbound or outbound"),
        )),
    }
}

/// `raw_digits`: the customer's number, as Aircall formats it (`+1 415-555-0123`, or
/// `anonymous`).
fn customer(data: &Map<String, Value>, phones: &PhoneParser) -> PartyNumber {
    phones.parse(&text(data, "raw_digits").unwrap_or_default())
}

/// `number.digits`: the Aircall line.
fn line(data: &Map<String, Value>, phones: &PhoneParser) -> Option<PartyNumber> {
    let number = data.get("number")?.as_object()?;
    text(number, "digits").map(|d| phones.parse(&d))
}

/// A user (or team) object as an agent; `None` unless it names somebody.
fn agent(v: &Value) -> Option<AgentRef> {
    let map = v.as_object()?;
    let agent = AgentRef {
        email: text(map, "email"),
        name: text(map, "name"),
        extension: None,
        phone: None,
    };
    (agent.email.is_some() || agent.name.is_some()).then_some(agent)
}

fn url(data: &Map<String, Value>, keys: &[&str]) -> Option<Recording> {
    keys.iter()
        .find_map(|k| text(data, k))
        .map(|url| Recording {
            url,
            file_name: None,
        })
}

/// The finished call from `call.ended`.
fn record(
    call_id: String,
    data: &Map<String, Value>,
    phones: &PhoneParser,
) -> Result<CallRecord, SourceError> {
    let direction = direction(data)?;
    let started_at = epoch_field(data, "started_at", "data.started_at")?
        .ok_or(SourceError::MissingField("data.started_at"))?;
    let answered_at = epoch_field(data, "answered_at", "data.answered_at")?;
    let ended_at = epoch_field(data, "ended_at", "data.ended_at")?;
    let total_seconds = match seconds(data, "duration", "data.duration")? {
        Some(d) => d,
        None => ended_at.map_or(0, |e| (e - started_at).num_seconds().max(0).unsigned_abs()),
    };
    let voicemail = url(data, &["voicemail", "voicemail_short_url"]);
    // Answered iff somebody answered (`answered_at` set) and the caller did not end up leaving
    // a voicemail: a call forwarded to voicemail is one missed call with the voicemail.
    let answered = answered_at.is_some() && voicemail.is_none();
    let user = data.get("user").and_then(agent);
    let transferred_by = data.get("transferred_by").and_then(agent);
    let transferred_to = data.get("transferred_to").and_then(agent);
    let mut legs = Vec::new();
    if answered {
        // A transfer is two legs: who took the call and transferred it, then who received it.
        let transferred = transferred_to.is_some();
        let first = transferred_by.or_else(|| user.clone());
        legs.push(CallLeg {
            started_at: answered_at,
            ended_at: if transferred { None } else { ended_at },
            duration_seconds: match (answered_at, ended_at, transferred) {
                (Some(a), Some(e), false) => Some((e - a).num_seconds().max(0).unsigned_abs()),
                _ => None,
            },
            received: true,
            status: "answered".to_string(),
            agents: first.into_iter().collect(),
        });
        if let Some(to) = transferred_to {
            legs.push(CallLeg {
                started_at: None,
                ended_at,
                duration_seconds: None,
                received: true,
                status: "transferred".to_string(),
                agents: vec![to],
            });
        }
    } else {
        let status = if voicemail.is_some() {
            "voicemail".to_string()
        } else {
            text(data, "missed_call_reason").unwrap_or_else(|| "missed".to_string())
        };
        legs.push(CallLeg {
            started_at: Some(started_at),
            ended_at,
            duration_seconds: Some(total_seconds),
            received: false,
            status,
            agents: user.into_iter().collect(),
        });
    }
    // The first agent who took the call; the leg list lets a policy pick the last instead.
    let answered_by = legs
        .iter()
        .find(|l| l.received)
        .and_then(|l| l.agents.first().cloned());
    let talk_seconds = if answered {
        match (answered_at, ended_at) {
            (Some(a), Some(e)) => Some((e - a).num_seconds().max(0).unsigned_abs()),
            _ => None,
        }
    } else {
        Some(0)
    };
    let department = data
        .get("teams")
        .and_then(Value::as_array)
        .and_then(|teams| {
            teams
                .iter()
                .filter_map(Value::as_object)
                .find_map(|t| text(t, "name"))
        });
    Ok(CallRecord {
        provider: Provider::Aircall,
        call_id,
        direction,
        customer: customer(data, phones),
        line: line(data, phones),
        started_at,
        ended_at,
        total_seconds,
        talk_seconds,
        outcome: if answered {
            Outcome::Answered
        } else {
            Outcome::Missed
        },
        answered_by,
        department,
        location: text(data, "country_code_a2"),
        recording: voicemail.or_else(|| url(data, &["recording", "recording_short_url"])),
        legs,
    })
}

/// Tags (`tags[].name`) and the latest comment (`comments[].content`) of a call.
fn disposition(
    call_id: String,
    data: &Map<String, Value>,
    sent_at: Option<DateTime<Utc>>,
) -> Result<Disposition, SourceError> {
    let list = |key: &str, field: &'static str| -> Result<Vec<&Map<String, Value>>, SourceError> {
        match data.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.iter().filter_map(Value::as_object).collect()),
            Some(other) => Err(invalid(
                field,
                format!("expected a list, got {}", json_kind(other)),
            )),
        }
    };
    let tags = list("tags", "data.tags")?;
    let comments = list("comments", "data.comments")?;
    let latest = comments.last();
    let agent = latest
        .and_then(|c| c.get("posted_by"))
        .and_then(agent)
        .or_else(|| tags.last().and_then(|t| t.get("tagged_by")).and_then(agent))
        .or_else(|| data.get("user").and_then(agent));
    let at = sent_at
        .or(epoch_field(data, "ended_at", "data.ended_at")?)
        .ok_or(SourceError::MissingField("timestamp"))?;
    Ok(Disposition {
        provider: Provider::Aircall,
        call_id,
        at,
        dispositions: tags.iter().filter_map(|t| text(t, "name")).collect(),
        comment: latest.and_then(|c| text(c, "content")),
        agent,
    })
}

/// Checks the envelope's `token` against the webhook's token (constant time). Aircall signs
/// nothing, so this is its only proof of origin: keep the token secret and the URL on HTTPS.
/// An empty configured token never verifies.
pub fn verify(inbound: &Inbound<'_>, secret: &str) -> Result<(), VerifyError> {
    let given = serde_json::from_slice::<Value>(inbound.body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_string))
        .filter(|t| !t.trim().is_empty())
        .ok_or(VerifyError::Missing("token"))?;
    if !secret.is_empty() && bool::from(given.trim().as_bytes().ct_eq(secret.as_bytes())) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch("token"))
    }
}

#[cfg(test)]
mod tests;
