//! MyOperator's webhooks, every one of them: the v1 calling webhooks (After-Call, In-Call,
//! Disposition; terse `_xx` call-log keys, except In-Call) and the v2 envelope (`event_id`,
//! `event_type`, `session_id`, `payload`).
//!
//! [`parse`] recognises the webhook by its keys ([`detect`]) and turns it into call events.
//! The key meanings are inferred from MyOperator's samples and its search API's long names,
//! and the v2 `payload` field names are not published; docs/providers/myoperator.md lists
//! exactly what is read.
//!
//! # One call id for all the events of a call
//!
//! The worker folds the events of a call by [`CallEvent::call_id`](crate::event::CallEvent).
//! For v1 that id is the **correlation id**: `_pm[ky=ui].vl` (MyOperator's "unique call id",
//! `d5.<epoch>.<n>`) when the call log has it, else `_ai`. In-Call events carry the same
//! value as `uid` (unverified, but it is the only id they carry), so In-Call, After-Call and
//! Disposition events of one call share one id. The After-Call's dedupe key stays `_ai`, so
//! redeliveries still deduplicate exactly as they did before. For v2 the call id is
//! `session_id` and the dedupe key `event_id`.
//!
//! [`parse_after_call`] and [`record_from_log`] are the older single-record entry points: their
//! record's `call_id` is still `_ai`, which keys the tickets the current ingress created, so
//! their behaviour does not change. [`parse`] re-keys that record on the correlation id.

mod after_call;
mod disposition;
mod in_call;
mod v2;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use after_call::record_from_log;

use super::{BodyKind, Inbound, SourceError};
use crate::call::{AgentRef, CallRecord, Direction};
use crate::event::ParsedEvent;
use crate::phone::{PartyNumber, PhoneParser};
use crate::sources::{epoch, json_kind};

/// Which MyOperator webhook a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Webhook {
    /// The v2 envelope: has `event_id` or `event_type`.
    V2,
    /// The v1 In-Call webhook: has `uid` or `call_state`.
    InCall,
    /// The v1 Disposition webhook: a call log with `_dsp`.
    Disposition,
    /// The v1 After-Call webhook: a call log (`_ai` and other `_xx` keys).
    AfterCall,
}

/// Recognises a webhook body. A key counts when its value is not null; the first rule that
/// matches wins:
///
/// 1. `event_id` or `event_type` → [`Webhook::V2`];
/// 2. `uid` or `call_state` → [`Webhook::InCall`];
/// 3. `_dsp` → [`Webhook::Disposition`];
/// 4. `_ai`, or any other `_`-prefixed key → [`Webhook::AfterCall`].
///
/// The shapes share no key, so the order only matters for bodies that mix them. A shape that
/// matches on one key but lacks its others fails later, in its parser, naming the missing
/// field. A body that matches none is a [`SourceError::Shape`] that lists what was expected
/// and which keys were found.
pub fn detect(body: &Map<String, Value>) -> Result<Webhook, SourceError> {
    let has = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
    if has("event_id") || has("event_type") {
        Ok(Webhook::V2)
    } else if has("uid") || has("call_state") {
        Ok(Webhook::InCall)
    } else if has("_dsp") {
        Ok(Webhook::Disposition)
    } else if body.iter().any(|(k, v)| k.starts_with('_') && !v.is_null()) {
        Ok(Webhook::AfterCall)
    } else {
        let mut keys: Vec<&str> = body.keys().map(String::as_str).take(12).collect();
        if body.len() > keys.len() {
            keys.push("…");
        }
        let found = if keys.is_empty() {
            "the object is empty".to_string()
        } else {
            format!("found keys {}", keys.join(", "))
        };
        Err(SourceError::Shape(format!(
            "not a MyOperator webhook: expected event_id and event_type (v2), uid and \
             call_state (In-Call), or a call log with _ai (After-Call; with _dsp: \
             Disposition); {found}"
        )))
    }
}

/// Parses any MyOperator webhook into call events, each with the key that recognises its
/// redelivery:
///
/// | webhook | events | dedupe key |
/// |---|---|---|
/// | After-Call | `Ended` | `_ai` |
/// | In-Call, `call_state` 0 / 1 | `Started` / `Answered` | `<uid>:started:<hash of users>` / `<uid>:answered:<hash>` |
/// | Disposition | `Ended` (its call log), then `Disposition` when it has a disposition or a comment | `_ai`; `<call id>:disposition:<hash of the content>` |
/// | v2 `call.initiated`, `call.dial_begin` | `Started` | `event_id` |
/// | v2 `call.answered` | `Answered` | `event_id` |
/// | v2 `call.summary`; `call.end` with a start time | `Ended` | `event_id` |
/// | v2 `disposition`, `call.disposition` | `Disposition` | `event_id` |
/// | v2 other channels (WhatsApp), other event types, `call.end` without a start time | none | |
pub fn parse(inbound: &Inbound<'_>, phones: &PhoneParser) -> Result<Vec<ParsedEvent>, SourceError> {
    let kind = BodyKind::from_content_type(inbound.content_type())?;
    let body = webhook_object(inbound.body, kind)?;
    match detect(&body)? {
        Webhook::V2 => v2::events(&body, phones),
        Webhook::InCall => in_call::event(&body, phones).map(|e| vec![e]),
        Webhook::Disposition => disposition::events(&body, phones),
        Webhook::AfterCall => after_call::events(&body, phones),
    }
}

/// Parses an After-Call webhook body into a call record whose `call_id` is `_ai` (the key
/// existing tickets use; [`parse`] gives the same record keyed by the correlation id).
pub fn parse_after_call(
    body: &[u8],
    content_type: Option<&str>,
    phones: &PhoneParser,
) -> Result<CallRecord, SourceError> {
    let log = call_log(body, BodyKind::from_content_type(content_type)?)?;
    record_from_log(&log, phones)
}

/// Extracts the call-log object from any of the accepted envelopes: the bare object,
/// `{"myoperator": {...}}` (also with the object as a JSON string), or the form field
/// `myoperator=<json>`.
pub fn call_log(body: &[u8], kind: BodyKind) -> Result<Map<String, Value>, SourceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty);
    }
    let value = match kind {
        BodyKind::Json => parse_json(body)?,
        BodyKind::Form => form_field(body)?.ok_or_else(|| {
            SourceError::Shape("the form has no myoperator field holding the call log".to_string())
        })?,
    };
    into_object(value, "the call log")
}

/// The v1 correlation id of a call log: `_pm[ky=ui].vl` when present, else `_ai`. In-Call
/// events carry the same call's id as `uid`.
pub fn correlation_id(log: &Map<String, Value>) -> Option<String> {
    unique_call_id(log).or_else(|| text(log, "_ai"))
}

/// `_pm[ky=ui].vl`; `_pm` is a list of `{"ky": .., "vl": ..}` pairs (also read as a plain
/// object `{"ui": ..}`).
fn unique_call_id(log: &Map<String, Value>) -> Option<String> {
    match log.get("_pm")? {
        Value::Array(pairs) => pairs
            .iter()
            .filter_map(Value::as_object)
            .find(|p| text(p, "ky").as_deref() == Some("ui"))
            .and_then(|p| text(p, "vl")),
        Value::Object(map) => text(map, "ui"),
        _ => None,
    }
}

/// Like [`call_log`], for any webhook: a form without a `myoperator` field is read as flat
/// fields (legacy In-Call webhooks posted `uid=..&call_state=..`), a repeated field or one
/// named `x[]` becoming a list.
fn webhook_object(body: &[u8], kind: BodyKind) -> Result<Map<String, Value>, SourceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty);
    }
    let value = match kind {
        BodyKind::Json => parse_json(body)?,
        BodyKind::Form => match form_field(body)? {
            Some(v) => v,
            None => Value::Object(form_fields(body)),
        },
    };
    into_object(value, "a MyOperator webhook")
}

fn form_field(body: &[u8]) -> Result<Option<Value>, SourceError> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "myoperator")
        .map(|(_, v)| parse_json(v.as_bytes()))
        .transpose()
}

fn form_fields(body: &[u8]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        let (key, list) = match k.strip_suffix("[]") {
            Some(base) => (base.to_string(), true),
            None => (k.into_owned(), false),
        };
        let v = Value::String(v.into_owned());
        match out.get_mut(&key) {
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(key, if list { Value::Array(vec![v]) } else { v });
            }
        }
    }
    out
}

/// Unwraps `{"myoperator": ...}` and insists on an object.
fn into_object(value: Value, what: &str) -> Result<Map<String, Value>, SourceError> {
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
        Value::Object(map) => Ok(map),
        other => Err(SourceError::Shape(format!(
            "expected {what} as a JSON object, got {}",
            json_kind(&other)
        ))),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::MalformedJson(e.to_string()))
}

/// A value as text: strings trimmed, numbers printed; empty means absent.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A field as text: strings as they are, numbers printed; empty means absent.
fn text(log: &Map<String, Value>, key: &str) -> Option<String> {
    log.get(key).and_then(as_text)
}

/// A field as a whole number, from a number or a numeric string.
fn number(log: &Map<String, Value>, key: &'static str) -> Result<Option<i64>, SourceError> {
    log.get(key).map_or(Ok(None), |v| whole_number(key, v))
}

fn whole_number(field: &'static str, v: &Value) -> Result<Option<i64>, SourceError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid(field, format!("{n} is not a whole number"))),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(field, format!("{s:?} is not a whole number"))),
        other => Err(invalid(
            field,
            format!("expected a number, got {}", json_kind(other)),
        )),
    }
}

fn invalid(field: &'static str, reason: String) -> SourceError {
    SourceError::InvalidField { field, reason }
}

/// An epoch time (seconds or milliseconds, a number or a numeric string) in `field`; empty
/// means absent.
fn epoch_value(field: &'static str, v: &Value) -> Result<Option<DateTime<Utc>>, SourceError> {
    let Some(n) = whole_number(field, v)? else {
        return Ok(None);
    };
    epoch::seconds_or_millis(n)
        .map(Some)
        .map_err(|e| invalid(field, e.reason(v)))
}

/// [`epoch_value`] of `log[key]`, named `field` in errors.
fn epoch_field(
    log: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, SourceError> {
    log.get(key).map_or(Ok(None), |v| epoch_value(field, v))
}

/// A time given as epoch seconds or milliseconds (number or numeric string), ISO-8601 with an
/// offset, or a naive `YYYY-MM-DD HH:MM:SS` read as UTC (MyOperator's naive `_rst` leg times
/// match its epoch fields read that way). Empty means absent.
fn time_value(field: &'static str, v: &Value) -> Result<Option<DateTime<Utc>>, SourceError> {
    let s = match v {
        Value::Null => return Ok(None),
        Value::Number(_) => return epoch_value(field, v),
        Value::String(s) => s.trim(),
        other => {
            return Err(invalid(
                field,
                format!("expected a time, got {}", json_kind(other)),
            ))
        }
    };
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return epoch_value(field, v);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(Some(t.and_utc()));
        }
    }
    Err(invalid(
        field,
        format!("{s:?} is not a time (epoch seconds, or ISO-8601 like 2024-11-23T11:55:21Z)"),
    ))
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

/// A duration given as seconds (a number, possibly fractional) or a duration string.
fn seconds_value(field: &'static str, v: &Value) -> Result<Option<u64>, SourceError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(s) => Ok(Some(s)),
            None => match n.as_f64() {
                Some(f) if f >= 0.0 && f.is_finite() => Ok(Some(f.round() as u64)),
                _ => Err(invalid(field, format!("{n} is not a number of seconds"))),
            },
        },
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => duration(field, s).map(Some),
        other => Err(invalid(
            field,
            format!(
                "expected seconds or a duration like 00:01:05, got {}",
                json_kind(other)
            ),
        )),
    }
}

/// Reads `incoming`/`outgoing` (also `inbound`/`outbound`, `1`/`2`); empty means absent.
fn direction_value(field: &'static str, v: &Value) -> Result<Option<Direction>, SourceError> {
    let Some(word) = as_text(v) else {
        return match v {
            Value::Null | Value::String(_) => Ok(None),
            other => Err(invalid(
                field,
                format!("expected incoming or outgoing, got {}", json_kind(other)),
            )),
        };
    };
    match word.to_ascii_lowercase().as_str() {
        "incoming" | "inbound" | "in" | "1" => Ok(Some(Direction::Inbound)),
        "outgoing" | "outbound" | "out" | "2" => Ok(Some(Direction::Outbound)),
        _ => Err(invalid(
            field,
            format!("{word:?} is not incoming or outgoing"),
        )),
    }
}

/// A short, stable digest of some strings: 16 hex digits of their SHA-256.
fn short_hash<S: AsRef<str>>(parts: &[S]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_ref().as_bytes());
        h.update([0x1f]);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An agent's number as given, in E.164 when it parses as one (so that In-Call `users`,
/// v2 agents and Zendesk phones compare equal), else trimmed as sent (an extension).
fn agent_phone(raw: &str, phones: &PhoneParser) -> String {
    match phones.parse(raw) {
        PartyNumber::Known { phone } => phone.to_string(),
        _ => raw.trim().to_string(),
    }
}

/// Keys an agent object may use, v1 (`_em`, ...) and v2-style (`email`, ...).
const AGENT_EMAIL_KEYS: &[&str] = &["email", "agent_email", "user_email", "_em"];
const AGENT_NAME_KEYS: &[&str] = &["name", "agent_name", "user_name", "display_name", "_na"];
const AGENT_EXTENSION_KEYS: &[&str] = &["extension", "ext", "agent_extension", "_ex"];
const AGENT_PHONE_KEYS: &[&str] = &[
    "phone",
    "number",
    "phone_number",
    "mobile",
    "contact_number",
    "agent_number",
    "_nr",
    "_ct",
];

/// An agent from a string (an email when it has `@`, a number when it looks like one, else a
/// name), a bare number, or an object with any of the agent keys above. `None` when nothing
/// identifies anybody.
fn agent_from(v: &Value, phones: &PhoneParser) -> Option<AgentRef> {
    let agent = match v {
        Value::String(_) | Value::Number(_) => {
            let s = as_text(v)?;
            if s.contains('@') {
                AgentRef {
                    email: Some(s),
                    ..AgentRef::default()
                }
            } else if s.chars().any(|c| c.is_ascii_digit())
                && s.chars()
                    .all(|c| c.is_ascii_digit() || "+-() .".contains(c))
            {
                AgentRef {
                    phone: Some(agent_phone(&s, phones)),
                    ..AgentRef::default()
                }
            } else {
                AgentRef {
                    name: Some(s),
                    ..AgentRef::default()
                }
            }
        }
        Value::Object(map) => {
            let first = |keys: &[&str]| keys.iter().find_map(|k| text(map, k));
            AgentRef {
                email: first(AGENT_EMAIL_KEYS),
                name: first(AGENT_NAME_KEYS),
                extension: first(AGENT_EXTENSION_KEYS),
                phone: first(AGENT_PHONE_KEYS).map(|p| agent_phone(&p, phones)),
            }
        }
        _ => return None,
    };
    let empty = agent.email.is_none()
        && agent.name.is_none()
        && agent.extension.is_none()
        && agent.phone.is_none();
    (!empty).then_some(agent)
}

/// A list of agents: a JSON list of agent values, or one string of comma-separated ones.
fn agents_from(v: &Value, phones: &PhoneParser) -> Vec<AgentRef> {
    let mut out: Vec<AgentRef> = Vec::new();
    let mut push = |a: Option<AgentRef>| {
        if let Some(a) = a {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    };
    match v {
        Value::Array(items) => items.iter().for_each(|i| push(agent_from(i, phones))),
        Value::String(s) => s
            .split(',')
            .for_each(|part| push(agent_from(&Value::String(part.to_string()), phones))),
        other => push(agent_from(other, phones)),
    }
    out
}

/// Keys a disposition object may name its disposition by, in order of preference. The
/// element shape of `_dsp` is not published.
const DISPOSITION_NAME_KEYS: &[&str] = &[
    "name",
    "title",
    "label",
    "value",
    "disposition",
    "disposition_name",
    "text",
    "vl",
    "_na",
    "_nm",
    "_ti",
    "_vl",
    "_tx",
];

/// Disposition names from a list (or one value): strings and numbers as they are; objects by
/// the first of [`DISPOSITION_NAME_KEYS`], else their first string value (in key order) under
/// a key that is not an id (`ky`, `key`, or ending in `id`); objects with neither, and nulls,
/// are skipped.
/// Duplicates are dropped, order kept.
fn disposition_names(field: &'static str, v: &Value) -> Result<Vec<String>, SourceError> {
    let items: Vec<&Value> = match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let name = match item {
            Value::Null => None,
            Value::String(_) | Value::Number(_) => as_text(item),
            Value::Object(map) => DISPOSITION_NAME_KEYS
                .iter()
                .find_map(|k| text(map, k))
                .or_else(|| {
                    map.iter()
                        .filter(|(k, _)| !is_id_key(k))
                        .find_map(|(_, v)| {
                            v.as_str()
                                .map(str::trim)
                                .filter(|s| !s.is_empty())
                                .map(str::to_string)
                        })
                }),
            other => {
                return Err(invalid(
                    field,
                    format!(
                        "element {} is {}, not a disposition name or object",
                        i + 1,
                        json_kind(other)
                    ),
                ))
            }
        };
        if let Some(name) = name {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

fn is_id_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k == "ky" || k == "key" || k.ends_with("id")
}

#[cfg(test)]
mod tests;
