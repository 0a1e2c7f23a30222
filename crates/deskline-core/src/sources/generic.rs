//! A source for any provider whose call-ended webhook is JSON (or a form), mapped to a call
//! record by configuration alone.
//!
//! A [`GenericMapping`] sits in the configuration as `[sources.NAME.mapping]` and names, for
//! each call-record field, a [selector](selector) into the payload:
//!
//! ```toml
//! [sources.ringly.mapping]
//! only_when = { path = "type", equals = "call.ended" }
//! call_id = "call.uuid"
//! from = "call.caller.number"
//! to = "call.dialled.number"
//! direction = { path = "call.flow", inbound = ["IN"], outbound = ["OUT"] }
//! answered = { path = "call.legs[?status=answered]", not_empty = true }
//! agent_email = "call.legs[?status=answered].agent.email"
//! started_at = { path = "call.timing.created_ms", format = "epoch_millis" }
//! duration_seconds = "call.timing.billable"
//! ```
//!
//! Every payload gives one [`CallEvent::Ended`] with [`Provider::Generic`], or nothing when
//! `only_when` does not hold. A selector that finds nothing leaves its field absent; a value of
//! the wrong type is a [`SourceError::Mapping`] naming the mapping key and the selector.
//! [`GenericMapping::validate`] checks a mapping when the configuration loads. See
//! docs/providers/generic.md.

mod form;
pub mod selector;

use std::fmt;
use std::marker::PhantomData;

use chrono::format::{Fixed, Item, StrftimeItems};
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use self::selector::{is_blank, kind_of, loosely_equals, Selector};
use super::{BodyKind, Inbound, SourceError};
use crate::call::{AgentRef, CallLeg, CallRecord, Direction, Outcome, Provider, Recording};
use crate::event::{CallEvent, ParsedEvent};
use crate::phone::{PartyNumber, PhoneParser};

/// How a provider's payload maps to a call record: `[sources.NAME.mapping]`.
///
/// Plain fields take a selector string; `direction`, `started_at` and `ended_at` take a
/// selector string or a table; `answered` and `only_when` take tests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericMapping {
    /// The provider's call id (required; also the dedupe key unless `event_id` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The caller's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The number called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Inbound or outbound; unmapped, every call is `inbound`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<DirectionMapping>,
    /// When a call counts as answered. Unmapped: when `talk_seconds` is above 0, or, when
    /// the payload has no talk time, when it names an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<ValueTest>,
    /// The agent's email (matched to Zendesk agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_email: Option<String>,
    /// The agent's phone number (normalised like the customer's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_number: Option<String>,
    /// The agent's extension on the provider's PBX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_extension: Option<String>,
    /// The agent's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// When the call started. Required in the payload unless `ended_at` and
    /// `duration_seconds` give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<TimeMapping>,
    /// When the call ended; unmapped or absent, start + duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<TimeMapping>,
    /// Seconds from start to end, ringing included: a number, a numeric string or
    /// `[H]H:MM:SS` / `M:SS`. Unmapped or absent: end − start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<String>,
    /// Seconds talking, in the same forms as `duration_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk_seconds: Option<String>,
    /// The recording's link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// The department, queue or team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Where the customer is, as the provider says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The provider's id for this delivery, the same on redelivery; the dedupe key. Unmapped
    /// or absent: the call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Tests that must all hold for a payload to be a finished call; others are ignored
    /// (accepted, no event). One table or a list of tables.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub only_when: Vec<ValueTest>,
}

/// `direction = "selector"` or `direction = { path, inbound, outbound, default }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectionMapping {
    /// Where the direction is; without it every call has `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Values meaning inbound (ignoring case); unset: `inbound`, `in`, `incoming`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Vec<String>>,
    /// Values meaning outbound (ignoring case); unset: `outbound`, `out`, `outgoing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Vec<String>>,
    /// The direction when the payload has none; unset: inbound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Direction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectionTable {
    path: Option<String>,
    inbound: Option<Vec<String>>,
    outbound: Option<Vec<String>>,
    default: Option<Direction>,
}

/// `started_at = "selector"` (RFC 3339) or `{ path, format, time_zone }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TimeMapping {
    /// Where the time is.
    pub path: String,
    /// `rfc3339` (default), `epoch_seconds`, `epoch_millis`, or a chrono strftime pattern
    /// such as `%d/%m/%Y %H:%M:%S`.
    pub format: String,
    /// For a pattern without an offset: the IANA zone the provider's local times are in
    /// (default UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeTable {
    path: String,
    #[serde(default = "default_time_format")]
    format: String,
    time_zone: Option<String>,
}

fn default_time_format() -> String {
    "rfc3339".to_string()
}

/// A test on one value: `{ path, equals = [...] }`, `{ path, not_empty = true }` or
/// `{ path, greater_than = N }`. Absent values fail every test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueTest {
    /// Where the value is.
    pub path: String,
    /// Holds when the value equals one of these (text ignoring case, numbers by value).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub equals: Vec<MatchValue>,
    /// Holds when the value is present and not `""`, `[]` or `{}`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_empty: bool,
    /// Holds when the value (a number, numeric string or `H:MM:SS`) is greater.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greater_than: Option<f64>,
}

/// A value a test compares with, as written in TOML.
#[derive(Clone, Debug, PartialEq)]
pub enum MatchValue {
    /// `"answered"`.
    Text(String),
    /// `1`.
    Integer(i64),
    /// `1.5`.
    Float(f64),
    /// `true`.
    Bool(bool),
}

impl fmt::Display for MatchValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchValue::Text(s) => f.write_str(s),
            MatchValue::Integer(i) => write!(f, "{i}"),
            MatchValue::Float(x) => write!(f, "{x}"),
            MatchValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Serialize for MatchValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MatchValue::Text(t) => s.serialize_str(t),
            MatchValue::Integer(i) => s.serialize_i64(*i),
            MatchValue::Float(x) => s.serialize_f64(*x),
            MatchValue::Bool(b) => s.serialize_bool(*b),
        }
    }
}

impl<'de> Deserialize<'de> for MatchValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MatchValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text, a number or true/false")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MatchValue, E> {
                Ok(MatchValue::Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<MatchValue, E> {
                Ok(MatchValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MatchValue, E> {
                Ok(MatchValue::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MatchValue, E> {
                Ok(i64::try_from(v).map_or(MatchValue::Float(v as f64), MatchValue::Integer))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<MatchValue, E> {
                Ok(MatchValue::Float(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A type written either as a selector string or as a table.
trait Shorthand: Sized {
    type Table: DeserializeOwned;
    const EXPECTING: &'static str;
    fn from_path(path: String) -> Self;
    fn from_table(table: Self::Table) -> Self;
}

impl Shorthand for DirectionMapping {
    type Table = DirectionTable;
    const EXPECTING: &'static str =
        "a selector, or a table with path, inbound, outbound and default";
    fn from_path(path: String) -> Self {
        DirectionMapping {
            path: Some(path),
            ..DirectionMapping::default()
        }
    }
    fn from_table(t: DirectionTable) -> Self {
        DirectionMapping {
            path: t.path,
            inbound: t.inbound,
            outbound: t.outbound,
            default: t.default,
        }
    }
}

impl Shorthand for TimeMapping {
    type Table = TimeTable;
    const EXPECTING: &'static str = "a selector, or a table with path, format and time_zone";
    fn from_path(path: String) -> Self {
        TimeMapping {
            path,
            format: default_time_format(),
            time_zone: None,
        }
    }
    fn from_table(t: TimeTable) -> Self {
        TimeMapping {
            path: t.path,
            format: t.format,
            time_zone: t.time_zone,
        }
    }
}

struct ShorthandVisitor<T>(PhantomData<T>);

impl<'de, T: Shorthand> Visitor<'de> for ShorthandVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from_path(v.to_string()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::Table::deserialize(MapAccessDeserializer::new(map)).map(T::from_table)
    }
}

impl<'de> Deserialize<'de> for DirectionMapping {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShorthandVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for TimeMapping {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShorthandVisitor(PhantomData))
    }
}

/// One value or a list of them.
fn one_or_many<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("one value or a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map)).map(|t| vec![t])
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|t| vec![t])
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|t| vec![t])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|t| vec![t])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|t| vec![t])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|t| vec![t])
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// A mapping problem: the key (`started_at.format`), what is wrong, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Problem {
    key: String,
    message: String,
}

impl Problem {
    fn new(key: impl Into<String>, what: impl fmt::Display, fix: impl fmt::Display) -> Problem {
        Problem {
            key: key.into(),
            message: format!("{what}. Fix: {fix}"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mapping.{}: {}", self.key, self.message)
    }
}

const SYNTAX_HELP: &str = "selectors are dotted keys with [N] indexes and [?field=value] filters, e.g. data.legs[?status=answered].agent.email (docs/providers/generic.md)";
const FORMATS: &str =
    "rfc3339, epoch_seconds, epoch_millis, or a strftime pattern such as \"%Y-%m-%d %H:%M:%S\"";
const DEFAULT_INBOUND: &[&str] = &["inbound", "in", "incoming"];
const DEFAULT_OUTBOUND: &[&str] = &["outbound", "out", "outgoing"];

impl GenericMapping {
    /// Checks the mapping as the configuration loads: every problem at once, each as
    /// `mapping.<key>: <what is wrong>. Fix: <what to write>` (the caller prefixes
    /// `sources.<name>.`).
    pub fn validate(&self) -> Result<(), Vec<String>> {
        self.compile()
            .map(|_| ())
            .map_err(|problems| problems.iter().map(ToString::to_string).collect())
    }

    fn compile(&self) -> Result<Compiled, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut sel = |key: &str, text: &Option<String>| -> Option<Selector> {
            let text = text.as_deref()?;
            compile_selector(key, text)
                .map_err(|p| problems.push(p))
                .ok()
        };
        let call_id = sel("call_id", &self.call_id);
        let from = sel("from", &self.from);
        let to = sel("to", &self.to);
        let agent_email = sel("agent_email", &self.agent_email);
        let agent_number = sel("agent_number", &self.agent_number);
        let agent_extension = sel("agent_extension", &self.agent_extension);
        let agent_name = sel("agent_name", &self.agent_name);
        let duration_seconds = sel("duration_seconds", &self.duration_seconds);
        let talk_seconds = sel("talk_seconds", &self.talk_seconds);
        let recording_url = sel("recording_url", &self.recording_url);
        let department = sel("department", &self.department);
        let location = sel("location", &self.location);
        let event_id = sel("event_id", &self.event_id);
        if self.call_id.is_none() {
            problems.push(Problem::new(
                "call_id",
                "is missing",
                "set call_id to the selector of the provider's call id, e.g. call_id = \"data.call.id\"",
            ));
        }
        let direction = self
            .direction
            .as_ref()
            .map_or_else(|| Ok(CompiledDirection::default()), compile_direction)
            .map_err(|mut p| problems.append(&mut p))
            .ok();
        let answered = self
            .answered
            .as_ref()
            .map(|t| compile_test("answered", t))
            .transpose()
            .map_err(|mut p| problems.append(&mut p))
            .ok()
            .flatten();
        let started_at = self
            .started_at
            .as_ref()
            .map(|t| compile_time("started_at", t))
            .transpose()
            .map_err(|mut p| problems.append(&mut p))
            .ok()
            .flatten();
        let ended_at = self
            .ended_at
            .as_ref()
            .map(|t| compile_time("ended_at", t))
            .transpose()
            .map_err(|mut p| problems.append(&mut p))
            .ok()
            .flatten();
        if self.started_at.is_none() && (self.ended_at.is_none() || self.duration_seconds.is_none())
        {
            problems.push(Problem::new(
                "started_at",
                "is missing, and the start cannot be worked out without both ended_at and duration_seconds",
                "set started_at = { path = \"…\", format = \"…\" } (or map both ended_at and duration_seconds)",
            ));
        }
        let mut only_when = Vec::new();
        for (i, test) in self.only_when.iter().enumerate() {
            let key = if self.only_when.len() == 1 {
                "only_when".to_string()
            } else {
                format!("only_when[{i}]")
            };
            match compile_test(&key, test) {
                Ok(t) => only_when.push(t),
                Err(mut p) => problems.append(&mut p),
            }
        }
        match (call_id, direction) {
            (Some(call_id), Some(direction)) if problems.is_empty() => Ok(Compiled {
                call_id,
                from,
                to,
                direction,
                answered,
                agent_email,
                agent_number,
                agent_extension,
                agent_name,
                started_at,
                ended_at,
                duration_seconds,
                talk_seconds,
                recording_url,
                department,
                location,
                event_id,
                only_when,
            }),
            _ => Err(problems),
        }
    }
}

fn compile_selector(key: &str, text: &str) -> Result<Selector, Problem> {
    Selector::parse(text).map_err(|e| {
        Problem::new(
            key,
            format_args!("{text:?} is not a valid selector: {e}"),
            SYNTAX_HELP,
        )
    })
}

#[derive(Debug)]
struct Compiled {
    call_id: Selector,
    from: Option<Selector>,
    to: Option<Selector>,
    direction: CompiledDirection,
    answered: Option<Test>,
    agent_email: Option<Selector>,
    agent_number: Option<Selector>,
    agent_extension: Option<Selector>,
    agent_name: Option<Selector>,
    started_at: Option<Time>,
    ended_at: Option<Time>,
    duration_seconds: Option<Selector>,
    talk_seconds: Option<Selector>,
    recording_url: Option<Selector>,
    department: Option<Selector>,
    location: Option<Selector>,
    event_id: Option<Selector>,
    only_when: Vec<Test>,
}

#[derive(Debug)]
struct CompiledDirection {
    path: Option<Selector>,
    inbound: Vec<String>,
    outbound: Vec<String>,
    default: Direction,
}

impl Default for CompiledDirection {
    fn default() -> Self {
        CompiledDirection {
            path: None,
            inbound: DEFAULT_INBOUND.iter().map(|s| s.to_string()).collect(),
            outbound: DEFAULT_OUTBOUND.iter().map(|s| s.to_string()).collect(),
            default: Direction::Inbound,
        }
    }
}

fn compile_direction(d: &DirectionMapping) -> Result<CompiledDirection, Vec<Problem>> {
    let mut problems = Vec::new();
    let path = match d
        .path
        .as_deref()
        .map(|p| compile_selector("direction.path", p))
    {
        Some(Err(p)) => {
            problems.push(p);
            None
        }
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let words = |list: &Option<Vec<String>>, defaults: &[&str]| -> Vec<String> {
        list.as_ref().map_or_else(
            || defaults.iter().map(|s| s.to_string()).collect(),
            |l| l.iter().map(|s| s.trim().to_lowercase()).collect(),
        )
    };
    let inbound = words(&d.inbound, DEFAULT_INBOUND);
    let outbound = words(&d.outbound, DEFAULT_OUTBOUND);
    for (key, list) in [
        ("direction.inbound", &inbound),
        ("direction.outbound", &outbound),
    ] {
        if list.is_empty() || list.iter().any(String::is_empty) {
            problems.push(Problem::new(
                key,
                "is empty or has an empty value",
                "list the provider's words, e.g. [\"in\", \"incoming\"]",
            ));
        }
    }
    if let Some(both) = inbound.iter().find(|w| outbound.contains(w)) {
        problems.push(Problem::new(
            "direction",
            format_args!("{both:?} is listed as both inbound and outbound"),
            "keep it in one of direction.inbound and direction.outbound",
        ));
    }
    if problems.is_empty() {
        Ok(CompiledDirection {
            path,
            inbound,
            outbound,
            default: d.default.unwrap_or(Direction::Inbound),
        })
    } else {
        Err(problems)
    }
}

#[derive(Debug)]
struct Test {
    key: String,
    selector: Selector,
    kind: TestKind,
}

#[derive(Debug)]
enum TestKind {
    Equals(Vec<String>),
    NotEmpty,
    GreaterThan(f64),
}

fn compile_test(key: &str, t: &ValueTest) -> Result<Test, Vec<Problem>> {
    let mut problems = Vec::new();
    let selector = compile_selector(&format!("{key}.path"), &t.path)
        .map_err(|p| problems.push(p))
        .ok();
    let chosen = usize::from(!t.equals.is_empty())
        + usize::from(t.not_empty)
        + usize::from(t.greater_than.is_some());
    let kind = match (&t.equals[..], t.not_empty, t.greater_than) {
        _ if chosen != 1 => {
            problems.push(Problem::new(
                key,
                if chosen == 0 {
                    "has no test"
                } else {
                    "has more than one test"
                },
                format_args!(
                    "use exactly one of equals = [\"…\"], not_empty = true or greater_than = 0, e.g. {key} = {{ path = \"call.status\", equals = [\"answered\"] }}"
                ),
            ));
            None
        }
        (values @ [_, ..], _, _) => Some(TestKind::Equals(
            values.iter().map(ToString::to_string).collect(),
        )),
        (_, true, _) => Some(TestKind::NotEmpty),
        (_, _, Some(n)) if n.is_finite() => Some(TestKind::GreaterThan(n)),
        _ => {
            problems.push(Problem::new(
                format!("{key}.greater_than"),
                "is not a finite number",
                "write a number such as 0",
            ));
            None
        }
    };
    match (selector, kind) {
        (Some(selector), Some(kind)) if problems.is_empty() => Ok(Test {
            key: key.to_string(),
            selector,
            kind,
        }),
        _ => Err(problems),
    }
}

#[derive(Debug)]
struct Time {
    key: &'static str,
    selector: Selector,
    format: TimeFormat,
}

#[derive(Debug)]
enum TimeFormat {
    Rfc3339,
    EpochSeconds,
    EpochMillis,
    /// A strftime pattern; `zone` for patterns without an offset.
    Pattern {
        pattern: String,
        zone: Option<Tz>,
    },
}

impl TimeFormat {
    fn name(&self) -> &str {
        match self {
            TimeFormat::Rfc3339 => "rfc3339",
            TimeFormat::EpochSeconds => "epoch_seconds",
            TimeFormat::EpochMillis => "epoch_millis",
            TimeFormat::Pattern { pattern, .. } => pattern,
        }
    }
}

fn compile_time(key: &'static str, t: &TimeMapping) -> Result<Time, Vec<Problem>> {
    let mut problems = Vec::new();
    let selector = compile_selector(&format!("{key}.path"), &t.path)
        .map_err(|p| problems.push(p))
        .ok();
    let zone = match t.time_zone.as_deref().map(str::trim) {
        None => None,
        Some(name) => match name.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(Problem::new(
                    format!("{key}.time_zone"),
                    format_args!("{name:?} is not an IANA time zone"),
                    "use a name such as \"Asia/Kolkata\", \"Europe/London\" or \"UTC\"",
                ));
                None
            }
        },
    };
    let format = t.format.trim();
    let format = match format.to_ascii_lowercase().as_str() {
        "rfc3339" => Some(TimeFormat::Rfc3339),
        "epoch_seconds" => Some(TimeFormat::EpochSeconds),
        "epoch_millis" => Some(TimeFormat::EpochMillis),
        _ if format.contains('%') => {
            let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
            if items.iter().any(|i| matches!(i, Item::Error)) {
                problems.push(Problem::new(
                    format!("{key}.format"),
                    format_args!("{format:?} has an unknown % specifier"),
                    "use chrono's strftime specifiers (%Y %m %d %H %M %S %z …; %% for a literal %)",
                ));
                None
            } else if has_offset(&items) {
                if t.time_zone.is_some() {
                    problems.push(Problem::new(
                        format!("{key}.time_zone"),
                        "is set, but the format reads the offset from the value itself",
                        "remove time_zone, or remove the offset (%z) from the format",
                    ));
                }
                Some(TimeFormat::Pattern {
                    pattern: format.to_string(),
                    zone: None,
                })
            } else {
                Some(TimeFormat::Pattern {
                    pattern: format.to_string(),
                    zone: Some(zone.unwrap_or(Tz::UTC)),
                })
            }
        }
        _ => {
            problems.push(Problem::new(
                format!("{key}.format"),
                format_args!("{format:?} is not a time format"),
                format_args!("use {FORMATS}"),
            ));
            None
        }
    };
    if t.time_zone.is_some()
        && matches!(format, Some(ref f) if !matches!(f, TimeFormat::Pattern { .. }))
    {
        problems.push(Problem::new(
            format!("{key}.time_zone"),
            format_args!(
                "only applies to strftime patterns, and the format is {:?}",
                t.format.trim()
            ),
            "remove time_zone (RFC 3339 times carry their offset; epoch times are UTC)",
        ));
    }
    match (selector, format) {
        (Some(selector), Some(format)) if problems.is_empty() => Ok(Time {
            key,
            selector,
            format,
        }),
        _ => Err(problems),
    }
}

fn has_offset(items: &[Item<'_>]) -> bool {
    items.iter().any(|i| {
        matches!(
            i,
            Item::Fixed(
                Fixed::TimezoneOffset
                    | Fixed::TimezoneOffsetColon
                    | Fixed::TimezoneOffsetDoubleColon
                    | Fixed::TimezoneOffsetTripleColon
                    | Fixed::TimezoneOffsetColonZ
                    | Fixed::TimezoneOffsetZ
                    | Fixed::RFC2822
                    | Fixed::RFC3339
            )
        )
    })
}

/// Parses one webhook with a mapping: a finished call, or nothing when `only_when` does not
/// hold.
pub fn parse(
    inbound: &Inbound<'_>,
    phones: &PhoneParser,
    mapping: &GenericMapping,
) -> Result<Vec<ParsedEvent>, SourceError> {
    let m = mapping.compile().map_err(|problems| {
        let first = problems.into_iter().next();
        SourceError::Mapping {
            key: first.as_ref().map_or_else(String::new, |p| p.key.clone()),
            reason: first.map_or_else(|| "the mapping is invalid".to_string(), |p| p.message),
        }
    })?;
    let payload = payload(inbound)?;
    for test in &m.only_when {
        if !test.holds(&payload)? {
            return Ok(Vec::new());
        }
    }
    let call_id = text(&payload, "call_id", &m.call_id)?.ok_or_else(|| SourceError::Mapping {
        key: "call_id".to_string(),
        reason: format!(
            "`{}` is absent or empty in this payload, and every call needs an id",
            m.call_id
        ),
    })?;
    let direction = m.direction.read(&payload)?;
    let from = opt_text(&payload, "from", &m.from)?;
    let to = opt_text(&payload, "to", &m.to)?;
    let (customer, line) = match direction {
        Direction::Inbound => (from, to),
        Direction::Outbound => (to, from),
    };
    let customer = phones.parse(customer.as_deref().unwrap_or_default());
    let line = line.map(|l| phones.parse(&l));

    let started = opt_time(&payload, &m.started_at)?;
    let ended = opt_time(&payload, &m.ended_at)?;
    let duration = opt_seconds(&payload, "duration_seconds", &m.duration_seconds)?;
    let talk = opt_seconds(&payload, "talk_seconds", &m.talk_seconds)?;
    let started_at = started
        .or_else(|| ended?.checked_sub_signed(secs(duration?)?))
        .ok_or_else(|| SourceError::Mapping {
            key: "started_at".to_string(),
            reason: match &m.started_at {
                Some(t) => format!("`{}` is absent or empty in this payload", t.selector),
                None => "the payload has no ended_at and duration_seconds to work it out from"
                    .to_string(),
            },
        })?;
    let ended_at = ended.or_else(|| started_at.checked_add_signed(secs(duration?)?));
    let total_seconds = duration
        .or_else(|| Some((ended_at? - started_at).num_seconds().max(0).unsigned_abs()))
        .unwrap_or(0);

    let agent_phone = match opt_text(&payload, "agent_number", &m.agent_number)? {
        None => None,
        Some(raw) => match phones.parse(&raw) {
            PartyNumber::Known { phone } => Some(phone.to_string()),
            PartyNumber::Withheld => None,
            PartyNumber::Unparseable { raw } => Some(raw),
        },
    };
    let agent = AgentRef {
        email: opt_text(&payload, "agent_email", &m.agent_email)?,
        name: opt_text(&payload, "agent_name", &m.agent_name)?,
        extension: opt_text(&payload, "agent_extension", &m.agent_extension)?,
        phone: agent_phone,
    };
    let agent = (agent != AgentRef::default()).then_some(agent);
    let answered = match &m.answered {
        Some(test) => test.holds(&payload)?,
        None => talk.map_or(agent.is_some(), |t| t > 0),
    };
    let talk_seconds = talk.or((!answered).then_some(0));
    let leg = CallLeg {
        started_at: Some(started_at),
        ended_at,
        duration_seconds: Some(total_seconds),
        received: answered,
        status: if answered { "answered" } else { "missed" }.to_string(),
        agents: agent.iter().cloned().collect(),
    };
    let record = CallRecord {
        provider: Provider::Generic,
        call_id: call_id.clone(),
        direction,
        customer,
        line,
        started_at,
        ended_at,
        total_seconds,
        talk_seconds,
        outcome: if answered {
            Outcome::Answered
        } else {
            Outcome::Missed
        },
        answered_by: agent.filter(|_| answered),
        department: opt_text(&payload, "department", &m.department)?,
        location: opt_text(&payload, "location", &m.location)?,
        recording: opt_text(&payload, "recording_url", &m.recording_url)?.map(|url| Recording {
            url,
            file_name: None,
        }),
        legs: vec![leg],
    };
    let dedupe_key = opt_text(&payload, "event_id", &m.event_id)?.unwrap_or(call_id);
    Ok(vec![ParsedEvent {
        dedupe_key,
        event: CallEvent::Ended(record),
    }])
}

/// The body as JSON, whatever its encoding.
fn payload(inbound: &Inbound<'_>) -> Result<Value, SourceError> {
    if inbound.body.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty);
    }
    match BodyKind::from_content_type(inbound.content_type())? {
        BodyKind::Json => serde_json::from_slice(inbound.body)
            .map_err(|e| SourceError::MalformedJson(e.to_string())),
        BodyKind::Form => Ok(form::to_json(inbound.body)),
    }
}

fn mapping_error(key: &str, reason: String) -> SourceError {
    SourceError::Mapping {
        key: key.to_string(),
        reason,
    }
}

fn secs(n: u64) -> Option<Duration> {
    i64::try_from(n).ok().and_then(Duration::try_seconds)
}

fn lookup<'v>(
    payload: &'v Value,
    key: &str,
    selector: &Selector,
) -> Result<Option<&'v Value>, SourceError> {
    selector.select(payload).map_err(|mismatch| {
        mapping_error(
            key,
            format!("`{selector}` does not fit this payload: {mismatch}"),
        )
    })
}

/// Text or a number as text; `""` is absent.
fn text(payload: &Value, key: &str, selector: &Selector) -> Result<Option<String>, SourceError> {
    match lookup(payload, key, selector)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(mapping_error(
            key,
            format!(
                "`{selector}` is {}; expected text or a number",
                kind_of(other)
            ),
        )),
    }
}

fn opt_text(
    payload: &Value,
    key: &str,
    selector: &Option<Selector>,
) -> Result<Option<String>, SourceError> {
    match selector {
        Some(s) => text(payload, key, s),
        None => Ok(None),
    }
}

/// Seconds from a number, a numeric string, or `H:MM:SS` / `M:SS`.
fn seconds_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            if s.contains(':') {
                let parts: Vec<&str> = s.split(':').collect();
                if !(2..=3).contains(&parts.len())
                    || parts.iter().skip(1).any(|p| p.len() != 2)
                    || parts
                        .iter()
                        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
                {
                    return None;
                }
                parts
                    .iter()
                    .try_fold(0f64, |acc, p| p.parse::<f64>().ok().map(|x| acc * 60.0 + x))
            } else {
                s.parse::<f64>().ok().filter(|x| x.is_finite())
            }
        }
        _ => None,
    }
}

fn opt_seconds(
    payload: &Value,
    key: &str,
    selector: &Option<Selector>,
) -> Result<Option<u64>, SourceError> {
    let Some(selector) = selector else {
        return Ok(None);
    };
    match lookup(payload, key, selector)? {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => match seconds_of(v) {
            Some(x) if x >= 0.0 => Ok(Some(x.round() as u64)),
            Some(_) => Err(mapping_error(
                key,
                format!("`{selector}` is {v}, a negative number of seconds"),
            )),
            None => Err(mapping_error(
                key,
                format!(
                    "`{selector}` is {v}; expected seconds as a number, a numeric string or H:MM:SS"
                ),
            )),
        },
    }
}

fn opt_time(payload: &Value, time: &Option<Time>) -> Result<Option<DateTime<Utc>>, SourceError> {
    let Some(time) = time else {
        return Ok(None);
    };
    let Some(v) = lookup(payload, time.key, &time.selector)? else {
        return Ok(None);
    };
    time.read(v)
}

impl Time {
    fn read(&self, v: &Value) -> Result<Option<DateTime<Utc>>, SourceError> {
        let fail = |why: &str| {
            mapping_error(
                self.key,
                format!(
                    "`{}` is {v}, which is not a time in format {}: {why}",
                    self.selector,
                    self.format.name()
                ),
            )
        };
        // Providers write "no time" as 0 or "0000-00-00 00:00:00".
        let unset = match v {
            Value::String(s) => {
                let mut digits = s.chars().filter(char::is_ascii_digit).peekable();
                s.trim().is_empty() || (digits.peek().is_some() && digits.all(|c| c == '0'))
            }
            Value::Number(n) => n.as_f64() == Some(0.0),
            _ => false,
        };
        if unset {
            return Ok(None);
        }
        match &self.format {
            TimeFormat::EpochSeconds | TimeFormat::EpochMillis => {
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|n| n.is_finite())
                .ok_or_else(|| fail("expected a number or a numeric string"))?;
                let millis = if matches!(self.format, TimeFormat::EpochSeconds) {
                    n * 1000.0
                } else {
                    n
                };
                if !(0.0..=1e16).contains(&millis) {
                    return Err(fail("out of range"));
                }
                Utc.timestamp_millis_opt(millis.round() as i64)
                    .single()
                    .map(Some)
                    .ok_or_else(|| fail("out of range"))
            }
            TimeFormat::Rfc3339 => {
                let s = v
                    .as_str()
                    .ok_or_else(|| fail("expected text such as 2024-11-23T11:55:21Z (for numbers, use format = \"epoch_seconds\" or \"epoch_millis\")"))?
                    .trim();
                DateTime::parse_from_rfc3339(s)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|e| fail(&e.to_string()))
            }
            TimeFormat::Pattern { pattern, zone } => {
                let s = match v {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(fail("expected text")),
                };
                match zone {
                    None => DateTime::parse_from_str(&s, pattern)
                        .map(|t| Some(t.with_timezone(&Utc)))
                        .map_err(|e| fail(&e.to_string())),
                    Some(tz) => {
                        let naive = NaiveDateTime::parse_from_str(&s, pattern)
                            .map_err(|e| fail(&e.to_string()))?;
                        // An ambiguous local time (clocks going back) is the earlier instant;
                        // one in a gap (clocks going forward) is read an hour later.
                        tz.from_local_datetime(&naive)
                            .earliest()
                            .or_else(|| {
                                let later = naive.checked_add_signed(Duration::hours(1))?;
                                tz.from_local_datetime(&later).earliest()
                            })
                            .map(|t| Some(t.with_timezone(&Utc)))
                            .ok_or_else(|| fail("not a time in the configured time zone"))
                    }
                }
            }
        }
    }
}

impl CompiledDirection {
    fn read(&self, payload: &Value) -> Result<Direction, SourceError> {
        let Some(path) = &self.path else {
            return Ok(self.default);
        };
        let Some(raw) = text(payload, "direction", path)? else {
            return Ok(self.default);
        };
        let word = raw.to_lowercase();
        if self.inbound.contains(&word) {
            Ok(Direction::Inbound)
        } else if self.outbound.contains(&word) {
            Ok(Direction::Outbound)
        } else {
            Err(mapping_error(
                "direction",
                format!(
                    "`{path}` is {raw:?}, which is neither inbound ({}) nor outbound ({}); list it in direction.inbound or direction.outbound",
                    self.inbound.join(", "),
                    self.outbound.join(", ")
                ),
            ))
        }
    }
}

impl Test {
    fn holds(&self, payload: &Value) -> Result<bool, SourceError> {
        let value = lookup(payload, &self.key, &self.selector)?;
        match (&self.kind, value) {
            (TestKind::NotEmpty, v) => Ok(v.is_some_and(|v| !is_blank(v))),
            (_, None) => Ok(false),
            (TestKind::Equals(_), Some(v @ (Value::Array(_) | Value::Object(_)))) => {
                Err(mapping_error(
                    &self.key,
                    format!(
                        "`{}` is {}; equals compares a single value (point the path at one field, or use not_empty = true)",
                        self.selector,
                        kind_of(v)
                    ),
                ))
            }
            (TestKind::Equals(values), Some(v)) => {
                Ok(values.iter().any(|e| loosely_equals(v, e)))
            }
            (TestKind::GreaterThan(_), Some(v)) if is_blank(v) => Ok(false),
            (TestKind::GreaterThan(n), Some(v)) => match seconds_of(v) {
                Some(x) => Ok(x > *n),
                None => Err(mapping_error(
                    &self.key,
                    format!(
                        "`{}` is {v}; greater_than needs a number, a numeric string or H:MM:SS",
                        self.selector
                    ),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests;
