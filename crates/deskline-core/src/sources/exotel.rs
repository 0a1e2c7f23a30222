//! Exotel: the Calls-API status callback and the Passthru / Connect applet requests.
//!
//! Two families of requests reach the same source, told apart by their fields:
//!
//! - **Status callback** (`Status` present): what Exotel posts to a call's `StatusCallback`,
//!   form-encoded or JSON. With `StatusCallbackEvents` it carries the numbers, times and a
//!   `Legs` list (in a form as `Legs[0][Status]`, `Legs[0][OnCallDuration]`, …).
//!   `queued`/`ringing` → [`CallEvent::Started`]; `EventType=answered` or `in-progress` →
//!   [`CallEvent::Answered`]; `completed`/`busy`/`no-answer`/`failed`/`canceled` →
//!   [`CallEvent::Ended`].
//! - **Passthru / Connect applet** (`CallType` or `CallStatus`): the flow's request, a GET
//!   whose parameters may arrive in the URL instead of the body. `CallType=call-attempt` (the
//!   caller is still in the flow) → [`CallEvent::Started`]; `completed`, `client-hangup`,
//!   `incomplete`, `voicemail` → [`CallEvent::Ended`]. The Connect applet's `CallStatus`
//!   (`ringing`, `in-progress`, …) maps like the status callback's `Status`.
//!
//! Exotel names agents by phone number only (`DialWhomNumber`, a leg's `AnsweredBy`, or the
//! first-dialled `From` of a Calls-API `outbound-api` call): it becomes [`AgentRef::phone`].
//! Times are naive local times (`2024-11-26 15:44:05`) read in [`ExotelSettings::time_zone`];
//! `EndTime` `1970-01-01 05:30:00` (epoch zero in India) means "not known". See
//! docs/providers/exotel.md.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::{BodyKind, Inbound, SourceError, VerifyError};
use crate::call::{AgentRef, CallLeg, CallRecord, Direction, Outcome, Provider, Recording};
use crate::event::{CallAnswer, CallEvent, CallStart, ParsedEvent};
use crate::phone::{PartyNumber, PhoneParser};

/// How to read an Exotel account's payloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExotelSettings {
    /// The zone of Exotel's naive timestamps: the account's (India: Asia/Kolkata, the
    /// default; Exotel's Singapore cluster: Asia/Singapore).
    pub time_zone: Tz,
}

impl Default for ExotelSettings {
    fn default() -> ExotelSettings {
        ExotelSettings {
            time_zone: chrono_tz::Asia::Kolkata,
        }
    }
}

/// Why a time zone name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an IANA time zone such as Asia/Kolkata")]
pub struct UnknownTimeZone(pub String);

impl ExotelSettings {
    /// Settings for an account whose times are in `zone` (an IANA name, e.g. `Asia/Kolkata`).
    pub fn with_time_zone(zone: &str) -> Result<ExotelSettings, UnknownTimeZone> {
        zone.trim()
            .parse::<Tz>()
            .map(|time_zone| ExotelSettings { time_zone })
            .map_err(|_| UnknownTimeZone(zone.to_string()))
    }
}

/// The query parameter [`verify`] checks.
pub const SECRET_PARAM: &str = "secret";

/// Parses one Exotel request into call events: none, or one.
pub fn parse(
    inbound: &Inbound<'_>,
    phones: &PhoneParser,
    settings: &ExotelSettings,
) -> Result<Vec<ParsedEvent>, SourceError> {
    let payload = payload(inbound)?;
    let call_sid = payload
        .get("CallSid")
        .ok_or(SourceError::MissingField("CallSid"))?
        .to_string();
    let reader = Reader {
        payload: &payload,
        phones,
        tz: settings.time_zone,
    };
    if payload.get("Status").is_some() || payload.get("EventType").is_some() {
        status_callback(call_sid, &reader)
    } else {
        applet(call_sid, &reader)
    }
}

/// What a status word says about the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Started,
    Answered,
    Ended,
}

/// Which party is the customer, and whether Exotel dialled the agent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    /// A customer called an ExoPhone: `From` is the customer, `To` the ExoPhone.
    Inbound,
    /// The Calls API connected `From` (dialled first: the agent) to `To` (the customer).
    OutboundApi,
    /// A flow dialled out: `To` is the customer.
    OutboundDial,
}

impl Flow {
    fn direction(self) -> Direction {
        match self {
            Flow::Inbound => Direction::Inbound,
            Flow::OutboundApi | Flow::OutboundDial => Direction::Outbound,
        }
    }
}

fn flow(payload: &Payload, default: Flow) -> Result<Flow, SourceError> {
    let Some(raw) = payload.get("Direction") else {
        return Ok(default);
    };
    match raw.to_ascii_lowercase().as_str() {
        "inbound" | "incoming" => Ok(Flow::Inbound),
        "outbound-api" => Ok(Flow::OutboundApi),
        "outbound-dial" | "outbound" | "outgoing" => Ok(Flow::OutboundDial),
        _ => Err(invalid(
            "Direction",
            format!("{raw:?} is not inbound, incoming, outbound-dial or outbound-api"),
        )),
    }
}

/// A Calls-API status callback.
fn status_callback(call_sid: String, r: &Reader<'_>) -> Result<Vec<ParsedEvent>, SourceError> {
    let status = r
        .payload
        .get("Status")
        .ok_or(SourceError::MissingField("Status"))?
        .to_ascii_lowercase();
    let answered_event = r
        .payload
        .get("EventType")
        .is_some_and(|e| e.eq_ignore_ascii_case("answered"));
    let stage = if answered_event {
        Stage::Answered
    } else {
        match status.as_str() {
            "queued" | "initiated" | "ringing" => Stage::Started,
            "in-progress" | "answered" => Stage::Answered,
            "completed" | "busy" | "no-answer" | "failed" | "canceled" | "cancelled" => {
                Stage::Ended
            }
            _ => {
                return Err(invalid(
                    "Status",
                    format!(
                        "{status:?} is not one of completed, busy, no-answer, failed, \
                         canceled, in-progress, ringing, queued"
                    ),
                ))
            }
        }
    };
    // The answered callback's `Status` may already be final; keep it apart from the terminal one.
    let dedupe_key = if answered_event {
        format!("{call_sid}:answered")
    } else {
        format!("{call_sid}:{status}")
    };
    // Without `Direction` this is a Calls-API call, and those are `outbound-api`.
    let flow = flow(r.payload, Flow::OutboundApi)?;
    let (customer_key, line_key): (&'static str, Option<&'static str>) = match flow {
        Flow::Inbound => ("From", Some("To")),
        Flow::OutboundApi => ("To", Some("PhoneNumberSid")),
        Flow::OutboundDial => ("To", Some("From")),
    };
    let customer = r.phones.parse(
        r.payload
            .get(customer_key)
            .ok_or(SourceError::MissingField(customer_key))?,
    );
    let line = line_key
        .and_then(|k| r.payload.get(k))
        .map(|l| r.phones.parse(l))
        // `PhoneNumberSid` is the ExoPhone on most accounts, an opaque id on some.
        .filter(|l| l.phone().is_some());
    // The agent of an `outbound-api` call is `From`, whom Exotel rings first.
    let api_agent = (flow == Flow::OutboundApi)
        .then(|| r.payload.get("From").map(|f| agent(f, r.phones)))
        .flatten();
    let mut legs = r.legs()?;
    if let (Some(agent), Some(first)) = (&api_agent, legs.first_mut()) {
        if first.agents.is_empty() {
            first.agents.push(agent.clone());
        }
    }
    if flow == Flow::OutboundApi {
        // Behind the agent's leg come the customer's: whoever `AnsweredBy` names there is the
        // customer, never an agent the call could be assigned to as the last who took it.
        for leg in legs.iter_mut().skip(1) {
            leg.agents.clear();
        }
    }
    let date_updated = r.time("DateUpdated")?;
    // Fallbacks are read only when needed: a quirk in a field deskline does not use is no error.
    let started_at = match r.time("StartTime")? {
        Some(t) => Some(t),
        None => r.time("DateCreated")?,
    };
    let keyed = |event| vec![ParsedEvent { dedupe_key, event }];
    let call_id = call_sid;
    match stage {
        Stage::Started => Ok(keyed(CallEvent::Started(CallStart {
            provider: Provider::Exotel,
            call_id,
            direction: flow.direction(),
            customer,
            line,
            started_at: started_at
                .or(date_updated)
                .ok_or(SourceError::MissingField("StartTime"))?,
            ringing: api_agent.into_iter().collect(),
        }))),
        Stage::Answered => {
            let agent = api_agent
                .or_else(|| {
                    legs.iter()
                        .find(|l| l.received)
                        .and_then(|l| l.agents.first().cloned())
                })
                .unwrap_or_default();
            Ok(keyed(CallEvent::Answered(CallAnswer {
                provider: Provider::Exotel,
                call_id,
                at: date_updated
                    .or(started_at)
                    .ok_or(SourceError::MissingField("DateUpdated"))?,
                agent,
            })))
        }
        Stage::Ended => {
            let conversation = r.seconds("ConversationDuration")?;
            // Answered by the leg log when there is one, else by the call's status:
            // - `outbound-api`: the customer's leg (the last) must have completed; the agent
            //   leg alone answering is not an answered call.
            // - otherwise any completed leg answers the call: a ring group where one agent
            //   picked up is answered, not missed once per other agent.
            let answered = match (flow, legs.as_slice()) {
                (Flow::OutboundApi, [_, .., last]) => last.received,
                (_, []) => status == "completed" && conversation != Some(0),
                (_, legs) => legs.iter().any(|l| l.received),
            };
            let answered_by = if !answered {
                None
            } else if flow == Flow::OutboundApi {
                api_agent
            } else {
                legs.iter()
                    .find(|l| l.received)
                    .and_then(|l| l.agents.first().cloned())
            };
            let started_at = started_at
                .or(date_updated)
                .ok_or(SourceError::MissingField("StartTime"))?;
            let ended_at = r.time("EndTime")?.or(date_updated);
            Ok(keyed(CallEvent::Ended(CallRecord {
                provider: Provider::Exotel,
                call_id,
                direction: flow.direction(),
                customer,
                line,
                started_at,
                ended_at,
                total_seconds: ended_at
                    .map(|e| seconds_between(started_at, e))
                    .or(conversation)
                    .unwrap_or(0),
                talk_seconds: if answered { conversation } else { Some(0) },
                outcome: outcome(answered),
                answered_by,
                department: None,
                location: None,
                recording: r.recording(),
                legs,
            })))
        }
    }
}

/// A Passthru or Connect applet request.
fn applet(call_sid: String, r: &Reader<'_>) -> Result<Vec<ParsedEvent>, SourceError> {
    let (field, word) = match (r.payload.get("CallType"), r.payload.get("CallStatus")) {
        (Some(t), _) => ("CallType", t.to_ascii_lowercase()),
        (None, Some(s)) => ("CallStatus", s.to_ascii_lowercase()),
        (None, None) => return Err(SourceError::MissingField("CallType")),
    };
    let dial_duration = r.seconds("DialCallDuration")?;
    let talked = dial_duration.is_some_and(|d| d > 0);
    // (stage, answered when it ends)
    let (stage, answered) = match (field, word.as_str()) {
        // The caller is in the flow and has not reached a Connect yet.
        ("CallType", "call-attempt") => (Stage::Started, false),
        ("CallType", "completed") => (Stage::Ended, true),
        // The caller hung up: after talking to an agent, or before one picked up.
        ("CallType", "client-hangup") => (Stage::Ended, talked),
        // Nobody picked up.
        ("CallType", "incomplete") => (Stage::Ended, false),
        // The caller was sent to voicemail: one missed call carrying the voicemail.
        ("CallType", "voicemail") => (Stage::Ended, false),
        ("CallStatus", "queued" | "ringing") => (Stage::Started, false),
        ("CallStatus", "in-progress" | "answered") => (Stage::Answered, true),
        ("CallStatus", "completed") => (Stage::Ended, true),
        ("CallStatus", "busy" | "failed" | "no-answer" | "canceled" | "cancelled") => {
            (Stage::Ended, false)
        }
        ("CallType", _) => {
            return Err(invalid(
                "CallType",
                format!(
                    "{word:?} is not one of call-attempt, completed, client-hangup, \
                     incomplete, voicemail"
                ),
            ))
        }
        _ => {
            return Err(invalid(
                "CallStatus",
                format!(
                    "{word:?} is not one of queued, ringing, in-progress, completed, busy, \
                     failed, no-answer, canceled"
                ),
            ))
        }
    };
    let dedupe_key = format!("{call_sid}:{word}");
    // An applet runs in a flow an inbound call reached, unless it says otherwise. In an
    // outgoing flow Exotel dials the customer first, so the customer is `CallFrom` either way.
    let flow = flow(r.payload, Flow::Inbound)?;
    let customer = r.phones.parse(
        r.payload
            .get_any(&["CallFrom", "From"])
            .ok_or(SourceError::MissingField("CallFrom"))?,
    );
    let line = r
        .payload
        .get_any(&["CallTo", "To"])
        .map(|l| r.phones.parse(l));
    let agent = r.payload.get("DialWhomNumber").map(|n| agent(n, r.phones));
    let current = r.time("CurrentTime")?;
    // `Created` is read only when `StartTime` is absent.
    let started_at = match r.time("StartTime")? {
        Some(t) => t,
        None => r
            .time("Created")?
            .or(current)
            .ok_or(SourceError::MissingField("StartTime"))?,
    };
    let keyed = |event| vec![ParsedEvent { dedupe_key, event }];
    let call_id = call_sid;
    match stage {
        Stage::Started => Ok(keyed(CallEvent::Started(CallStart {
            provider: Provider::Exotel,
            call_id,
            direction: flow.direction(),
            customer,
            line,
            started_at,
            ringing: agent.into_iter().collect(),
        }))),
        Stage::Answered => Ok(keyed(CallEvent::Answered(CallAnswer {
            provider: Provider::Exotel,
            call_id,
            at: current.unwrap_or(started_at),
            agent: agent.unwrap_or_default(),
        }))),
        Stage::Ended => {
            // `EndTime` is a constant in applet requests; the request's own time is the end
            // when the applet runs after the call.
            let ended_at = r.time("EndTime")?.or(current);
            let legs = if agent.is_some() || dial_duration.is_some() || word == "voicemail" {
                vec![CallLeg {
                    started_at: None,
                    ended_at,
                    duration_seconds: dial_duration,
                    received: answered,
                    status: word.clone(),
                    agents: agent.clone().into_iter().collect(),
                }]
            } else {
                Vec::new()
            };
            Ok(keyed(CallEvent::Ended(CallRecord {
                provider: Provider::Exotel,
                call_id,
                direction: flow.direction(),
                customer,
                line,
                started_at,
                ended_at,
                total_seconds: ended_at.map_or(0, |e| seconds_between(started_at, e)),
                talk_seconds: if answered { dial_duration } else { Some(0) },
                outcome: outcome(answered),
                answered_by: agent.filter(|_| answered),
                department: None,
                location: None,
                recording: r.recording(),
                legs,
            })))
        }
    }
}

fn outcome(answered: bool) -> Outcome {
    if answered {
        Outcome::Answered
    } else {
        Outcome::Missed
    }
}

fn seconds_between(start: DateTime<Utc>, end: DateTime<Utc>) -> u64 {
    (end - start).num_seconds().max(0).unsigned_abs()
}

fn invalid(field: &'static str, reason: String) -> SourceError {
    SourceError::InvalidField { field, reason }
}

/// An agent named by phone number: E.164 when it parses, else as sent.
fn agent(raw: &str, phones: &PhoneParser) -> AgentRef {
    let phone = match phones.parse(raw) {
        PartyNumber::Known { phone } => Some(phone.to_string()),
        PartyNumber::Withheld => None,
        PartyNumber::Unparseable { raw } => Some(raw),
    };
    AgentRef {
        phone,
        ..AgentRef::default()
    }
}

/// The request's fields, whatever the encoding: scalars by name, and the legs.
#[derive(Debug, Default)]
struct Payload {
    fields: BTreeMap<String, String>,
    legs: BTreeMap<usize, BTreeMap<String, String>>,
}

impl Payload {
    /// A field, trimmed; empty and `null` mean absent.
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("null"))
    }

    fn get_any(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.get(k))
    }

    fn insert(&mut self, key: String, value: String) {
        if let Some((index, field)) = leg_key(&key) {
            self.legs
                .entry(index)
                .or_default()
                .entry(field)
                .or_insert(value);
        } else if key == "Legs" {
            // A relay may send the list as a JSON string.
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&value) {
                self.insert_legs(&items);
            }
        } else {
            self.fields.entry(key).or_insert(value);
        }
    }

    fn insert_legs(&mut self, items: &[Value]) {
        for (index, leg) in items.iter().enumerate() {
            if let Some(leg) = leg.as_object() {
                let entry = self.legs.entry(index).or_default();
                for (k, v) in leg {
                    if let Some(text) = scalar(v) {
                        entry.insert(k.clone(), text);
                    }
                }
            }
        }
    }
}

/// `Legs[0][Status]` (also `Legs[0].Status`, `Legs.0.Status`) → (0, `Status`).
fn leg_key(key: &str) -> Option<(usize, String)> {
    let rest = key.strip_prefix("Legs")?;
    let mut parts = rest
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|p| !p.is_empty());
    let index = parts.next()?.parse().ok()?;
    let field = parts.next()?.to_string();
    parts.next().is_none().then_some((index, field))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads the body (form or JSON), or the URL's query when the body is empty (the Passthru
/// applet's GET).
fn payload(inbound: &Inbound<'_>) -> Result<Payload, SourceError> {
    let body = inbound.body;
    let mut payload = Payload::default();
    if body.iter().all(u8::is_ascii_whitespace) {
        for (k, v) in form_urlencoded::parse(inbound.query().as_bytes()) {
            if k != SECRET_PARAM {
                payload.insert(k.into_owned(), v.into_owned());
            }
        }
        if payload.fields.is_empty() {
            return Err(SourceError::Empty);
        }
        return Ok(payload);
    }
    let kind = match inbound.content_type() {
        Some(ct) => BodyKind::from_content_type(Some(ct))?,
        None if body.trim_ascii_start().starts_with(b"{") => BodyKind::Json,
        None => BodyKind::Form,
    };
    match kind {
        BodyKind::Form => {
            for (k, v) in form_urlencoded::parse(body) {
                payload.insert(k.into_owned(), v.into_owned());
            }
        }
        BodyKind::Json => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| SourceError::MalformedJson(e.to_string()))?;
            let Value::Object(map) = value else {
                return Err(SourceError::Shape(
                    "expected the callback as a JSON object or a form".to_string(),
                ));
            };
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("Legs", Value::Array(items)) => payload.insert_legs(&items),
                    ("Legs", Value::Null) => {}
                    ("Legs", Value::String(s)) => payload.insert(k, s),
                    ("Legs", _) => {
                        return Err(invalid("Legs", "expected a list of call legs".to_string()))
                    }
                    (_, v) => {
                        if let Some(text) = scalar(&v) {
                            payload.insert(k, text);
                        }
                    }
                }
            }
        }
    }
    Ok(payload)
}

/// Field readers that need the phone parser and the time zone.
struct Reader<'a> {
    payload: &'a Payload,
    phones: &'a PhoneParser,
    tz: Tz,
}

impl Reader<'_> {
    /// A naive local time (`YYYY-MM-DD HH:MM:SS`) in the account's zone; times with an offset
    /// are taken as they are. Epoch zero however rendered (`1970-01-01 05:30:00` in India)
    /// and zero dates mean "not known".
    fn time(&self, key: &'static str) -> Result<Option<DateTime<Utc>>, SourceError> {
        let Some(raw) = self.payload.get(key) else {
            return Ok(None);
        };
        local_time(key, raw, self.tz)
    }

    fn seconds(&self, key: &'static str) -> Result<Option<u64>, SourceError> {
        self.payload
            .get(key)
            .map(|v| whole_seconds(key, v))
            .transpose()
    }

    fn recording(&self) -> Option<Recording> {
        self.payload.get("RecordingUrl").map(|url| Recording {
            url: url.to_string(),
            file_name: None,
        })
    }

    /// The status callback's `Legs`, in order.
    fn legs(&self) -> Result<Vec<CallLeg>, SourceError> {
        let mut out = Vec::new();
        for leg in self.payload.legs.values() {
            let get = |k: &str| {
                leg.get(k)
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("null"))
            };
            let status = get("Status").unwrap_or_default().to_ascii_lowercase();
            let duration = get("OnCallDuration")
                .map(|d| whole_seconds("Legs.OnCallDuration", d))
                .transpose()?;
            // `AnsweredBy` names the agent by number on the accounts that send it; a value
            // that is not a number (such as `human`) names nobody.
            let agents = get("AnsweredBy")
                .filter(|a| self.phones.parse(a).phone().is_some())
                .map(|a| agent(a, self.phones))
                .into_iter()
                .collect();
            out.push(CallLeg {
                started_at: None,
                ended_at: None,
                duration_seconds: duration,
                received: status == "completed" && duration != Some(0),
                status,
                agents,
            });
        }
        Ok(out)
    }
}

fn whole_seconds(field: &'static str, v: &str) -> Result<u64, SourceError> {
    v.parse::<u64>()
        .ok()
        .or_else(|| {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        })
        .ok_or_else(|| invalid(field, format!("{v:?} is not a number of seconds")))
}

fn local_time(
    field: &'static str,
    raw: &str,
    tz: Tz,
) -> Result<Option<DateTime<Utc>>, SourceError> {
    if raw.starts_with("0000-00-00") {
        return Ok(None);
    }
    let parsed = if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        t.with_timezone(&Utc)
    } else if let Ok(t) = DateTime::parse_from_rfc2822(raw) {
        t.with_timezone(&Utc)
    } else {
        // The applets' `Created` is `Tue, 26 Nov 2024 15:50:01`: RFC 2822 without a zone.
        let naive = [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%a, %d %b %Y %H:%M:%S",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .ok_or_else(|| {
            invalid(
                field,
                format!("{raw:?} is not a time like \"2024-11-26 15:44:05\""),
            )
        })?;
        tz.from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| invalid(field, format!("{raw:?} does not exist in {}", tz.name())))?
    };
    // Epoch zero in any zone (Exotel's "unset", `1970-01-01 05:30:00` in India).
    Ok(Some(parsed).filter(|t| t.timestamp() > 86_400))
}

/// Exotel signs nothing. Authenticate its requests with the source's shared secret, checked by
/// the server before parsing: as a header or HTTP Basic auth where the request can carry one
/// (the Calls API's `StatusCallback` URL may include `user:password@`), or as a `secret`
/// query parameter in the URL configured in the flow (`…/hooks/exotel?secret=…`), which this
/// checks in constant time. `Missing` means the URL has no `secret`; whether the request was
/// authenticated otherwise is the caller's call. An empty configured secret never verifies.
pub fn verify(inbound: &Inbound<'_>, secret: &str) -> Result<(), VerifyError> {
    const WHAT: &str = "secret query parameter";
    let given = form_urlencoded::parse(inbound.query().as_bytes())
        .find(|(k, _)| k == SECRET_PARAM)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or(VerifyError::Missing(WHAT))?;
    if !secret.is_empty() && bool::from(given.as_bytes().ct_eq(secret.as_bytes())) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch(WHAT))
    }
}

#[cfg(test)]
mod tests;
