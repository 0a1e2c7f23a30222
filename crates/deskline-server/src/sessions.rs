//! Phone sessions of AI phone agents, for handoff sources (see docs/voice.md).
//!
//! - `POST /hooks/{source}/sessions`: the AI platform registers a live call (its session id
//!   and the caller's number) as soon as it answers, so the voice ticket Zendesk Talk creates
//!   for the forwarded call can be tied back to it (`worker::voice_correlation`).
//! - `GET /hooks/{source}/sessions/{session_id}/sip-headers?destination=…&transfer=…`: the SIP
//!   headers the AI's PBX adds when it transfers the caller back to a human, so the call lands
//!   on the same Zendesk ticket (`X-Zendesk-Ticket-Id`, which Zendesk's SIP-IN lines read).
//!
//! Both are authenticated with the source's secret, like handoffs to `POST /hooks/{source}`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use deskline_core::conversation::ConversationStatus;
use deskline_core::phone::{PartyNumber, PhoneParser};
use deskline_store::Conversation;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::check_source_secret;
use crate::config::SourceKind;
use crate::http_error::HttpError;
use crate::state::{AppState, Source};
use deskline_core::sources::json_kind;

/// The channel of a phone session's conversation; `Store::open_phone_session` matches on it.
pub const PHONE_CHANNEL: &str = "phone";
/// Link kind: `{source}:{session id}` → the session's call details ([`SessionDetails`] as
/// JSON). Kept beside the conversation because they describe the call, not the contact.
pub const SESSION_DETAILS_LINK: &str = "phone_session";
/// The longest session id accepted; ids travel in SIP headers and URLs.
const MAX_SESSION_ID_CHARS: usize = 200;

/// Header names `GET …/sip-headers` answers with (documented in docs/voice.md).
pub mod header {
    /// The Zendesk ticket the call belongs on; read by Zendesk Talk's SIP-IN lines.
    pub const ZENDESK_TICKET_ID: &str = "X-Zendesk-Ticket-Id";
    /// The handoff source the session belongs to.
    pub const SOURCE: &str = "X-Deskline-Source";
    /// The AI platform's session id.
    pub const SESSION_ID: &str = "X-Deskline-Session-Id";
    /// The AI agent that handled the call.
    pub const AGENT_ID: &str = "X-Deskline-Agent-Id";
    /// The contact's id in the AI platform.
    pub const CONTACT_ID: &str = "X-Deskline-Contact-Id";
    /// The contact's Zendesk user id (known once the session is tied to a ticket).
    pub const ZENDESK_USER_ID: &str = "X-Deskline-Zendesk-User-Id";
    /// `true` when the call is the caller being transferred to a human, `false` otherwise.
    pub const TRANSFER: &str = "X-Deskline-Transfer";
}

/// The phone-session routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hooks/{source}/sessions", post(register))
        .route(
            "/hooks/{source}/sessions/{session_id}/sip-headers",
            get(sip_headers),
        )
}

/// What is known about a session's call besides the contact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDetails {
    /// The AI agent (or bot) that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The number the caller reached (E.164 when it parses, else as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_number: Option<String>,
}

/// The key of a session's [`SESSION_DETAILS_LINK`].
pub fn details_key(source: &str, session_id: &str) -> String {
    format!("{source}:{session_id}")
}

/// The request body of `POST /hooks/{source}/sessions`; camelCase or snake_case.
#[derive(Debug, Deserialize)]
struct SessionBody {
    #[serde(default, rename = "sessionId", alias = "session_id")]
    session_id: Option<Value>,
    #[serde(default, rename = "callerNumber", alias = "caller_number")]
    caller_number: Option<Value>,
    #[serde(default, rename = "calledNumber", alias = "called_number")]
    called_number: Option<Value>,
    #[serde(default, rename = "agentId", alias = "agent_id")]
    agent_id: Option<Value>,
    #[serde(default)]
    contact: Option<ContactBody>,
}

#[derive(Debug, Deserialize)]
struct ContactBody {
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default, rename = "externalId", alias = "external_id")]
    external_id: Option<Value>,
}

/// A checked session registration.
#[derive(Debug, PartialEq)]
pub struct NewSession {
    /// The AI platform's id of the call.
    pub session_id: String,
    /// The caller's number in E.164.
    pub caller: String,
    /// The agent and the number reached.
    pub details: SessionDetails,
    /// The contact's name, if given.
    pub name: Option<String>,
    /// The contact's email, lower-cased, if given.
    pub email: Option<String>,
    /// The contact's id on the AI platform, if given.
    pub external_id: Option<String>,
}

fn bad(message: impl Into<String>) -> HttpError {
    HttpError::bad_request("invalid_payload", message)
}

/// A text or integer field, trimmed; empty and `null` count as absent.
fn text(v: Option<&Value>, field: &str) -> Result<Option<String>, HttpError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Some(other) => Err(bad(format!(
            "{field}: expected a string, got {}",
            json_kind(other)
        ))),
    }
}

/// Reads and checks a registration. The caller's number must normalise to E.164: a session
/// without one could never be tied to a ticket. Public for the fuzz targets.
pub fn parse_session(raw: &[u8], phones: &PhoneParser) -> Result<NewSession, HttpError> {
    let body: SessionBody = serde_json::from_slice(raw)
        .map_err(|e| bad(format!("the body is not a session object: {e}")))?;
    let session_id = text(body.session_id.as_ref(), "sessionId")?
        .ok_or_else(|| bad("sessionId: required (the AI platform's id of this call)"))?;
    if session_id.chars().count() > MAX_SESSION_ID_CHARS {
        return Err(bad(format!(
            "sessionId: longer than {MAX_SESSION_ID_CHARS} characters"
        )));
    }
    if session_id.chars().any(char::is_control) {
        return Err(bad("sessionId: must not contain control characters"));
    }
    let raw_caller = text(body.caller_number.as_ref(), "callerNumber")?.ok_or_else(|| {
        bad("callerNumber: required; without the caller's number the session cannot be tied to a Zendesk ticket")
    })?;
    let caller = match phones.parse(&raw_caller) {
        PartyNumber::Known { phone } => phone.as_str().to_string(),
        PartyNumber::Withheld => {
            return Err(bad(format!(
                "callerNumber: {raw_caller:?} is a withheld number; a session without the caller's number cannot be tied to a Zendesk ticket"
            )))
        }
        PartyNumber::Unparseable { raw } => {
            return Err(bad(format!(
                "callerNumber: {raw:?} is not a phone number (expected E.164, like +919876543210)"
            )))
        }
    };
    // The number the caller reached is informational: kept as sent when it is not a phone
    // number (an AI platform may give a SIP address).
    let called_number =
        text(body.called_number.as_ref(), "calledNumber")?.map(|raw| match phones.parse(&raw) {
            PartyNumber::Known { phone } => phone.as_str().to_string(),
            _ => raw,
        });
    let agent_id = text(body.agent_id.as_ref(), "agentId")?;
    let (name, email, external_id) = match &body.contact {
        None => (None, None, None),
        Some(c) => {
            let email = text(c.email.as_ref(), "contact.email")?.map(|e| e.to_lowercase());
            if let Some(e) = &email {
                let looks_right = e
                    .split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !e.contains(' '));
                if !looks_right {
                    return Err(bad(format!("contact.email: {e:?} is not an email address")));
                }
            }
            (
                text(c.name.as_ref(), "contact.name")?,
                email,
                text(c.external_id.as_ref(), "contact.externalId")?,
            )
        }
    };
    Ok(NewSession {
        session_id,
        caller,
        details: SessionDetails {
            agent_id,
            called_number,
        },
        name,
        email,
        external_id,
    })
}

/// The source, if it is a handoff source; phone sessions exist only there.
fn handoff_source<'a>(state: &'a AppState, name: &str) -> Result<&'a Source, HttpError> {
    let source = state.sources.get(name).ok_or_else(|| {
        HttpError::not_found(
            "unknown_source",
            format!("no source named {name:?} is configured"),
        )
    })?;
    if source.config.kind != SourceKind::Handoff {
        return Err(HttpError::not_found(
            "not_a_handoff_source",
            format!(
                "source {name:?} is not a handoff source (kind = \"handoff\"); phone sessions are registered on the handoff source of the AI phone agent"
            ),
        ));
    }
    Ok(source)
}

fn session_json(c: &Conversation) -> Value {
    json!({
        "source": c.source,
        "session_id": c.session_id,
        "caller_number": c.phone,
        "ticket_id": c.ticket_id,
    })
}

async fn register(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let source = handoff_source(&state, &name)?;
    check_source_secret(&headers, &source.config.secret_header, &source.secret)?;
    let raw = crate::ingress::read_body(body, state.max_body_bytes, &headers).await?;
    let new = parse_session(&raw, &source.config.phones)?;
    let store = &state.store;
    let existing = store
        .get_conversation(&name, &new.session_id)
        .await
        .map_err(|e| HttpError::storage(&e))?;
    if let Some(c) = existing {
        // A repeat registration changes nothing (the session may already be tied to its
        // ticket and enriched); one that disagrees on the call is a mistake worth naming.
        if c.channel == PHONE_CHANNEL && c.phone.as_deref() == Some(new.caller.as_str()) {
            let mut answer = session_json(&c);
            answer["status"] = json!("exists");
            return Ok((StatusCode::OK, Json(answer)).into_response());
        }
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            "session_conflict",
            format!(
                "session {:?} of source {name:?} is already registered for another caller or channel ({} {}); use a new session id",
                new.session_id,
                c.channel,
                c.phone.as_deref().unwrap_or("without a number"),
            ),
        ));
    }
    let now = state.clock.now();
    if new.details != SessionDetails::default() {
        let details = serde_json::to_string(&new.details).map_err(|e| {
            HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })?;
        store
            .put_link(
                SESSION_DETAILS_LINK,
                &details_key(&name, &new.session_id),
                &details,
                now,
            )
            .await
            .map_err(|e| HttpError::storage(&e))?;
    }
    let mut contact = Map::new();
    contact.insert("phone".into(), json!(new.caller));
    for (k, v) in [
        ("name", &new.name),
        ("email", &new.email),
        ("external_id", &new.external_id),
    ] {
        if let Some(v) = v {
            contact.insert(k.into(), json!(v));
        }
    }
    let conversation = Conversation {
        source: name.clone(),
        session_id: new.session_id.clone(),
        channel: PHONE_CHANNEL.to_string(),
        email: new.email.clone(),
        phone: Some(new.caller.clone()),
        contact_external_id: new.external_id.clone(),
        contact: Value::Object(contact),
        ticket_id: None,
        status: ConversationStatus::opened(now),
        created_at: now,
        updated_at: now,
    };
    store
        .save_conversation(&conversation, now)
        .await
        .map_err(|e| HttpError::storage(&e))?;
    metrics::counter!("deskline_phone_sessions_total", "source" => name.clone()).increment(1);
    let mut answer = session_json(&conversation);
    answer["status"] = json!("created");
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// The query of `GET …/sip-headers`.
#[derive(Debug, Deserialize)]
struct SipQuery {
    destination: Option<String>,
    transfer: Option<String>,
}

/// Whether a destination is a SIP URI (`sip:` or `sips:`, any case). Only SIP calls can carry
/// headers to Zendesk; a `tel:` URI or a bare number goes through the telephone network, which
/// drops them.
pub fn is_sip_uri(destination: &str) -> bool {
    let d = destination.trim();
    let scheme =
        |p: &str| d.len() > p.len() && d.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p));
    scheme("sip:") || scheme("sips:")
}

fn parse_transfer(raw: Option<&str>) -> Result<bool, HttpError> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(HttpError::bad_request(
            "invalid_transfer",
            format!("transfer: {other:?} is not true or false"),
        )),
    }
}

/// A header value safe in a SIP message and in a SIP URI's `?headers` part: letters, digits
/// and `-._~+@:` pass; every other byte is percent-encoded, so no id can inject a line break
/// or a second header.
pub fn header_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+@:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SIP headers for a transfer of `c`'s caller to `destination` (see docs/voice.md).
pub fn headers_for(
    c: &Conversation,
    details: &SessionDetails,
    destination: &str,
    transfer: bool,
) -> BTreeMap<&'static str, String> {
    let mut h = BTreeMap::new();
    if let Some(ticket) = c.ticket_id.filter(|_| is_sip_uri(destination)) {
        h.insert(header::ZENDESK_TICKET_ID, ticket.to_string());
    }
    h.insert(header::SOURCE, header_value(&c.source));
    h.insert(header::SESSION_ID, header_value(&c.session_id));
    if let Some(agent) = &details.agent_id {
        h.insert(header::AGENT_ID, header_value(agent));
    }
    if let Some(contact) = &c.contact_external_id {
        h.insert(header::CONTACT_ID, header_value(contact));
    }
    if let Some(user) = c.contact.get("zendesk_user_id").and_then(Value::as_u64) {
        h.insert(header::ZENDESK_USER_ID, user.to_string());
    }
    h.insert(header::TRANSFER, transfer.to_string());
    h
}

async fn sip_headers(
    State(state): State<AppState>,
    Path((name, session_id)): Path<(String, String)>,
    Query(query): Query<SipQuery>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let source = handoff_source(&state, &name)?;
    check_source_secret(&headers, &source.config.secret_header, &source.secret)?;
    let destination = query
        .destination
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            HttpError::bad_request(
                "missing_destination",
                "destination: required, the SIP URI (sip:…) or number the call is transferred to",
            )
        })?;
    let transfer = parse_transfer(query.transfer.as_deref())?;
    let conversation = state
        .store
        .get_conversation(&name, &session_id)
        .await
        .map_err(|e| HttpError::storage(&e))?
        .ok_or_else(|| {
            HttpError::not_found(
                "unknown_session",
                format!("source {name:?} has no session {session_id:?}"),
            )
        })?;
    let details = state
        .store
        .get_link(SESSION_DETAILS_LINK, &details_key(&name, &session_id))
        .await
        .map_err(|e| HttpError::storage(&e))?
        // Written by `register` from a checked value; an unreadable one only loses the agent.
        .and_then(|l| serde_json::from_str::<SessionDetails>(&l.value).ok())
        .unwrap_or_default();
    let headers = headers_for(&conversation, &details, destination, transfer);
    Ok((StatusCode::OK, Json(json!({ "headers": headers }))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn india() -> PhoneParser {
        PhoneParser::new("IN").expect("region")
    }

    fn message(r: Result<NewSession, HttpError>) -> String {
        r.err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn a_session_reads_either_spelling_and_normalises_the_caller() {
        let camel = br#"{"sessionId": " call-1 ", "callerNumber": "98765 43210",
            "calledNumber": "+91 80 4000 0000", "agentId": "bot-7",
            "contact": {"name": "Anita", "email": " Anita@Acme.example ", "externalId": 42}}"#;
        let snake = br#"{"session_id": "call-1", "caller_number": "+919876543210",
            "called_number": "+918040000000", "agent_id": "bot-7",
            "contact": {"name": "Anita", "email": "anita@acme.example", "external_id": "42"}}"#;
        let a = parse_session(camel, &india()).expect("camelCase");
        let b = parse_session(snake, &india()).expect("snake_case");
        assert_eq!(a, b);
        assert_eq!(a.caller, "+919876543210");
        assert_eq!(a.details.called_number.as_deref(), Some("+918040000000"));
        assert_eq!(a.email.as_deref(), Some("anita@acme.example"));
        assert_eq!(a.external_id.as_deref(), Some("42"));
        let sip = parse_session(
            br#"{"sessionId": "s", "callerNumber": "+919876543210", "calledNumber": "sip:ai@pbx.example"}"#,
            &india(),
        )
        .expect("a SIP address as the called number");
        assert_eq!(
            sip.details.called_number.as_deref(),
            Some("sip:ai@pbx.example")
        );
    }

    #[test]
    fn a_session_without_a_usable_caller_number_or_id_is_refused_naming_the_field() {
        let cases: [(&[u8], &str); 9] = [
            (br#"{"callerNumber": "+919876543210"}"#, "sessionId"),
            (br#"{"sessionId": "  ", "callerNumber": "+919876543210"}"#, "sessionId"),
            (br#"{"sessionId": "a\nb", "callerNumber": "+919876543210"}"#, "sessionId"),
            (br#"{"sessionId": "s"}"#, "callerNumber"),
            (br#"{"sessionId": "s", "callerNumber": "anonymous"}"#, "callerNumber"),
            (br#"{"sessionId": "s", "callerNumber": "12"}"#, "callerNumber"),
            (br#"{"sessionId": "s", "callerNumber": ["+91"]}"#, "callerNumber"),
            (
                br#"{"sessionId": "s", "callerNumber": "+919876543210", "contact": {"email": "nope"}}"#,
                "contact.email",
            ),
            (b"not json", "session object"),
        ];
        for (body, field) in cases {
            let m = message(parse_session(body, &india()));
            assert!(m.contains(field), "{}: {m}", String::from_utf8_lossy(body));
        }
        let both = br#"{"sessionId": "a", "session_id": "b", "callerNumber": "+919876543210"}"#;
        assert!(parse_session(both, &india()).is_err(), "both spellings");
    }

    fn conversation(ticket: Option<u64>) -> Conversation {
        Conversation {
            source: "voicebot".into(),
            session_id: "call 1".into(),
            channel: PHONE_CHANNEL.into(),
            email: None,
            phone: Some("+919876543210".into()),
            contact_external_id: Some("c-9".into()),
            contact: json!({"zendesk_user_id": 50001}),
            ticket_id: ticket,
            status: ConversationStatus::opened(Utc::now()),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_ticket_header_goes_only_to_sip_destinations_of_sessions_with_a_ticket() {
        let details = SessionDetails {
            agent_id: Some("bot-7".into()),
            called_number: None,
        };
        let with = conversation(Some(123));
        for (destination, ticket) in [
            ("sip:support@acme.sip.twilio.com", true),
            ("SIPS:support@acme.example", true),
            (" Sip:x@y ", true),
            ("tel:+14155550100", false),
            ("+14155550100", false),
            ("sipx@host", false),
            ("sip:", false),
        ] {
            let h = headers_for(&with, &details, destination, true);
            assert_eq!(
                h.get(header::ZENDESK_TICKET_ID).cloned(),
                ticket.then(|| "123".to_string()),
                "{destination}"
            );
            assert_eq!(h[header::SESSION_ID], "call%201");
            assert_eq!(h[header::AGENT_ID], "bot-7");
            assert_eq!(h[header::CONTACT_ID], "c-9");
            assert_eq!(h[header::ZENDESK_USER_ID], "50001");
            assert_eq!(h[header::TRANSFER], "true");
        }
        let without = headers_for(
            &conversation(None),
            &SessionDetails::default(),
            "sip:a@b",
            false,
        );
        assert!(!without.contains_key(header::ZENDESK_TICKET_ID));
        assert!(!without.contains_key(header::AGENT_ID));
        assert_eq!(without[header::TRANSFER], "false");
    }

    #[test]
    fn header_values_cannot_carry_line_breaks_or_separators() {
        assert_eq!(header_value("abc-1_2.3~+@:"), "abc-1_2.3~+@:");
        assert_eq!(header_value("a\r\nX-Evil: 1"), "a%0D%0AX-Evil:%201");
        assert_eq!(header_value("a;b?c&d=é"), "a%3Bb%3Fc%26d%3D%C3%A9");
    }

    #[test]
    fn transfer_defaults_to_true_and_refuses_other_words() {
        assert!(parse_transfer(None).unwrap_or(false));
        assert!(parse_transfer(Some("TRUE")).unwrap_or(false));
        assert!(!parse_transfer(Some("false")).unwrap_or(true));
        assert!(!parse_transfer(Some("0")).unwrap_or(true));
        assert!(parse_transfer(Some("maybe")).is_err());
    }
}
