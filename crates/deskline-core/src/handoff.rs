//! AI and chat handoffs: an AI agent or chat widget hands a conversation to a human (or
//! reports that it resolved it alone), and deskline turns that into a Zendesk ticket.
//!
//! The body is one JSON object (schema and examples in docs/handoff.md). Documented fields
//! accept camelCase or snake_case (`sessionId` or `session_id`); giving both spellings of one
//! field is refused rather than guessed. `null` counts as absent.
//!
//! `customData` follows the chat-widget convention: `dataCapture.ticketField.<field id>` sets
//! a ticket custom field, `dataCapture.systemField.tags` (comma-separated) adds tags, and
//! every other key is kept as sent.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::phone::{PartyNumber, PhoneParser};

pub mod ticket;
use crate::plan::tag_slug;
use crate::sources::{json_kind, json_object_body};
use crate::sources::{Inbound, SourceError};

/// The `customData` key prefix that sets a ticket custom field.
pub const TICKET_FIELD_PREFIX: &str = "dataCapture.ticketField.";
/// The `customData` key that adds tags (comma-separated).
pub const TAGS_KEY: &str = "dataCapture.systemField.tags";

/// One handoff, normalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// The AI or chat session's id (the ticket's external id).
    pub session_id: String,
    /// Who the conversation is with.
    pub contact: Contact,
    /// Where the conversation happens, a lower-case slug: `web`, `email`, `sms`, `whatsapp`,
    /// `phone`, … Replies go back on this channel.
    pub channel: String,
    /// The AI's summary of the conversation; empty when none was given.
    pub summary: String,
    /// The messages, oldest first when every message has a time, otherwise as sent.
    pub transcript: Vec<TranscriptMessage>,
    /// The conversation's language, as sent (`en`, `pt-BR`).
    pub language: Option<String>,
    /// The customer's sentiment, lower-cased (`neutral`, `angry`, `happy`).
    pub sentiment: Option<String>,
    /// Whether the AI resolved the conversation or handed it off.
    pub mode: HandoffMode,
    /// An http(s) link to the session in the AI's or widget's console.
    pub session_link: Option<String>,
    /// Ticket custom fields by field id, from `customData["dataCapture.ticketField.<id>"]`.
    pub ticket_fields: BTreeMap<u64, Value>,
    /// Tags from `customData["dataCapture.systemField.tags"]`, slugged, deduplicated, in order.
    pub tags: Vec<String>,
    /// The rest of `customData`, kept as sent.
    pub custom_data: Map<String, Value>,
}

/// The person in the conversation. At least one of a valid email, a known phone number or an
/// external id is present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// The display name, when given.
    pub name: Option<String>,
    /// The email, trimmed and lower-cased (the form requesters are matched by).
    pub email: Option<String>,
    /// The phone number, normalised; [`PartyNumber::Withheld`] when none was given.
    pub phone: PartyNumber,
    /// The contact's id in the AI or widget platform.
    pub external_id: Option<String>,
}

/// One message of the transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptMessage {
    /// Who wrote it.
    pub role: Role,
    /// What was written.
    pub text: String,
    /// When, if the source said.
    pub at: Option<DateTime<Utc>>,
}

/// Who wrote a transcript message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The customer (`customer`, `user`, `contact`, `visitor`).
    Customer,
    /// The AI agent (`ai`, `bot`, `assistant`).
    Ai,
    /// A human agent (`agent`, `human`).
    Agent,
    /// The platform itself (`system`).
    System,
}

/// What the AI did with the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffMode {
    /// The AI resolved it on its own; the ticket is a record, not a request for help.
    Resolved,
    /// The AI handed it to a human.
    HandedOff,
}

/// Parses one handoff request.
pub fn parse(inbound: &Inbound<'_>, phones: &PhoneParser) -> Result<Handoff, SourceError> {
    let body = body(inbound)?;
    let session_id = match pick(&body, "sessionId", "session_id")? {
        None => return Err(SourceError::MissingField("sessionId")),
        Some(v) => id_text(v, "sessionId")?.ok_or(SourceError::MissingField("sessionId"))?,
    };
    let contact = match pick(&body, "contact", "contact")? {
        None => return Err(SourceError::MissingField("contact")),
        Some(Value::Object(c)) => contact(c, phones)?,
        Some(other) => return Err(expected("contact", "an object", other)),
    };
    let channel = match opt_text(&body, "channel", "channel", "channel")? {
        None => return Err(SourceError::MissingField("channel")),
        Some(c) => match tag_slug(&c) {
            s if s.is_empty() => {
                return Err(invalid("channel", format!("{c:?} is not a channel name")))
            }
            s => s,
        },
    };
    let summary = match opt_text(&body, "summary", "summary", "summary")? {
        Some(s) => Some(s),
        // OpenCX's widget spells it this way.
        None => opt_text(&body, "summery", "summery", "summery")?,
    }
    .unwrap_or_default();
    let transcript = transcript(&body)?;
    let language = opt_text(&body, "language", "language", "language")?;
    let sentiment = opt_text(&body, "sentiment", "sentiment", "sentiment")?
        .or(opt_text(
            &body,
            "userSentiment",
            "user_sentiment",
            "userSentiment",
        )?)
        .map(|s| s.to_lowercase());
    let mode = match opt_text(&body, "mode", "mode", "mode")? {
        None => HandoffMode::HandedOff,
        Some(m) => match tag_slug(&m).replace('_', "").as_str() {
            "handedoff" | "handoff" => HandoffMode::HandedOff,
            "resolved" => HandoffMode::Resolved,
            _ => {
                return Err(invalid(
                    "mode",
                    format!("{m:?}: expected \"handed_off\" or \"resolved\""),
                ))
            }
        },
    };
    let session_link = match opt_text(&body, "sessionLink", "session_link", "sessionLink")? {
        Some(l) if !(l.starts_with("https://") || l.starts_with("http://")) => {
            return Err(invalid(
                "sessionLink",
                format!("{l:?} is not an http(s) URL"),
            ))
        }
        other => other,
    };
    let (ticket_fields, tags, custom_data) = match pick(&body, "customData", "custom_data")? {
        None => (BTreeMap::new(), Vec::new(), Map::new()),
        Some(Value::Object(data)) => custom_data(data)?,
        Some(other) => return Err(expected("customData", "an object", other)),
    };
    Ok(Handoff {
        session_id,
        contact,
        channel,
        summary,
        transcript,
        language,
        sentiment,
        mode,
        session_link,
        ticket_fields,
        tags,
        custom_data,
    })
}

/// The deduplication key of a handoff: `handoff:<session id>:<digest>`, where the digest
/// (SHA-256, first 16 bytes in hex) covers the mode, the transcript's length and its last
/// message (role, text and time).
///
/// So a re-sent identical handoff is a duplicate, while a later handoff of the same session
/// (the conversation went on, so the transcript grew or ends differently) or the AI's
/// "resolved" event after a handoff is not. Changes to the summary or `customData` alone do
/// not make a new handoff.
pub fn dedupe_key(handoff: &Handoff) -> String {
    let mut hasher = Sha256::new();
    let mode = match handoff.mode {
        HandoffMode::Resolved => "resolved",
        HandoffMode::HandedOff => "handed_off",
    };
    hasher.update(mode.as_bytes());
    hasher.update([0]);
    hasher.update(handoff.transcript.len().to_string().as_bytes());
    if let Some(last) = handoff.transcript.last() {
        let role = match last.role {
            Role::Customer => "customer",
            Role::Ai => "ai",
            Role::Agent => "agent",
            Role::System => "system",
        };
        hasher.update([0]);
        hasher.update(role.as_bytes());
        hasher.update([0]);
        hasher.update(last.text.as_bytes());
        hasher.update([0]);
        if let Some(at) = last.at {
            hasher.update(at.to_rfc3339().as_bytes());
        }
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("handoff:{}:{hex}", handoff.session_id)
}

fn body(inbound: &Inbound<'_>) -> Result<Map<String, Value>, SourceError> {
    json_object_body(
        inbound,
        "a handoff is sent as JSON; this is a form body",
        "the handoff",
    )
}

fn contact(c: &Map<String, Value>, phones: &PhoneParser) -> Result<Contact, SourceError> {
    let name = opt_text(c, "name", "name", "contact.name")?;
    let email = match opt_text(c, "email", "email", "contact.email")? {
        None => None,
        Some(e) => {
            let e = e.to_lowercase();
            let valid = e
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
                && !e.chars().any(char::is_whitespace);
            if !valid {
                return Err(invalid(
                    "contact.email",
                    format!("{e:?} is not an email address"),
                ));
            }
            Some(e)
        }
    };
    let phone = match pick(c, "phone", "phone_number")? {
        None => PartyNumber::Withheld,
        Some(Value::String(p)) => phones.parse(p),
        Some(Value::Number(n)) => phones.parse(&n.to_string()),
        Some(other) => return Err(expected("contact.phone", "a string", other)),
    };
    let external_id = match pick(c, "externalId", "external_id")? {
        None => None,
        Some(v) => id_text(v, "contact.externalId")?,
    };
    if email.is_none() && phone.phone().is_none() && external_id.is_none() {
        return Err(invalid(
            "contact",
            "needs at least one of email, a valid phone number or externalId".to_string(),
        ));
    }
    Ok(Contact {
        name,
        email,
        phone,
        external_id,
    })
}

fn transcript(body: &Map<String, Value>) -> Result<Vec<TranscriptMessage>, SourceError> {
    let items = match pick(body, "transcript", "transcript")? {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(expected("transcript", "an array of messages", other)),
    };
    let mut messages = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(at_index(
                i,
                "",
                format!("expected an object, got {}", json_kind(item)),
            ));
        };
        let role = match m.get("role") {
            None | Some(Value::Null) => return Err(at_index(i, ".role", "is missing".to_string())),
            Some(Value::String(r)) => match r.trim().to_lowercase().as_str() {
                "customer" | "user" | "contact" | "visitor" => Role::Customer,
                "ai" | "bot" | "assistant" => Role::Ai,
                "agent" | "human" => Role::Agent,
                "system" => Role::System,
                _ => {
                    return Err(at_index(
                        i,
                        ".role",
                        format!("{r:?}: expected customer, ai, agent or system"),
                    ))
                }
            },
            Some(other) => {
                return Err(at_index(
                    i,
                    ".role",
                    format!("expected a string, got {}", json_kind(other)),
                ))
            }
        };
        let text = match m.get("text") {
            Some(Value::String(t)) => t.clone(),
            None | Some(Value::Null) => return Err(at_index(i, ".text", "is missing".to_string())),
            Some(other) => {
                return Err(at_index(
                    i,
                    ".text",
                    format!("expected a string, got {}", json_kind(other)),
                ))
            }
        };
        let at = match m.get("at") {
            None | Some(Value::Null) => None,
            Some(v) => Some(time(v).map_err(|reason| at_index(i, ".at", reason))?),
        };
        messages.push(TranscriptMessage { role, text, at });
    }
    if messages.iter().all(|m| m.at.is_some()) {
        // Stable: messages with the same time keep the order they were sent in.
        messages.sort_by_key(|m| m.at);
    }
    Ok(messages)
}

type CustomParts = (BTreeMap<u64, Value>, Vec<String>, Map<String, Value>);

fn custom_data(data: &Map<String, Value>) -> Result<CustomParts, SourceError> {
    let mut fields = BTreeMap::new();
    let mut tags: Vec<String> = Vec::new();
    let mut rest = Map::new();
    for (key, value) in data {
        if let Some(id) = key.strip_prefix(TICKET_FIELD_PREFIX) {
            let id = match id.parse::<u64>() {
                Ok(n) if n > 0 && id.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(SourceError::Shape(format!(
                        "field customData.{key:?} is invalid: {id:?} is not a ticket field id \
                         (a positive integer)"
                    )))
                }
            };
            fields.insert(id, value.clone());
        } else if key == TAGS_KEY {
            let raw: Vec<&str> = match value {
                Value::Null => Vec::new(),
                Value::String(s) => s.split(',').collect(),
                Value::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) => out.push(s.as_str()),
                            other => {
                                return Err(SourceError::Shape(format!(
                                    "field customData.{TAGS_KEY:?} is invalid: expected \
                                     comma-separated text or an array of strings, got an array \
                                     holding {}",
                                    json_kind(other)
                                )))
                            }
                        }
                    }
                    out
                }
                other => {
                    return Err(SourceError::Shape(format!(
                        "field customData.{TAGS_KEY:?} is invalid: expected comma-separated \
                         text, got {}",
                        json_kind(other)
                    )))
                }
            };
            for tag in raw.into_iter().map(tag_slug) {
                if !tag.is_empty() && !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        } else {
            rest.insert(key.clone(), value.clone());
        }
    }
    Ok((fields, tags, rest))
}

/// The value of a field given as `camel` or `snake`; `null` is absent; both is an error.
fn pick<'a>(
    map: &'a Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
) -> Result<Option<&'a Value>, SourceError> {
    let found = |k: &str| map.get(k).filter(|v| !v.is_null());
    match (
        found(camel),
        (camel != snake).then(|| found(snake)).flatten(),
    ) {
        (Some(_), Some(_)) => Err(invalid(
            camel,
            format!("given both as {camel} and {snake}; send one"),
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// Optional trimmed text; empty is absent.
fn opt_text(
    map: &Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
    field: &'static str,
) -> Result<Option<String>, SourceError> {
    match pick(map, camel, snake)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(other) => Err(expected(field, "a string", other)),
    }
}

/// An id given as text or an integer; empty is absent.
fn id_text(v: &Value, field: &'static str) -> Result<Option<String>, SourceError> {
    match v {
        Value::String(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        other => Err(expected(field, "a string or an integer", other)),
    }
}

/// RFC 3339 text, or Unix epoch seconds (milliseconds when above 10^11).
fn time(v: &Value) -> Result<DateTime<Utc>, String> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}")),
        Value::Number(n) => {
            let secs = n
                .as_i64()
                .ok_or_else(|| format!("{n} is not whole epoch seconds"))?;
            let t = if secs.abs() > 100_000_000_000 {
                Utc.timestamp_millis_opt(secs).single()
            } else {
                Utc.timestamp_opt(secs, 0).single()
            };
            t.ok_or_else(|| format!("{n} is out of range"))
        }
        other => Err(format!(
            "expected RFC 3339 text or epoch seconds, got {}",
            json_kind(other)
        )),
    }
}

fn at_index(i: usize, suffix: &str, reason: String) -> SourceError {
    SourceError::Shape(format!(
        "field transcript[{i}]{suffix} is invalid: {reason}"
    ))
}

fn expected(field: &'static str, what: &str, got: &Value) -> SourceError {
    invalid(field, format!("expected {what}, got {}", json_kind(got)))
}

fn invalid(field: &'static str, reason: String) -> SourceError {
    SourceError::InvalidField { field, reason }
}

#[cfg(test)]
mod tests;
