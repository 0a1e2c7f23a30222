//! The `voice_correlation` job: a Zendesk Talk voice ticket is tied to the AI phone agent's
//! session of the same call (see docs/voice.md).
//!
//! When Talk forwards a call to an AI phone agent, the call reaches the AI with none of
//! Zendesk's data (the telephone network carries no headers), and Zendesk creates a voice
//! ticket whose requester is the caller. The ticket's `ticket.created` event queues this job;
//! it fetches the requester, and when their phone number is exactly the caller number of an
//! open phone session (registered at `POST /hooks/{source}/sessions`), records the ticket on
//! the session and enriches its contact from Zendesk. A later handoff of that session joins
//! the ticket, and a transfer back to a human carries `X-Zendesk-Ticket-Id`.
//!
//! One effect per ticket: a retry finds the session already on the ticket and stops, and a
//! session already on another ticket is never moved.

use chrono::{DateTime, Duration, Utc};
use deskline_core::phone::{PartyNumber, PhoneParser};
use deskline_store::{Conversation, Job};
use deskline_zendesk::{Organization, User, ZendeskError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::call_ticket::{store_err, ZENDESK_QUEUE};
use super::{stored_event, wait_for_pause, zendesk_failure, JobOutcome};
use crate::sessions::PHONE_CHANNEL;
use crate::state::AppState;

/// How long before the ticket was created a session may have started and still be the same
/// call: Talk creates the ticket while or after the call, so the session comes first, by at
/// most the call's length. An older open session is a call that never got a ticket, and a
/// direct call to Talk from the same number must not be tied to it.
pub const MAX_SESSION_AGE: Duration = Duration::hours(4);
/// How long after the ticket was created a session may have started (clocks differ, and the
/// AI may register the call a little late).
pub const SESSION_CLOCK_SLACK: Duration = Duration::minutes(10);

/// Link kind: voice ticket id → its caller's E.164 number, read once from Zendesk.
pub const VOICE_CALLER_LINK: &str = "voice_ticket_caller";
/// How often deskline looks again for the session of a voice ticket that has none yet, for
/// `zendesk.voice_session_wait` after the ticket's creation.
pub const SESSION_RECHECK_EVERY: Duration = Duration::seconds(10);

/// Contact keys deskline itself writes; a Zendesk user field of the same name does not
/// replace them.
const RESERVED_KEYS: &[&str] = &[
    "name",
    "email",
    "phone",
    "external_id",
    "zendesk_user_id",
    "zendesk_external_id",
    "organization_id",
    "organization",
];

#[derive(Debug, Deserialize)]
struct Args {
    ticket_id: u64,
}

/// Runs one `voice_correlation` job.
pub async fn run(state: &AppState, job: &Job) -> JobOutcome {
    match execute(state, job).await {
        Ok(done) | Err(done) => done,
    }
}

/// Whether a ticket's `via.channel` is an inbound phone call. Zendesk's documents name the
/// channel `voice` on tickets; via-type names (`phone_call_inbound`,
/// `api_phone_call_inbound`, …) are read as well, leniently. Voicemails and outbound calls are
/// not calls an AI agent answered.
pub fn is_phone_channel(channel: &str) -> bool {
    let c = channel.trim().to_ascii_lowercase();
    if c.contains("voicemail") || c.contains("outbound") {
        return false;
    }
    matches!(c.as_str(), "voice" | "phone" | "sip") || c.contains("phone_call")
}

/// Whether a `ticket.created` event may be about a Talk voice ticket, so that a
/// `voice_correlation` job is worth queueing. Decided from the event alone, before anything is
/// queued: a `via.channel` that is not an inbound call (deskline's own call and handoff
/// tickets come through the API, `api`) is never one. An event that does not say is queued,
/// and the job reads the channel from the ticket itself.
pub fn may_be_voice_ticket(event: &Value) -> bool {
    facts_from_envelope(event)
        .channel
        .is_none_or(|c| is_phone_channel(&c))
}

/// A Zendesk phone number as E.164, only when it is written internationally (`+` and the
/// country code). A number without its country code could belong to any country, so it is
/// not matched: the match must be exact, never a guess.
pub fn international_e164(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if !trimmed.starts_with('+') {
        return None;
    }
    // With a leading `+` the default region is never consulted.
    let parser = PhoneParser::new("US").ok()?;
    match parser.parse(trimmed) {
        PartyNumber::Known { phone } => Some(phone.as_str().to_string()),
        _ => None,
    }
}

fn id_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What the event says about the ticket: its channel, requester and creation time.
struct TicketFacts {
    channel: Option<String>,
    requester_id: Option<u64>,
    created_at: Option<DateTime<Utc>>,
}

fn facts_from_envelope(envelope: &Value) -> TicketFacts {
    let detail = envelope.get("detail").unwrap_or(&Value::Null);
    TicketFacts {
        channel: detail.pointer("/via/channel").and_then(|c| match c {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
        requester_id: id_of(detail.get("requester_id")),
        created_at: detail
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc)),
    }
}

async fn execute(state: &AppState, job: &Job) -> Result<JobOutcome, JobOutcome> {
    let args: Args = super::job_args(job)?;
    let ticket_id = args.ticket_id;
    if let Some(c) = phone_session_on(state, ticket_id).await? {
        return Ok(JobOutcome::Done(format!(
            "ticket {ticket_id} is already tied to phone session {:?} of {:?}",
            c.session_id, c.source
        )));
    }
    let event = stored_event(state, job).await?;
    let mut facts = facts_from_envelope(&event.normalized);
    if facts.channel.is_none() || facts.requester_id.is_none() {
        // An envelope without the documented fields: the ticket itself says.
        wait_for_pause(state, ZENDESK_QUEUE).await?;
        let ticket = match state.zendesk.show_ticket(ticket_id).await {
            Ok(t) => t,
            Err(ZendeskError::NotFound { .. }) => {
                return Ok(JobOutcome::Done(format!(
                    "ticket {ticket_id} no longer exists"
                )))
            }
            Err(e) => return Err(zendesk_failure(state, &e)),
        };
        facts.channel = facts.channel.or(ticket.via.and_then(|v| v.channel));
        facts.requester_id = facts.requester_id.or(ticket.requester_id);
        facts.created_at = facts.created_at.or(ticket.created_at);
    }
    let channel = facts.channel.unwrap_or_default();
    if !is_phone_channel(&channel) {
        return Ok(JobOutcome::Done(format!(
            "ticket {ticket_id} is not a phone ticket (via {channel:?}); nothing to correlate"
        )));
    }
    let Some(requester_id) = facts.requester_id else {
        return Ok(JobOutcome::Done(format!(
            "ticket {ticket_id} has no requester; nothing to correlate"
        )));
    };
    let ticket_created = facts.created_at.unwrap_or(event.received_at);

    // While the job waits for a late session, the caller's number is read from the store, not
    // asked of Zendesk again at every recheck.
    let caller_key = ticket_id.to_string();
    let cached = state
        .store
        .get_link(VOICE_CALLER_LINK, &caller_key)
        .await
        .map_err(store_err)?;
    let (e164, mut user) = match cached {
        Some(link) => (link.value, None),
        None => {
            let user = match requester(state, ticket_id, requester_id).await? {
                Ok(u) => u,
                Err(done) => return Ok(done),
            };
            let Some(raw_phone) = user.phone.as_deref().filter(|p| !p.trim().is_empty()) else {
                return Ok(JobOutcome::Done(format!(
                    "the requester {requester_id} of ticket {ticket_id} has no phone number; no session matched"
                )));
            };
            let Some(e164) = international_e164(raw_phone) else {
                return Ok(JobOutcome::Done(format!(
                    "the requester's phone {raw_phone:?} is not an international (E.164) number; no session matched"
                )));
            };
            state
                .store
                .put_link(VOICE_CALLER_LINK, &caller_key, &e164, state.clock.now())
                .await
                .map_err(store_err)?;
            (e164, Some(user))
        }
    };
    let Some(session) = state
        .store
        .open_phone_session(&e164)
        .await
        .map_err(store_err)?
    else {
        // The AI may register its session just after Zendesk created the ticket: wait for it
        // a little (without spending attempts) before giving up.
        let now = state.clock.now();
        let wait = Duration::from_std(state.voice_session_wait).unwrap_or(Duration::zero());
        if now < ticket_created + wait {
            return Ok(JobOutcome::Snooze {
                until: now + SESSION_RECHECK_EVERY,
                reason: format!(
                    "no open phone session for {e164} yet; waiting for the AI to register it"
                ),
                pause_queue: false,
            });
        }
        return Ok(JobOutcome::Done(format!(
            "no open phone session for {e164}; ticket {ticket_id} left alone"
        )));
    };
    let earliest = ticket_created - MAX_SESSION_AGE;
    let latest = ticket_created + SESSION_CLOCK_SLACK;
    if session.created_at < earliest || session.created_at > latest {
        return Ok(JobOutcome::Done(format!(
            "the open phone session {:?} for {e164} started at {}, too far from ticket {ticket_id}'s creation at {ticket_created} to be the same call",
            session.session_id, session.created_at
        )));
    }

    let user = match user.take() {
        Some(u) => u,
        None => match requester(state, ticket_id, requester_id).await? {
            Ok(u) => u,
            Err(done) => return Ok(done),
        },
    };
    let organization = match user.organization_id {
        None => None,
        Some(org_id) => {
            wait_for_pause(state, ZENDESK_QUEUE).await?;
            match state.zendesk.show_organization(org_id).await {
                Ok(o) => Some(o),
                // Deleted meanwhile: the user's own data is still worth keeping.
                Err(ZendeskError::NotFound { .. }) => None,
                Err(e) => return Err(zendesk_failure(state, &e)),
            }
        }
    };

    // Read again just before writing: a handoff of the same session may have given it a
    // ticket while Zendesk was asked, and that ticket is not replaced.
    let mut conversation = state
        .store
        .get_conversation(&session.source, &session.session_id)
        .await
        .map_err(store_err)?
        .unwrap_or(session);
    if let Some(other) = conversation.ticket_id {
        return Ok(JobOutcome::Done(format!(
            "phone session {:?} of {:?} is already on ticket {other}; not moved to ticket {ticket_id}",
            conversation.session_id, conversation.source
        )));
    }
    conversation.ticket_id = Some(ticket_id);
    enrich(&mut conversation, &user, organization.as_ref());
    state
        .store
        .save_conversation(&conversation, state.clock.now())
        .await
        .map_err(store_err)?;
    Ok(JobOutcome::Done(format!(
        "tied ticket {ticket_id} to phone session {:?} of {:?} ({e164})",
        conversation.session_id, conversation.source
    )))
}

/// The ticket's requester, or the job's end when Zendesk no longer has them.
async fn requester(
    state: &AppState,
    ticket_id: u64,
    requester_id: u64,
) -> Result<Result<User, JobOutcome>, JobOutcome> {
    wait_for_pause(state, ZENDESK_QUEUE).await?;
    match state.zendesk.show_user(requester_id).await {
        Ok(u) => Ok(Ok(u)),
        Err(ZendeskError::NotFound { .. }) => Ok(Err(JobOutcome::Done(format!(
            "the requester {requester_id} of ticket {ticket_id} no longer exists"
        )))),
        Err(e) => Err(zendesk_failure(state, &e)),
    }
}

/// The phone session already on `ticket_id`, if any.
async fn phone_session_on(
    state: &AppState,
    ticket_id: u64,
) -> Result<Option<Conversation>, JobOutcome> {
    let on_ticket = state
        .store
        .conversations_for_ticket(ticket_id)
        .await
        .map_err(store_err)?;
    Ok(on_ticket.into_iter().find(|c| c.channel == PHONE_CHANNEL))
}

/// Adds what Zendesk knows about the requester to the session's contact: name, email, Zendesk
/// user id and external id, organization, each user field under its own key and each
/// organization field as `org_<key>`. Enrichment only adds: a name or email the session was
/// registered with stays (Talk names a caller it does not know "Caller +91…", which must not
/// replace the name the AI was told), as do the session's phone and the AI platform's contact
/// id. Empty (`null`) fields are left out.
pub fn enrich(c: &mut Conversation, user: &User, org: Option<&Organization>) {
    if !c.contact.is_object() {
        c.contact = json!({});
    }
    let email = user
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    if c.email.is_none() {
        c.email.clone_from(&email);
    }
    let Some(contact) = c.contact.as_object_mut() else {
        return;
    };
    for (k, v) in &user.user_fields {
        if !v.is_null() && !RESERVED_KEYS.contains(&k.as_str()) {
            contact.insert(k.clone(), v.clone());
        }
    }
    if let Some(o) = org {
        for (k, v) in &o.organization_fields {
            if !v.is_null() {
                contact.insert(format!("org_{k}"), v.clone());
            }
        }
    }
    let name = user
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(Value::from);
    // Filled in only where the session said nothing.
    let filled = [
        ("name", name),
        ("email", email.map(Value::from)),
        ("phone", c.phone.clone().map(Value::from)),
    ];
    for (k, v) in filled {
        let known = contact.get(k).is_some_and(|x| !x.is_null());
        if let (false, Some(v)) = (known, v) {
            contact.insert(k.to_string(), v);
        }
    }
    // Zendesk's own: always its current values.
    let zendesk = [
        ("zendesk_user_id", Some(json!(user.id))),
        (
            "zendesk_external_id",
            user.external_id.clone().map(Value::from),
        ),
        ("organization_id", org.map(|o| json!(o.id))),
        (
            "organization",
            org.and_then(|o| o.name.clone()).map(Value::from),
        ),
    ];
    for (k, v) in zendesk {
        if let Some(v) = v {
            contact.insert(k.to_string(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskline_core::conversation::ConversationStatus;
    use serde_json::Map;

    #[test]
    fn phone_channels_are_recognised_leniently() {
        for c in [
            "voice",
            "Voice",
            "phone",
            "phone_call_inbound",
            "api_phone_call_inbound",
            "sip",
        ] {
            assert!(is_phone_channel(c), "{c}");
        }
        for c in [
            "api",
            "web",
            "email",
            "chat",
            "voicemail",
            "api_voicemail",
            "phone_call_outbound",
            "",
        ] {
            assert!(!is_phone_channel(c), "{c}");
        }
    }

    #[test]
    fn only_events_that_may_be_about_a_voice_ticket_queue_a_job() {
        let with_channel = |c: Value| {
            json!({"type": "zen:event-type:ticket.created", "id": "e",
                "detail": {"id": "7", "via": {"channel": c}, "requester_id": "50001"}})
        };
        let cases = [
            (with_channel(json!("voice")), true),
            (with_channel(json!("Voice")), true),
            (with_channel(json!("phone_call_inbound")), true),
            (with_channel(json!("api_phone_call_inbound")), true),
            // deskline's own call and handoff tickets, and other channels.
            (with_channel(json!("api")), false),
            (with_channel(json!("web")), false),
            (with_channel(json!("email")), false),
            (with_channel(json!("chat")), false),
            (with_channel(json!("api_voicemail")), false),
            (with_channel(json!("phone_call_outbound")), false),
            (with_channel(json!("")), false),
            // The event does not say: the job asks Zendesk.
            (with_channel(Value::Null), true),
            (json!({"detail": {"id": "7", "via": {}}}), true),
            (json!({"detail": {"id": "7"}}), true),
            (json!({"subject": "zen:ticket:7"}), true),
        ];
        for (event, queued) in cases {
            assert_eq!(may_be_voice_ticket(&event), queued, "{event}");
        }
    }

    #[test]
    fn only_international_numbers_are_matched_and_exactly() {
        assert_eq!(
            international_e164("+91 98765 43210").as_deref(),
            Some("+919876543210")
        );
        assert_eq!(
            international_e164("+919876543210").as_deref(),
            Some("+919876543210")
        );
        for near_miss in ["919876543210", "09876543210", "9876543210", "+", "abc"] {
            assert_eq!(international_e164(near_miss), None, "{near_miss}");
        }
    }

    #[test]
    fn the_envelope_gives_channel_requester_and_time() {
        let f = facts_from_envelope(&json!({"detail": {"via": {"channel": "voice"},
            "requester_id": "50001", "created_at": "2026-05-01T10:00:00Z"}}));
        assert_eq!(f.channel.as_deref(), Some("voice"));
        assert_eq!(f.requester_id, Some(50001));
        assert!(f.created_at.is_some());
        let empty = facts_from_envelope(&json!({"id": "x"}));
        assert!(empty.channel.is_none() && empty.requester_id.is_none());
    }

    #[test]
    fn enrichment_adds_zendesks_view_and_keeps_the_sessions_identity() {
        let now = Utc::now();
        let mut c = Conversation {
            source: "voicebot".into(),
            session_id: "s1".into(),
            channel: PHONE_CHANNEL.into(),
            email: None,
            phone: Some("+919876543210".into()),
            contact_external_id: Some("c-9".into()),
            contact: json!({"phone": "+919876543210", "name": "anita", "external_id": "c-9"}),
            ticket_id: None,
            status: ConversationStatus::opened(now),
            created_at: now,
            updated_at: now,
        };
        let mut user_fields = Map::new();
        user_fields.insert("plan".into(), json!("enterprise"));
        user_fields.insert("email".into(), json!("spoofed@example.com"));
        user_fields.insert("unset".into(), Value::Null);
        let user = User {
            id: 50001,
            name: Some("Anita Desai".into()),
            email: Some("Anita@Acme.example".into()),
            phone: Some("+919876543210".into()),
            external_id: Some("crm-1001".into()),
            organization_id: Some(40001),
            user_fields,
            ..User::default()
        };
        let mut organization_fields = Map::new();
        organization_fields.insert("tier".into(), json!("gold"));
        let org = Organization {
            id: 40001,
            name: Some("Acme Logistics".into()),
            external_id: None,
            organization_fields,
        };
        enrich(&mut c, &user, Some(&org));
        assert_eq!(
            c.contact,
            json!({"phone": "+919876543210", "name": "anita",
                "email": "anita@acme.example", "external_id": "c-9",
                "zendesk_user_id": 50001, "zendesk_external_id": "crm-1001",
                "organization_id": 40001, "organization": "Acme Logistics",
                "plan": "enterprise", "org_tier": "gold"})
        );
        assert_eq!(c.email.as_deref(), Some("anita@acme.example"));
        assert_eq!(c.contact_external_id.as_deref(), Some("c-9"));

        // What the session was registered with stays; Zendesk's ids are added.
        c.email = Some("told@ai.example".into());
        c.contact = json!({"email": "told@ai.example", "name": null});
        enrich(&mut c, &user, None);
        assert_eq!(c.email.as_deref(), Some("told@ai.example"));
        assert_eq!(c.contact["email"], "told@ai.example");
        assert_eq!(c.contact["name"], "Anita Desai", "null counts as unknown");
        assert_eq!(c.contact["zendesk_user_id"], 50001);
    }
}
