//! The `handoff_ticket` job: a handoff becomes a Zendesk ticket, or joins the ticket its
//! session or contact already has while that ticket is not solved or closed.
//!
//! Exactly once per handoff, across retries and crashes: each step that writes to Zendesk is
//! recorded in a link keyed by the event before the next one starts; the create carries an
//! `Idempotency-Key` derived from the event; and a retry after a lost answer finds the ticket
//! by its external id (the session id) and creation time.

use chrono::{DateTime, Utc};
use deskline_core::conversation::ConversationStatus;
use deskline_core::handoff::ticket::{plan, HandoffTicketPlan};
use deskline_core::handoff::Handoff;
use deskline_core::phone::PartyNumber;
use deskline_core::plan::GroupRef;
use deskline_store::{ContactKeys, Conversation, Job};
use deskline_zendesk::{
    CustomField, NewComment, NewTicket, NewUser, TicketStatus, TicketUpdate, UserRole,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::call_ticket::{store_err, ZENDESK_QUEUE};
use super::{requester, stored_event, update_ticket, wait_for_pause, zendesk_failure, JobOutcome};
use crate::config::Assignee;
use crate::state::{AppState, Source};
use crate::telemetry::{ticket_created, TicketOrigin};

/// The job kind.
pub const HANDOFF_TICKET_JOB: &str = "handoff_ticket";
/// Link kind: event id → the ticket the handoff went to (the job's work is done).
pub const HANDOFF_DONE_LINK: &str = "handoff_done";
/// Link kind: event id → the ticket created for it (before its transcript was added).
pub const HANDOFF_CREATED_LINK: &str = "handoff_created";
/// Link kind: email, or `{source}:{contact id}` → Zendesk user id.
pub const CONTACT_USER_LINK: &str = "contact_user";

/// The job's arguments; the handoff itself is read from the stored event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HandoffTicketArgs {
    /// The source's name.
    pub source: String,
    /// The session id.
    pub session_id: String,
}

/// Runs one `handoff_ticket` job.
pub async fn run(state: &AppState, job: &Job) -> JobOutcome {
    match execute(state, job).await {
        Ok(done) | Err(done) => done,
    }
}

/// The contact's identities, as conversations are matched.
pub fn contact_keys(h: &Handoff) -> ContactKeys {
    ContactKeys {
        email: h.contact.email.clone(),
        phone: match &h.contact.phone {
            PartyNumber::Known { phone } => Some(phone.as_str().to_string()),
            _ => None,
        },
        external_id: h.contact.external_id.clone(),
    }
}

async fn link_value(state: &AppState, kind: &str, key: &str) -> Result<Option<u64>, JobOutcome> {
    let link = state.store.get_link(kind, key).await.map_err(store_err)?;
    Ok(link.and_then(|l| l.value.parse().ok()))
}

async fn put_link(state: &AppState, kind: &str, key: &str, id: u64) -> Result<(), JobOutcome> {
    state
        .store
        .put_link(kind, key, &id.to_string(), state.clock.now())
        .await
        .map_err(store_err)
}

async fn execute(state: &AppState, job: &Job) -> Result<JobOutcome, JobOutcome> {
    let args: HandoffTicketArgs = super::job_args(job)?;
    let source = super::configured_source(state, &args.source)?;
    let event = stored_event(state, job).await?;
    let event_id = event.id;
    let event_key = event_id.to_string();
    if let Some(ticket) = link_value(state, HANDOFF_DONE_LINK, &event_key).await? {
        return Ok(JobOutcome::Done(format!(
            "the handoff is already on ticket {ticket}"
        )));
    }
    let handoff: Handoff = serde_json::from_value(event.normalized).map_err(|e| {
        JobOutcome::Discard(format!("event {event_id} holds no readable handoff: {e}"))
    })?;
    let plan = plan(&handoff);
    let keys = contact_keys(&handoff);
    let now = state.clock.now();
    let mut conversation = state
        .store
        .get_conversation(&args.source, &handoff.session_id)
        .await
        .map_err(store_err)?
        .unwrap_or_else(|| Conversation {
            source: args.source.clone(),
            session_id: handoff.session_id.clone(),
            channel: handoff.channel.clone(),
            email: None,
            phone: None,
            contact_external_id: None,
            contact: json!({}),
            ticket_id: None,
            status: ConversationStatus::opened(event.received_at),
            created_at: now,
            updated_at: now,
        });
    merge_contact(&mut conversation, &handoff, &keys);
    // A handoff is the customer asking for a person, so it counts as the customer writing
    // when it arrived. The transcript's own times are not used: they come from another clock,
    // and replayed or delayed transcripts would close the reply window at once.
    conversation.status.customer_wrote(event.received_at);

    let (ticket_id, created) = match link_value(state, HANDOFF_CREATED_LINK, &event_key).await? {
        Some(id) => (id, true),
        None => match open_ticket_to_join(state, &args.source, &conversation, &keys).await? {
            Some(id) => {
                append(state, source, id, &plan).await?;
                (id, false)
            }
            None => {
                let id = create(
                    state,
                    job,
                    source,
                    &handoff,
                    &plan,
                    event_id,
                    event.received_at,
                )
                .await?;
                put_link(state, HANDOFF_CREATED_LINK, &event_key, id).await?;
                (id, true)
            }
        },
    };
    if created {
        if let Some(transcript) = &plan.transcript {
            let comment = if source.config.handoff.transcript_public {
                NewComment::public_text(transcript.clone())
            } else {
                NewComment::private_text(transcript.clone())
            };
            let update = TicketUpdate {
                comment: Some(comment),
                ..TicketUpdate::default()
            };
            update_ticket(state, ZENDESK_QUEUE, ticket_id, &update).await?;
        }
    }
    // Read again and apply this handoff's changes to what is stored now: a reply or a
    // status change of the same ticket may have been recorded while Zendesk was asked, and
    // saving the copy read at the start would undo it.
    let mut latest = state
        .store
        .get_conversation(&args.source, &handoff.session_id)
        .await
        .map_err(store_err)?
        .unwrap_or(conversation);
    merge_contact(&mut latest, &handoff, &keys);
    latest.status.customer_wrote(event.received_at);
    latest.ticket_id = Some(ticket_id);
    state
        .store
        .save_conversation(&latest, state.clock.now())
        .await
        .map_err(store_err)?;
    put_link(state, HANDOFF_DONE_LINK, &event_key, ticket_id).await?;
    let _ = state
        .store
        .delete_link(HANDOFF_CREATED_LINK, &event_key)
        .await;
    Ok(JobOutcome::Done(if created {
        format!("created ticket {ticket_id}")
    } else {
        format!("added the handoff to open ticket {ticket_id}")
    }))
}

/// Keeps what is known about the contact, the newest value of each identity winning.
fn merge_contact(c: &mut Conversation, h: &Handoff, keys: &ContactKeys) {
    c.channel = h.channel.clone();
    c.email = keys.email.clone().or(c.email.take());
    c.phone = keys.phone.clone().or(c.phone.take());
    c.contact_external_id = keys.external_id.clone().or(c.contact_external_id.take());
    if !c.contact.is_object() {
        c.contact = json!({});
    }
    let fields = [
        ("name", h.contact.name.clone()),
        ("email", c.email.clone()),
        ("phone", c.phone.clone()),
        ("external_id", c.contact_external_id.clone()),
    ];
    if let Some(obj) = c.contact.as_object_mut() {
        for (k, v) in fields {
            if let Some(v) = v {
                obj.insert(k.to_string(), json!(v));
            }
        }
    }
}

/// The ticket this handoff should join: the session's own ticket, else the contact's latest
/// handoff ticket, as long as Zendesk says it is not solved or closed.
async fn open_ticket_to_join(
    state: &AppState,
    source: &str,
    conversation: &Conversation,
    keys: &ContactKeys,
) -> Result<Option<u64>, JobOutcome> {
    let mut candidates = Vec::new();
    candidates.extend(conversation.ticket_id);
    if let Some(c) = state
        .store
        .latest_conversation_with_ticket(source, keys)
        .await
        .map_err(store_err)?
    {
        candidates.extend(c.ticket_id.filter(|t| !candidates.contains(t)));
    }
    for ticket_id in candidates {
        wait_for_pause(state, ZENDESK_QUEUE).await?;
        match state.zendesk.show_ticket(ticket_id).await {
            Ok(t) => {
                let done = matches!(t.status, Some(TicketStatus::Solved | TicketStatus::Closed));
                if !done {
                    return Ok(Some(ticket_id));
                }
            }
            // Deleted meanwhile: look further, or open a new one.
            Err(deskline_zendesk::ZendeskError::NotFound { .. }) => {}
            Err(e) => return Err(zendesk_failure(state, &e)),
        }
    }
    Ok(None)
}

fn custom_fields(plan: &HandoffTicketPlan) -> Vec<CustomField> {
    plan.fields
        .iter()
        .map(|(id, v)| CustomField::new(*id, v.clone()))
        .collect()
}

async fn append(
    state: &AppState,
    source: &Source,
    ticket_id: u64,
    plan: &HandoffTicketPlan,
) -> Result<(), JobOutcome> {
    let mut text = plan.summary.clone();
    if let Some(t) = &plan.transcript {
        text.push_str("\n\n");
        text.push_str(t);
    }
    let comment = if source.config.handoff.transcript_public {
        NewComment::public_text(text)
    } else {
        NewComment::private_text(text)
    };
    let update = TicketUpdate {
        comment: Some(comment),
        additional_tags: plan.append_tags.clone(),
        custom_fields: custom_fields(plan),
        ..TicketUpdate::default()
    };
    update_ticket(state, ZENDESK_QUEUE, ticket_id, &update).await
}

async fn create(
    state: &AppState,
    job: &Job,
    source: &Source,
    handoff: &Handoff,
    plan: &HandoffTicketPlan,
    event_id: deskline_store::EventId,
    received_at: DateTime<Utc>,
) -> Result<u64, JobOutcome> {
    // On a retry, a create whose answer was lost may have happened: the ticket then exists
    // with this session id as external id, created after the handoff arrived. The first
    // attempt skips the look-up (one request per handoff saved); the Idempotency-Key also
    // covers retries within its two hours.
    if job.attempt > 1 {
        wait_for_pause(state, ZENDESK_QUEUE).await?;
        let existing = state
            .zendesk
            .tickets_by_external_id(&handoff.session_id)
            .await
            .map_err(|e| zendesk_failure(state, &e))?;
        let cutoff = received_at - chrono::Duration::seconds(5);
        if let Some(t) = existing.iter().find(|t| {
            t.created_at.is_some_and(|c| c >= cutoff)
                && t.tags
                    .iter()
                    .any(|x| x == "deskline_ticket_created_on_handoff")
        }) {
            return Ok(t.id);
        }
    }
    let requester_id = requester_for(state, &source.config.name, handoff).await?;
    let (assignee_id, group_id) = routing(state, source).await?;
    let ticket = NewTicket {
        subject: Some(plan.subject.clone()),
        comment: Some(NewComment::private_text(plan.summary.clone())),
        requester_id: Some(requester_id),
        assignee_id,
        group_id,
        external_id: Some(handoff.session_id.clone()),
        tags: plan.create_tags.clone(),
        custom_fields: custom_fields(plan),
        ..NewTicket::default()
    };
    let key = format!("deskline-handoff-{}-{event_id}", source.config.name);
    wait_for_pause(state, ZENDESK_QUEUE).await?;
    let created = state
        .zendesk
        .create_ticket(&ticket, &key)
        .await
        .map_err(|e| zendesk_failure(state, &e))?;
    ticket_created(&source.config.name, TicketOrigin::Handoff);
    Ok(created.ticket.id)
}

/// The default assignee and group, looked up in the synced directory.
async fn routing(
    state: &AppState,
    source: &Source,
) -> Result<(Option<u64>, Option<u64>), JobOutcome> {
    let settings = &source.config.handoff;
    let assignee = match &settings.assignee {
        None => None,
        Some(Assignee::Id(id)) => Some(*id),
        Some(Assignee::Email(email)) => {
            let agent = state.store.agent_by_email(email).await.map_err(store_err)?;
            match agent {
                Some(a) if a.active => u64::try_from(a.zendesk_id).ok(),
                // An unknown or inactive agent: Zendesk's routing decides rather than a 422.
                _ => {
                    tracing::warn!(%email, "the handoff assignee is not an active agent in the directory; leaving the ticket unassigned");
                    None
                }
            }
        }
    };
    let group = match &settings.group {
        None => None,
        Some(GroupRef::Id(id)) => Some(*id),
        Some(GroupRef::Name(name)) => state
            .store
            .group_by_name(name)
            .await
            .map_err(store_err)?
            .and_then(|g| u64::try_from(g.zendesk_id).ok()),
    };
    Ok((assignee, group))
}

/// The requester: by email (`create_or_update`, which matches on the email), else by phone
/// (as for calls), else by the platform's contact id as an external id.
async fn requester_for(state: &AppState, source: &str, h: &Handoff) -> Result<u64, JobOutcome> {
    let name = deskline_core::handoff::ticket::contact_label(h);
    let (link_key, user) = match (&h.contact.email, &h.contact.phone, &h.contact.external_id) {
        (Some(email), phone, _) => (
            email.clone(),
            NewUser {
                name: Some(name),
                email: Some(email.clone()),
                phone: match phone {
                    PartyNumber::Known { phone } => Some(phone.as_str().to_string()),
                    _ => None,
                },
                role: Some(UserRole::EndUser),
                skip_verify_email: Some(true),
                ..NewUser::default()
            },
        ),
        (None, PartyNumber::Known { phone }, _) => {
            let plan = deskline_core::plan::RequesterPlan::Phone {
                phone: phone.clone(),
                name,
            };
            return requester::resolve(state, ZENDESK_QUEUE, &plan).await;
        }
        (None, _, Some(id)) => (
            format!("{source}:{id}"),
            NewUser {
                name: Some(name),
                external_id: Some(format!("deskline-contact:{source}:{id}")),
                role: Some(UserRole::EndUser),
                ..NewUser::default()
            },
        ),
        (None, _, None) => {
            return Err(JobOutcome::Discard(
                "the handoff's contact has no email, phone or id".into(),
            ))
        }
    };
    if let Some(id) = link_value(state, CONTACT_USER_LINK, &link_key).await? {
        return Ok(id);
    }
    let _one_at_a_time = state
        .requester_locks
        .lock(&format!("contact:{link_key}"))
        .await;
    if let Some(id) = link_value(state, CONTACT_USER_LINK, &link_key).await? {
        return Ok(id);
    }
    wait_for_pause(state, ZENDESK_QUEUE).await?;
    let (user, _) = state
        .zendesk
        .create_or_update_user(&user)
        .await
        .map_err(|e| zendesk_failure(state, &e))?;
    put_link(state, CONTACT_USER_LINK, &link_key, user.id).await?;
    Ok(user.id)
}
