//! Webhook v2: a named envelope around an event-specific `payload`.
//!
//! The envelope is documented: `event_id` (the delivery's id: our dedupe key), `company_id`,
//! `event_type`, `event_sequence`, `event_version`, `timestamp` (the *send* time),
//! `channel` (`call` or WhatsApp), `direction` (`incoming`/`outgoing`/empty), `session_id`
//! (ties a call's events together: our call id), `system_identifier` (our DID; null on
//! `call.summary`), `customer_identifier` (the customer's number) and `payload`.
//!
//! The field names inside `payload` are **not published**, so each piece is read from the
//! first of several plausible names, listed in the constants below (and in
//! docs/providers/myoperator.md). A name that is present with an unusable value is an error
//! naming it; a piece that is absent takes a documented default.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::disposition::{comments_from, join_comments};
use super::{
    agent_from, agent_phone, agents_from, as_text, direction_value, disposition_names, invalid,
    seconds_value, text, time_value, SourceError,
};
use crate::call::{AgentRef, CallRecord, Direction, Outcome, Provider, Recording};
use crate::event::{CallAnswer, CallEvent, CallStart, Disposition, ParsedEvent};
use crate::phone::{PartyNumber, PhoneParser};
use crate::sources::json_kind;

/// When the call started.
pub const START: &[&str] = &[
    "payload.start_time",
    "payload.started_at",
    "payload.call_start_time",
];
/// When the call ended.
pub const END: &[&str] = &[
    "payload.end_time",
    "payload.ended_at",
    "payload.call_end_time",
];
/// When the agent answered.
pub const ANSWERED_AT: &[&str] = &[
    "payload.answered_at",
    "payload.answer_time",
    "payload.answered_time",
];
/// When the agent saved the disposition.
pub const DISPOSED_AT: &[&str] = &[
    "payload.disposed_at",
    "payload.disposition_time",
    "payload.created_at",
];
/// Total duration, ringing included: seconds or `HH:MM:SS`.
pub const DURATION: &[&str] = &[
    "payload.duration",
    "payload.call_duration",
    "payload.total_duration",
];
/// Talk time: seconds or `HH:MM:SS`.
pub const TALK: &[&str] = &[
    "payload.talk_duration",
    "payload.talk_time",
    "payload.conversation_duration",
];
/// A yes/no answered flag (`true`/`false`, 1/0, `"yes"`/`"no"`).
pub const ANSWERED_FLAG: &[&str] = &["payload.answered", "payload.is_answered"];
/// A status word (`answered`, `missed`, `no_answer`, `busy`, ...) or MyOperator's status
/// number (1 answered, 2 missed).
pub const STATUS: &[&str] = &["payload.status", "payload.call_status"];
/// The agent: an object (with `email`/`agent_email`/`user_email`, `name`/`agent_name`/
/// `user_name`/`display_name`, `extension`/`ext`, `phone`/`number`/`phone_number`/`mobile`/
/// `contact_number`), or a string (an email, a number, else a name).
pub const AGENT: &[&str] = &["payload.agent", "payload.user", "payload.answered_by"];
/// The agent's email as a flat field.
pub const AGENT_EMAIL: &[&str] = &["payload.agent_email", "payload.user_email"];
/// The agent's name as a flat field.
pub const AGENT_NAME: &[&str] = &["payload.agent_name", "payload.user_name"];
/// The agent's extension as a flat field.
pub const AGENT_EXTENSION: &[&str] = &["payload.agent_extension", "payload.user_extension"];
/// The agent's number as a flat field.
pub const AGENT_PHONE: &[&str] = &[
    "payload.agent_number",
    "payload.agent_phone",
    "payload.user_number",
];
/// The agents a call rings on: a list of agents as in [`AGENT`].
pub const RINGING: &[&str] = &["payload.agents", "payload.users"];
/// The recording's URL.
pub const RECORDING_URL: &[&str] = &[
    "payload.recording_url",
    "payload.recording.url",
    "payload.recording",
];
/// The recording's file name (used to fetch a fresh link from MyOperator's API).
pub const RECORDING_FILE: &[&str] = &[
    "payload.recording.file_name",
    "payload.recording.filename",
    "payload.recording_file",
    "payload.file_name",
];
/// The department.
pub const DEPARTMENT: &[&str] = &[
    "payload.department_name",
    "payload.department.name",
    "payload.department",
];
/// Where the customer is.
pub const LOCATION: &[&str] = &["payload.location", "payload.caller_location"];
/// The disposition names: a list or one value; elements as for v1 `_dsp`.
pub const DISPOSITIONS: &[&str] = &[
    "payload.dispositions",
    "payload.disposition",
    "payload.disposition_name",
];
/// The agent's comment(s): a string, or a list of strings or objects (`text`/`comment`).
pub const COMMENT: &[&str] = &[
    "payload.comments",
    "payload.comment",
    "payload.disposition.comment",
    "payload.notes",
    "payload.note",
    "payload.remarks",
];

const MISSING_TIME: SourceError = SourceError::MissingField(
    "timestamp (the v2 send time, used when the payload gives no time of its own)",
);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Answer,
    End,
    Summary,
    Disposition,
}

/// The envelope's common pieces.
struct Envelope<'a> {
    root: &'a Map<String, Value>,
    call_id: String,
    sent_at: Option<DateTime<Utc>>,
    phones: &'a PhoneParser,
}

/// v2 → at most one event, keyed by `event_id`. Other channels than `call` (WhatsApp), event
/// types deskline does not use and a `call.end` without a start time give none.
pub(super) fn events(
    root: &Map<String, Value>,
    phones: &PhoneParser,
) -> Result<Vec<ParsedEvent>, SourceError> {
    let event_id =
        text(root, "event_id").ok_or(SourceError::MissingField("event_id (v2 delivery id)"))?;
    let event_type = text(root, "event_type")
        .ok_or(SourceError::MissingField("event_type (v2)"))?
        .to_ascii_lowercase();
    if let Some(channel) = text(root, "channel") {
        if !channel.eq_ignore_ascii_case("call") {
            return Ok(Vec::new());
        }
    }
    let kind = match event_type.as_str() {
        "call.initiated" | "call.dial_begin" => Kind::Start,
        "call.answered" => Kind::Answer,
        "call.end" => Kind::End,
        "call.summary" => Kind::Summary,
        "disposition" | "call.disposition" => Kind::Disposition,
        _ => return Ok(Vec::new()),
    };
    match root.get("payload") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(invalid(
                "payload",
                format!("expected an object, got {}", json_kind(other)),
            ))
        }
    }
    let env = Envelope {
        root,
        call_id: text(root, "session_id")
            .ok_or(SourceError::MissingField("session_id (v2 call id)"))?,
        sent_at: root
            .get("timestamp")
            .map(|v| time_value("timestamp", v))
            .transpose()?
            .flatten(),
        phones,
    };
    let event = match kind {
        Kind::Start => Some(CallEvent::Started(start(&env)?)),
        Kind::Answer => Some(CallEvent::Answered(CallAnswer {
            provider: Provider::MyOperator,
            call_id: env.call_id.clone(),
            at: first_time(root, ANSWERED_AT)?
                .or(env.sent_at)
                .ok_or(MISSING_TIME)?,
            agent: agent(&env).unwrap_or_default(),
        })),
        Kind::End => record(&env, false)?.map(CallEvent::Ended),
        Kind::Summary => record(&env, true)?.map(CallEvent::Ended),
        Kind::Disposition => Some(CallEvent::Disposition(disposition(&env)?)),
    };
    Ok(event
        .map(|event| ParsedEvent {
            dedupe_key: event_id,
            event,
        })
        .into_iter()
        .collect())
}

/// `call.initiated` / `call.dial_begin`.
fn start(env: &Envelope<'_>) -> Result<CallStart, SourceError> {
    let mut ringing = first(env.root, RINGING)
        .map(|(_, v)| agents_from(v, env.phones))
        .unwrap_or_default();
    if let Some(a) = agent(env) {
        if !ringing.contains(&a) {
            ringing.push(a);
        }
    }
    Ok(CallStart {
        provider: Provider::MyOperator,
        call_id: env.call_id.clone(),
        direction: direction(env)?,
        customer: customer(env),
        line: line(env),
        started_at: first_time(env.root, START)?
            .or(env.sent_at)
            .ok_or(MISSING_TIME)?,
        ringing,
    })
}

/// `call.summary`, or `call.end` when it gives the start time (`None` otherwise: the summary
/// follows with the full record).
///
/// Defaults: the start is the end (else the send time) minus the duration; the duration is
/// end − start, else 0; the outcome is the answered flag, else the status word, else answered
/// when an agent or a talk time is given, else missed.
fn record(env: &Envelope<'_>, summary: bool) -> Result<Option<CallRecord>, SourceError> {
    let root = env.root;
    let start = first_time(root, START)?;
    if start.is_none() && !summary {
        return Ok(None);
    }
    let end = first_time(root, END)?;
    let total = first_seconds(root, DURATION)?;
    let started_at = match start {
        Some(s) => s,
        None => {
            let base = end.or(env.sent_at).ok_or(MISSING_TIME)?;
            total
                .and_then(|t| i64::try_from(t).ok())
                .and_then(TimeDelta::try_seconds)
                .and_then(|d| base.checked_sub_signed(d))
                .unwrap_or(base)
        }
    };
    let ended_at = end.or_else(|| {
        let t = i64::try_from(total?).ok()?;
        start?.checked_add_signed(TimeDelta::try_seconds(t)?)
    });
    let total_seconds = total
        .or_else(|| ended_at.map(|e| (e - started_at).num_seconds().max(0).unsigned_abs()))
        .unwrap_or(0);
    let agent = agent(env);
    let talk = first_seconds(root, TALK)?;
    let outcome = match answered(root)? {
        Some(true) => Outcome::Answered,
        Some(false) => Outcome::Missed,
        None if agent.is_some() || talk.is_some_and(|t| t > 0) => Outcome::Answered,
        None => Outcome::Missed,
    };
    let (answered_by, talk_seconds) = match outcome {
        Outcome::Answered => (agent, talk),
        Outcome::Missed => (None, Some(0)),
    };
    let recording = first_text(root, RECORDING_URL).map(|url| Recording {
        url,
        file_name: first_text(root, RECORDING_FILE),
    });
    Ok(Some(CallRecord {
        provider: Provider::MyOperator,
        call_id: env.call_id.clone(),
        direction: direction(env)?,
        customer: customer(env),
        line: line(env),
        started_at,
        ended_at,
        total_seconds,
        talk_seconds,
        outcome,
        answered_by,
        department: first_text(root, DEPARTMENT),
        location: first_text(root, LOCATION),
        recording,
        legs: Vec::new(),
    }))
}

/// `disposition` / `call.disposition`.
fn disposition(env: &Envelope<'_>) -> Result<Disposition, SourceError> {
    let root = env.root;
    let dispositions = match first(root, DISPOSITIONS) {
        Some((field, v)) => disposition_names(field, v)?,
        None => Vec::new(),
    };
    let comments = match first(root, COMMENT) {
        Some((field, v)) => comments_from(field, Some(v), env.phones)?,
        None => Vec::new(),
    };
    let agent = agent(env).or_else(|| comments.iter().rev().find_map(|c| c.author.clone()));
    Ok(Disposition {
        provider: Provider::MyOperator,
        call_id: env.call_id.clone(),
        at: first_time(root, DISPOSED_AT)?
            .or(env.sent_at)
            .ok_or(MISSING_TIME)?,
        dispositions,
        comment: join_comments(&comments),
        agent,
    })
}

/// The envelope's `direction`, else `payload.direction`, else inbound.
fn direction(env: &Envelope<'_>) -> Result<Direction, SourceError> {
    if let Some(v) = env.root.get("direction") {
        if let Some(d) = direction_value("direction", v)? {
            return Ok(d);
        }
    }
    match get(env.root, "payload.direction") {
        Some(v) => Ok(direction_value("payload.direction", v)?.unwrap_or(Direction::Inbound)),
        None => Ok(Direction::Inbound),
    }
}

fn customer(env: &Envelope<'_>) -> PartyNumber {
    text(env.root, "customer_identifier").map_or(PartyNumber::Withheld, |c| env.phones.parse(&c))
}

fn line(env: &Envelope<'_>) -> Option<PartyNumber> {
    text(env.root, "system_identifier").map(|s| env.phones.parse(&s))
}

/// The agent from [`AGENT`], completed by the flat [`AGENT_EMAIL`] ... [`AGENT_PHONE`] fields.
fn agent(env: &Envelope<'_>) -> Option<AgentRef> {
    let root = env.root;
    let mut a = first(root, AGENT)
        .and_then(|(_, v)| agent_from(v, env.phones))
        .unwrap_or_default();
    a.email = a.email.or_else(|| first_text(root, AGENT_EMAIL));
    a.name = a.name.or_else(|| first_text(root, AGENT_NAME));
    a.extension = a.extension.or_else(|| first_text(root, AGENT_EXTENSION));
    a.phone = a
        .phone
        .or_else(|| first_text(root, AGENT_PHONE).map(|p| agent_phone(&p, env.phones)));
    (a != AgentRef::default()).then_some(a)
}

/// The answered flag, else the status word; `None` when neither says.
fn answered(root: &Map<String, Value>) -> Result<Option<bool>, SourceError> {
    if let Some((field, v)) = first(root, ANSWERED_FLAG) {
        return flag(field, v).map(Some);
    }
    Ok(first(root, STATUS).and_then(|(_, v)| status_word(v)))
}

fn flag(field: &'static str, v: &Value) -> Result<bool, SourceError> {
    let word = match v {
        Value::Bool(b) => return Ok(*b),
        other => as_text(other).unwrap_or_default().to_ascii_lowercase(),
    };
    match word.as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(invalid(
            field,
            format!("expected true or false, got {}", describe(v)),
        )),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => json_kind(other).to_string(),
    }
}

/// Status words that settle the outcome; any other word leaves it to the agent and talk time.
/// "completed" is deliberately not one: providers use it for unanswered calls too.
fn status_word(v: &Value) -> Option<bool> {
    let word = as_text(v)?.to_ascii_lowercase().replace(['-', ' '], "_");
    match word.as_str() {
        "1" | "answered" | "answer" | "received" | "connected" | "attended" => Some(true),
        "2" | "missed" | "no_answer" | "noanswer" | "not_answered" | "unanswered" | "busy"
        | "failed" | "cancelled" | "canceled" | "abandoned" | "rejected" | "voicemail"
        | "not_connected" => Some(false),
        _ => None,
    }
}

/// The value at a dotted path from the envelope's root; null counts as absent.
fn get<'a>(root: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = root.get(parts.next()?)?;
    for part in parts {
        cur = cur.as_object()?.get(part)?;
    }
    (!cur.is_null()).then_some(cur)
}

/// The first of `paths` holding something (not null, not a blank string), with its path.
fn first<'a>(
    root: &'a Map<String, Value>,
    paths: &[&'static str],
) -> Option<(&'static str, &'a Value)> {
    paths.iter().find_map(|&p| {
        get(root, p)
            .filter(|v| !v.as_str().is_some_and(|s| s.trim().is_empty()))
            .map(|v| (p, v))
    })
}

/// The first of `paths` holding a string or a number.
fn first_text(root: &Map<String, Value>, paths: &[&'static str]) -> Option<String> {
    paths.iter().find_map(|p| get(root, p).and_then(as_text))
}

fn first_time(
    root: &Map<String, Value>,
    paths: &[&'static str],
) -> Result<Option<DateTime<Utc>>, SourceError> {
    first(root, paths).map_or(Ok(None), |(field, v)| time_value(field, v))
}

fn first_seconds(
    root: &Map<String, Value>,
    paths: &[&'static str],
) -> Result<Option<u64>, SourceError> {
    first(root, paths).map_or(Ok(None), |(field, v)| seconds_value(field, v))
}
