//! The ticket plan: where a MyOperator (or any provider's) call becomes a Zendesk ticket, in one
//! readable place. Pure: the directory is passed in, nothing is read from the clock or the
//! network, so every rule here is tested table-driven.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::call::{AgentRef, CallLeg, CallRecord, Direction, Outcome};
use crate::phone::{PartyNumber, Phone};
use crate::template::{CallContext, TemplateError, Templates};

/// An agent known to Zendesk, as the directory holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryAgent {
    /// Zendesk user id.
    pub zendesk_id: u64,
    /// Name in Zendesk.
    pub name: String,
    /// Email in Zendesk.
    pub email: String,
}

/// What the planner needs to know about the Zendesk account.
pub trait Directory {
    /// The agent with this email, compared trimmed and without regard to case.
    fn agent_by_email(&self, email: &str) -> Option<DirectoryAgent>;
    /// The id of the group with this name, compared without regard to case.
    fn group_id_by_name(&self, name: &str) -> Option<u64>;
    /// Whether a group id exists.
    fn has_group(&self, id: u64) -> bool;
    /// The agent whose Zendesk phone is this E.164 number.
    fn agent_by_phone(&self, phone: &str) -> Option<DirectoryAgent>;
}

/// Which agent a call is assigned to when several legs were answered (a transfer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweringAgent {
    /// The agent who took the call first.
    First,
    /// The agent who took the call last: after a transfer, the one the caller ended up with,
    /// who owns the follow-up.
    #[default]
    Last,
}

/// The answering agent under `policy`: from the received legs that name an agent, else the
/// record's own.
///
/// The legs are taken in the order they started when every one of them says when; otherwise
/// in the order the provider lists them, which each parser keeps in call order (Aircall's
/// transfer leg, for one, has no start time of its own).
pub fn answering_agent(call: &CallRecord, policy: AnsweringAgent) -> Option<&AgentRef> {
    let mut taken: Vec<&CallLeg> = call
        .legs
        .iter()
        .filter(|l| l.received && !l.agents.is_empty())
        .collect();
    if taken.iter().all(|l| l.started_at.is_some()) {
        // Stable: legs that started together keep the provider's order.
        taken.sort_by_key(|l| l.started_at);
    }
    let leg = match policy {
        AnsweringAgent::First => taken.first(),
        AnsweringAgent::Last => taken.last(),
    };
    leg.and_then(|l| l.agents.first())
        .or(call.answered_by.as_ref())
}

/// A group named in configuration, by id or by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GroupRef {
    /// A Zendesk group id.
    Id(u64),
    /// A group name, looked up in the directory.
    Name(String),
}

/// Custom ticket field ids for the call's data; `None` leaves that field unset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallFields {
    /// Text field for the provider's call id.
    pub call_id: Option<u64>,
    /// Field for `inbound` / `outbound` (a drop-down with those values, or text).
    pub direction: Option<u64>,
    /// Integer field for the total duration in seconds.
    pub duration: Option<u64>,
    /// Text field for the recording URL.
    pub recording_url: Option<u64>,
    /// Text field for the customer's number.
    pub caller_number: Option<u64>,
}

impl CallFields {
    /// Every configured id with the key that names it in configuration.
    pub fn configured(&self) -> Vec<(&'static str, u64)> {
        [
            ("call_id", self.call_id),
            ("direction", self.direction),
            ("duration", self.duration),
            ("recording_url", self.recording_url),
            ("caller_number", self.caller_number),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|id| (k, id)))
        .collect()
    }
}

/// The one requester used for withheld and unrecognised numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRequester {
    /// Its email (the identity create_or_update matches on).
    pub email: String,
    /// Its display name.
    pub name: String,
}

/// How calls are turned into tickets; from the source's configuration.
#[derive(Debug)]
pub struct CallPlanSettings {
    /// Group for missed calls and for calls whose agent is not in Zendesk.
    pub fallback_group: GroupRef,
    /// Custom field ids.
    pub fields: CallFields,
    /// Subject and note templates.
    pub templates: Templates,
    /// Time zone the note shows the start time in (besides UTC).
    pub time_zone: Tz,
    /// Create through the Talk Partner Edition voice endpoint.
    pub talk_partner_edition: bool,
    /// Requester for withheld and unparseable numbers.
    pub shared_requester: SharedRequester,
    /// Whether the call note is public (default false: call data stays internal).
    pub public_note: bool,
    /// Extra tags on every ticket of this source.
    pub extra_tags: Vec<String>,
    /// First or last answering agent of a transferred call.
    pub answering_agent: AnsweringAgent,
    /// Agent numbers or extensions (as the provider sends them) to Zendesk agent emails.
    pub agent_numbers: BTreeMap<String, String>,
    /// Opening hours, and what happens to a missed call outside them.
    pub after_hours: Option<(crate::hours::ResolvedHours, crate::hours::AfterHours)>,
}

/// Finds the Zendesk agent for a provider's agent reference: by email, then by the
/// configured number/extension table, then by the agent's Zendesk phone. Returns the agent
/// and, when nothing matched, the identity to report.
pub fn match_agent(
    agent: &AgentRef,
    settings: &CallPlanSettings,
    directory: &dyn Directory,
) -> (Option<DirectoryAgent>, Option<String>) {
    if let Some(email) = agent.email() {
        return match directory.agent_by_email(email) {
            Some(a) => (Some(a), None),
            None => (None, Some(email.to_string())),
        };
    }
    let keys = [agent.phone.as_deref(), agent.extension.as_deref()];
    for key in keys
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        if let Some(found) = settings
            .agent_numbers
            .get(key)
            .and_then(|email| directory.agent_by_email(email))
        {
            return (Some(found), None);
        }
    }
    if let Some(found) = agent
        .phone
        .as_deref()
        .and_then(|p| directory.agent_by_phone(p))
    {
        return (Some(found), None);
    }
    let identity = agent
        .phone
        .clone()
        .or_else(|| agent.extension.clone().map(|e| format!("extension {e}")));
    (None, identity)
}

/// Who the ticket is from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequesterPlan {
    /// The customer with this number: found through the phone link cache, a search, or
    /// created with the number as identity.
    Phone {
        /// The customer's number.
        phone: Phone,
        /// Name for a new user.
        name: String,
    },
    /// The shared requester (withheld or unrecognised number).
    Shared(SharedRequester),
}

/// Which Zendesk endpoint creates the ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TicketChannel {
    /// `POST /api/v2/tickets`.
    Tickets,
    /// `POST /api/v2/channels/voice/tickets` with this via id (44, 45, 46).
    Voice {
        /// 44 voicemail, 45 inbound call, 46 outbound call.
        via_id: u32,
    },
}

/// The call data for a voice comment (Talk Partner Edition).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceDetails {
    /// Calling number.
    pub from: Option<String>,
    /// Called number.
    pub to: Option<String>,
    /// Recording link.
    pub recording_url: Option<String>,
    /// Start, RFC 3339.
    pub started_at: String,
    /// Seconds.
    pub call_duration: u64,
    /// Answering agent's Zendesk id.
    pub answered_by_id: Option<u64>,
    /// Caller location.
    pub location: Option<String>,
}

/// Everything needed to create the ticket for one call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketPlan {
    /// `myoperator:<call id>`: lets anyone find the ticket of a call.
    pub external_id: String,
    /// Sent as `Idempotency-Key`, derived from the source and call id.
    pub idempotency_key: String,
    /// Which endpoint.
    pub channel: TicketChannel,
    /// Subject.
    pub subject: String,
    /// The call note (the ticket's first comment).
    pub note: String,
    /// Whether the note is public.
    pub public_note: bool,
    /// Who the ticket is from.
    pub requester: RequesterPlan,
    /// The answering agent.
    pub assignee_id: Option<u64>,
    /// The group, when not the assignee's own.
    pub group_id: Option<u64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom field values by field id.
    pub custom_fields: BTreeMap<u64, Value>,
    /// Voice comment data, for the voice endpoint.
    pub voice: Option<VoiceDetails>,
    /// The agent email that matched nobody in Zendesk, to be listed for an admin.
    pub unmatched_agent_email: Option<String>,
}

/// Why a call cannot be planned; each is permanent until configuration changes.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The fallback group is not in the Zendesk directory.
    #[error("the fallback group {0} does not exist in Zendesk (check fallback_group in the source's configuration, or sync the directory)")]
    UnknownGroup(String),
    /// A template failed to render.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// Tag-safe text: lower case, runs of other characters become `_`.
pub fn tag_slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// The `Idempotency-Key` for a call: stable across retries and restarts, distinct per
/// source and call, and short whatever the call id's length.
pub fn call_idempotency_key(source: &str, call_id: &str) -> String {
    let digest = Sha256::digest(format!("call\u{0}{source}\u{0}{call_id}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("deskline-call-{hex}")
}

fn resolve_group(directory: &dyn Directory, group: &GroupRef) -> Result<u64, PlanError> {
    match group {
        GroupRef::Id(id) if directory.has_group(*id) => Ok(*id),
        GroupRef::Id(id) => Err(PlanError::UnknownGroup(id.to_string())),
        GroupRef::Name(name) => directory
            .group_id_by_name(name)
            .ok_or_else(|| PlanError::UnknownGroup(format!("{name:?}"))),
    }
}

/// The ticket's external id: `<provider>:<call id>`; for generic sources, whose providers may
/// reuse each other's call ids, `<source name>:<call id>`.
pub fn external_id(source: &str, call: &CallRecord) -> String {
    match call.provider {
        crate::call::Provider::Generic => format!("{source}:{}", call.call_id),
        other => format!("{}:{}", other.slug(), call.call_id),
    }
}

/// Plans the ticket for a finished call from source `source`.
pub fn plan_call(
    source: &str,
    call: &CallRecord,
    settings: &CallPlanSettings,
    directory: &dyn Directory,
) -> Result<TicketPlan, PlanError> {
    let answered = call.outcome == Outcome::Answered;
    let answering = answering_agent(call, settings.answering_agent).filter(|_| answered);
    let (agent, unmatched_identity) = match answering {
        Some(a) => match_agent(a, settings, directory),
        None => (None, None),
    };
    let mut tags = vec![
        "deskline".to_string(),
        "voice".to_string(),
        if answered {
            "call_answered"
        } else {
            "call_missed"
        }
        .to_string(),
        call.direction.as_str().to_string(),
    ];
    let (assignee_id, group_id, unmatched) = match (&agent, answered) {
        (Some(a), true) => (Some(a.zendesk_id), None, None),
        (None, true) => {
            // Never guess: an answered call whose agent Zendesk does not know goes to the
            // fallback group, tagged, and the email is listed for an admin.
            tags.push("deskline_agent_unmatched".to_string());
            let group = resolve_group(directory, &settings.fallback_group)?;
            (None, Some(group), unmatched_identity)
        }
        (_, false) => (
            None,
            Some(resolve_group(directory, &settings.fallback_group)?),
            None,
        ),
    };
    let mut group_id = group_id;
    if let Some((hours, rule)) = &settings.after_hours {
        if rule.applies_to(call, hours) {
            for t in rule.tag_slugs() {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            if let Some(g) = &rule.group {
                group_id = Some(resolve_group(directory, g)?);
            }
        }
    }
    if let Some(dept) = call
        .department
        .as_deref()
        .map(tag_slug)
        .filter(|d| !d.is_empty())
    {
        tags.push(format!("department_{dept}"));
    }
    let requester = match &call.customer {
        PartyNumber::Known { phone } => RequesterPlan::Phone {
            phone: phone.clone(),
            name: format!("Caller {phone}"),
        },
        PartyNumber::Withheld => {
            tags.push("caller_withheld".to_string());
            RequesterPlan::Shared(settings.shared_requester.clone())
        }
        PartyNumber::Unparseable { .. } => {
            tags.push("caller_unrecognised".to_string());
            RequesterPlan::Shared(settings.shared_requester.clone())
        }
    };
    for t in &settings.extra_tags {
        let t = tag_slug(t);
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    let recording = call.recording.as_ref().map(|r| r.url.clone());
    // The note names the agent the ticket went to, not whoever the provider listed first.
    let ctx = CallContext::new(call, answering, settings.time_zone, recording.clone());
    let subject = settings.templates.subject(&ctx)?;
    let note = settings.templates.note(&ctx)?;

    let mut custom_fields = BTreeMap::new();
    let f = &settings.fields;
    if let Some(id) = f.call_id {
        custom_fields.insert(id, json!(call.call_id));
    }
    if let Some(id) = f.direction {
        custom_fields.insert(id, json!(call.direction.as_str()));
    }
    if let Some(id) = f.duration {
        custom_fields.insert(id, json!(call.total_seconds));
    }
    if let (Some(id), Some(url)) = (f.recording_url, &recording) {
        custom_fields.insert(id, json!(url));
    }
    if let (Some(id), Some(phone)) = (f.caller_number, call.customer.phone()) {
        custom_fields.insert(id, json!(phone.as_str()));
    }

    let (channel, voice) = if settings.talk_partner_edition {
        let via_id = match (call.direction, answered, recording.is_some()) {
            (Direction::Outbound, _, _) => 46,
            (Direction::Inbound, false, true) => 44,
            (Direction::Inbound, _, _) => 45,
        };
        let voice = VoiceDetails {
            from: call
                .from()
                .and_then(PartyNumber::phone)
                .map(|p| p.to_string()),
            to: call
                .to()
                .and_then(PartyNumber::phone)
                .map(|p| p.to_string()),
            recording_url: recording,
            started_at: ctx.started_utc.clone(),
            call_duration: call.total_seconds,
            answered_by_id: assignee_id,
            location: call.location.clone(),
        };
        (TicketChannel::Voice { via_id }, Some(voice))
    } else {
        (TicketChannel::Tickets, None)
    };

    Ok(TicketPlan {
        external_id: external_id(source, call),
        idempotency_key: call_idempotency_key(source, &call.call_id),
        channel,
        subject,
        note,
        public_note: settings.public_note,
        requester,
        assignee_id,
        group_id,
        tags,
        custom_fields,
        voice,
        unmatched_agent_email: unmatched,
    })
}

#[cfg(test)]
mod tests;
