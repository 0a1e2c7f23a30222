//! Twilio Programmable Voice status callbacks.
//!
//! Twilio posts a form (`application/x-www-form-urlencoded`) to the `StatusCallback` URL of a
//! call: the phone number's (inbound calls), the REST API call's (`outbound-api`) or a
//! `<Dial><Number>`/`<Client>`/`<Sip>` noun's (the legs that ring agents, `outbound-dial`, each
//! with the `ParentCallSid` of the caller's leg). Every leg of one call is reported under the
//! parent's call id, so a call that rang three agents is still one call.
//!
//! | `CallStatus` | event |
//! |---|---|
//! | `queued`, `initiated`, `ringing` | [`CallEvent::Started`] |
//! | `in-progress` (`answered`) | [`CallEvent::Answered`] |
//! | `completed`, `busy`, `no-answer`, `failed`, `canceled` | [`CallEvent::Ended`] for the parent leg |
//!
//! A child leg never ends the call: an agent leg that was answered reports [`CallEvent::Answered`]
//! (also from its `completed` callback, in case `answered` was not subscribed), and an agent leg
//! that was not answered (`no-answer`, `busy`, `canceled` when a colleague picked up first)
//! reports nothing, so a simultaneous ring is never a missed call per agent.
//!
//! Twilio knows no agents: the agent of a child leg is its `To` (a phone number, or the name of
//! a `client:` or `sip:` target as the extension), to be mapped to a Zendesk agent by phone or
//! by the configured table. See docs/providers/twilio.md.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{BodyKind, Inbound, SourceError, VerifyError};
use crate::call::{AgentRef, CallRecord, Direction, Outcome, Provider, Recording};
use crate::event::{CallAnswer, CallEvent, CallStart, ParsedEvent};
use crate::phone::{PartyNumber, PhoneParser};

/// The header Twilio signs its requests with (lower case, as [`Inbound::header`] wants it).
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The parameters of one callback, first value per name.
type Params = BTreeMap<String, String>;

/// Parses one Twilio voice status callback into call events: none, or one.
pub fn parse(inbound: &Inbound<'_>, phones: &PhoneParser) -> Result<Vec<ParsedEvent>, SourceError> {
    let params = params(inbound)?;
    if get(&params, "CallStatus").is_none() && get(&params, "RecordingStatus").is_some() {
        // A recording status callback: the recording belongs on the call's record, which the
        // call's own `completed` callback carries when the call was recorded by `<Dial record>`.
        return Ok(Vec::new());
    }
    let call_sid = get(&params, "CallSid").ok_or(SourceError::MissingField("CallSid"))?;
    let status_raw = get(&params, "CallStatus").ok_or(SourceError::MissingField("CallStatus"))?;
    let status = status_raw.to_ascii_lowercase();
    let stage = stage(&status)?;
    let parent = get(&params, "ParentCallSid");
    let leg = leg_direction(&params)?;
    let at = timestamp(&params)?;
    let call_duration = seconds(&params, "CallDuration")?;
    let dedupe_key = match get(&params, "SequenceNumber") {
        Some(seq) => format!("{call_sid}:{status}:{seq}"),
        None => format!("{call_sid}:{status}"),
    };
    let keyed = |event: CallEvent| {
        vec![ParsedEvent {
            dedupe_key: dedupe_key.clone(),
            event,
        }]
    };

    if let Some(parent) = parent {
        // A leg that rings an agent (`<Dial>` from the caller's call). deskline assumes the
        // usual help-desk flow: the caller's leg is inbound, `From` of the child leg is the
        // caller id Twilio passes on (the customer's, unless `<Dial callerId>` overrides it),
        // and `To` is the agent.
        let agent = agent_of(get(&params, "To").unwrap_or_default(), phones);
        let call_id = parent.to_string();
        return Ok(match stage {
            Stage::Started => keyed(CallEvent::Started(CallStart {
                provider: Provider::Twilio,
                call_id,
                direction: Direction::Inbound,
                customer: number(&params, "From", phones),
                line: None,
                started_at: at,
                ringing: vec![agent],
            })),
            Stage::Answered => keyed(CallEvent::Answered(CallAnswer {
                provider: Provider::Twilio,
                call_id,
                at,
                agent,
            })),
            Stage::Ended => match call_duration {
                // The agent talked: report the answer (again), dated when it happened.
                Some(d) if status == "completed" && d > 0 => {
                    keyed(CallEvent::Answered(CallAnswer {
                        provider: Provider::Twilio,
                        call_id,
                        at: before(at, d)?,
                        agent,
                    }))
                }
                // An agent who did not pick up (or was cancelled because a colleague did) is
                // not a missed call; the caller's leg decides how the call ended.
                _ => Vec::new(),
            },
        });
    }

    let direction = match leg {
        LegDirection::Inbound => Direction::Inbound,
        LegDirection::Outbound => Direction::Outbound,
    };
    let (customer_key, line_key) = match direction {
        Direction::Inbound => ("From", "To"),
        Direction::Outbound => ("To", "From"),
    };
    let customer = number(&params, customer_key, phones);
    let line = get(&params, line_key).map(|l| phones.parse(l));
    let call_id = call_sid.to_string();
    Ok(match stage {
        Stage::Started => keyed(CallEvent::Started(CallStart {
            provider: Provider::Twilio,
            call_id,
            direction,
            customer,
            line,
            started_at: at,
            ringing: Vec::new(),
        })),
        // The caller's leg was answered: by the callee of an outbound call, or, for an inbound
        // call, by Twilio running the TwiML. Twilio has no agent identity, so the agent is left
        // empty; the answering agent comes from the child leg's event.
        Stage::Answered => keyed(CallEvent::Answered(CallAnswer {
            provider: Provider::Twilio,
            call_id,
            at,
            agent: AgentRef::default(),
        })),
        Stage::Ended => {
            let duration = call_duration.unwrap_or(0);
            // Answered iff the leg completed after talking for more than 0 s: `busy`,
            // `no-answer`, `failed` and `canceled` never connected, and a `completed` call of
            // 0 s did not either. For an inbound call under `<Dial>` this says Twilio answered
            // (the TwiML ran); whether an agent picked up is told by the child legs' events.
            let answered = status == "completed" && duration > 0;
            let location = [
                format!("{customer_key}City"),
                format!("{customer_key}State"),
                format!("{customer_key}Country"),
            ]
            .iter()
            .filter_map(|k| get(&params, k))
            .collect::<Vec<_>>()
            .join(", ");
            keyed(CallEvent::Ended(CallRecord {
                provider: Provider::Twilio,
                call_id,
                direction,
                customer,
                line,
                // `CallDuration` is measured from the answer, `Timestamp` is the callback's
                // time, the call's end.
                started_at: before(at, duration)?,
                ended_at: Some(at),
                total_seconds: duration,
                talk_seconds: Some(if answered { duration } else { 0 }),
                outcome: if answered {
                    Outcome::Answered
                } else {
                    Outcome::Missed
                },
                answered_by: None,
                department: None,
                location: Some(location).filter(|l| !l.is_empty()),
                recording: get(&params, "RecordingUrl").map(|url| Recording {
                    url: url.to_string(),
                    file_name: get(&params, "RecordingSid").map(str::to_string),
                }),
                // Twilio reports each agent leg in its own callback (as Started/Answered
                // events of this call), never in the caller's.
                legs: Vec::new(),
            }))
        }
    })
}

/// What a `CallStatus` says about the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Started,
    Answered,
    Ended,
}

fn stage(status: &str) -> Result<Stage, SourceError> {
    match status {
        "queued" | "initiated" | "ringing" => Ok(Stage::Started),
        "in-progress" | "answered" => Ok(Stage::Answered),
        "completed" | "busy" | "no-answer" | "failed" | "canceled" | "cancelled" => {
            Ok(Stage::Ended)
        }
        other => Err(invalid(
            "CallStatus",
            format!(
                "{other:?} is not one of queued, initiated, ringing, in-progress, completed, \
                 busy, no-answer, failed, canceled"
            ),
        )),
    }
}

/// The direction of the leg a callback reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LegDirection {
    Inbound,
    Outbound,
}

fn leg_direction(params: &Params) -> Result<LegDirection, SourceError> {
    let raw = get(params, "Direction").ok_or(SourceError::MissingField("Direction"))?;
    match raw.to_ascii_lowercase().as_str() {
        "inbound" | "trunking-terminating" => Ok(LegDirection::Inbound),
        "outbound-api" | "outbound-dial" | "outbound" | "trunking-originating" => {
            Ok(LegDirection::Outbound)
        }
        _ => Err(invalid(
            "Direction",
            format!("{raw:?} is not inbound, outbound-api or outbound-dial"),
        )),
    }
}

/// The callback's parameters: a form (what Twilio sends), or a flat JSON object (what a relay
/// may turn it into).
fn params(inbound: &Inbound<'_>) -> Result<Params, SourceError> {
    let body = inbound.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty);
    }
    let kind = match inbound.content_type() {
        Some(ct) => BodyKind::from_content_type(Some(ct))?,
        // No content type: look at the body.
        None if body.trim_ascii_start().starts_with(b"{") => BodyKind::Json,
        None => BodyKind::Form,
    };
    let mut out = Params::new();
    match kind {
        BodyKind::Form => {
            for (k, v) in form_urlencoded::parse(body) {
                out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        BodyKind::Json => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| SourceError::MalformedJson(e.to_string()))?;
            let Value::Object(map) = value else {
                return Err(SourceError::Shape(
                    "expected the status callback as a form or a flat JSON object".to_string(),
                ));
            };
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                out.insert(k, text);
            }
        }
    }
    Ok(out)
}

/// A parameter, trimmed; empty means absent.
fn get<'p>(params: &'p Params, key: &str) -> Option<&'p str> {
    params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn invalid(field: &'static str, reason: String) -> SourceError {
    SourceError::InvalidField { field, reason }
}

/// `CallDuration` seconds before `at`.
fn before(at: DateTime<Utc>, seconds: u64) -> Result<DateTime<Utc>, SourceError> {
    i64::try_from(seconds)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| at.checked_sub_signed(d))
        .ok_or_else(|| invalid("CallDuration", format!("{seconds} seconds is out of range")))
}

fn seconds(params: &Params, key: &'static str) -> Result<Option<u64>, SourceError> {
    get(params, key)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| invalid(key, format!("{v:?} is not a whole number of seconds")))
        })
        .transpose()
}

/// `Timestamp`: when Twilio sent the callback, RFC 2822 (`Mon, 16 Aug 2010 03:45:01 +0000`).
fn timestamp(params: &Params) -> Result<DateTime<Utc>, SourceError> {
    let raw = get(params, "Timestamp").ok_or(SourceError::MissingField("Timestamp"))?;
    DateTime::parse_from_rfc2822(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            invalid(
                "Timestamp",
                format!("{raw:?} is not an RFC 2822 date like \"Mon, 16 Aug 2010 03:45:01 +0000\""),
            )
        })
}

fn number(params: &Params, key: &str, phones: &PhoneParser) -> PartyNumber {
    phones.parse(get(params, key).unwrap_or_default())
}

/// The agent a child leg dialled: a phone number (E.164 when it parses), or the identity of a
/// `client:` / `sip:` target as the extension.
fn agent_of(to: &str, phones: &PhoneParser) -> AgentRef {
    let to = to.trim();
    let lower = to.to_ascii_lowercase();
    for scheme in ["client:", "sip:"] {
        if lower.starts_with(scheme) {
            let rest = to.get(scheme.len()..).unwrap_or_default();
            // `sip:alice@pbx.example.com;transport=tls`: the identity is before the parameters.
            let identity = rest.split(';').next().unwrap_or(rest).trim();
            return AgentRef {
                extension: Some(identity.to_string()).filter(|s| !s.is_empty()),
                ..AgentRef::default()
            };
        }
    }
    let phone = match phones.parse(to) {
        PartyNumber::Known { phone } => Some(phone.to_string()),
        PartyNumber::Withheld => None,
        PartyNumber::Unparseable { raw } => Some(raw),
    };
    AgentRef {
        phone,
        ..AgentRef::default()
    }
}

/// Checks `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, URL + every POST parameter's name
/// and value, sorted by name)), computed over all parameters Twilio sent (it adds new ones
/// without notice). For JSON bodies Twilio puts `bodySHA256` (hex SHA-256 of the body) in the
/// URL and signs the URL alone; that hash is checked too. Like Twilio's own validators, the URL
/// is tried with and without its scheme's default port. An empty auth token never verifies.
pub fn verify(inbound: &Inbound<'_>, secret: &str) -> Result<(), VerifyError> {
    const HEADER: &str = "X-Twilio-Signature header";
    let given = inbound
        .header(SIGNATURE_HEADER)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::Missing(HEADER))?;
    if secret.is_empty() {
        return Err(VerifyError::Mismatch(HEADER));
    }
    let signed_params = match query_param(inbound.url, "bodySHA256") {
        Some(claimed) => {
            let actual = hex(&Sha256::digest(inbound.body));
            if !same(
                actual.as_bytes(),
                claimed.trim().to_ascii_lowercase().as_bytes(),
            ) {
                return Err(VerifyError::Mismatch("bodySHA256 URL parameter"));
            }
            String::new()
        }
        None => sorted_params(inbound.body),
    };
    let matches = url_variants(inbound.url).iter().any(|url| {
        let expected = sign(secret, url, &signed_params);
        same(expected.as_bytes(), given.as_bytes())
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Mismatch(HEADER))
    }
}

/// The signature Twilio would send for a form `body` posted to `url` (for tests and tools that
/// simulate Twilio).
pub fn signature(auth_token: &str, url: &str, form_body: &[u8]) -> String {
    sign(auth_token, url, &sorted_params(form_body))
}

fn sign(secret: &str, url: &str, params: &str) -> String {
    // HMAC accepts keys of any length; the error arm is unreachable but costs nothing.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    mac.update(params.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Every form parameter as name followed by value, sorted (as Twilio's reference validator
/// does: by name, then by value, each pair once).
fn sorted_params(body: &[u8]) -> String {
    let pairs: BTreeSet<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.into_iter().map(|(k, v)| k + &v).collect()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first value of a query parameter of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(super::url_query(url).as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The URL without its port and with its scheme's default port: Twilio's signing is not
/// consistent about `:443`, so its validators accept either.
fn url_variants(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    // A port is the digits after the last colon that is not inside an IPv6 literal.
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (host_port, None),
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => Some("443"),
        "http" => Some("80"),
        _ => None,
    };
    let without = format!("{scheme}://{userinfo}{host}{tail}");
    let with = match (port, default_port) {
        (Some(_), _) => url.to_string(),
        (None, Some(d)) => format!("{scheme}://{userinfo}{host}:{d}{tail}"),
        (None, None) => url.to_string(),
    };
    let mut out = vec![url.to_string()];
    for candidate in [without, with] {
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

#[cfg(test)]
mod tests;
