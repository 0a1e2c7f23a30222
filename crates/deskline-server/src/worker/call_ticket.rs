//! The `call_ticket` job: one finished call becomes exactly one Zendesk ticket.
//!
//! Exactly one, across retries, crashes and restarts: the ticket id is linked to the call once
//! created; every create carries an `Idempotency-Key` derived from the call; and a retry first
//! looks the ticket up by its external id, which also covers the key's two-hour expiry and
//! the voice endpoint, which has no idempotency.

use deskline_core::call::CallRecord;
use deskline_core::directory::StaticDirectory;
use deskline_core::plan::{plan_call, DirectoryAgent, GroupRef, TicketChannel, TicketPlan};
use deskline_store::{Job, StoreError};
use deskline_zendesk::{CustomField, NewComment, NewTicket, VoiceComment};
use serde::{Deserialize, Serialize};

use super::{directory, requester, wait_for_pause, zendesk_failure, JobOutcome};
use crate::state::{AppState, Source};

/// The job kind.
pub const CALL_TICKET_JOB: &str = "call_ticket";
/// The queue of every job that talks to Zendesk.
pub const ZENDESK_QUEUE: &str = "zendesk";
/// Link kind: `{source}:{call id}` → ticket id.
pub const CALL_TICKET_LINK: &str = "call_ticket";

/// The job's arguments; the call itself is read from the stored event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallTicketArgs {
    /// The source's name.
    pub source: String,
    /// The provider's call id.
    pub call_id: String,
}

/// The link key of a call.
pub fn call_link_key(source: &str, call_id: &str) -> String {
    format!("{source}:{call_id}")
}

fn store_err(e: StoreError) -> JobOutcome {
    JobOutcome::from_store(&e)
}

/// Builds the directory entries this call needs, from the synced directory in the store.
async fn directory_for(
    state: &AppState,
    source: &Source,
    call: &CallRecord,
) -> Result<StaticDirectory, JobOutcome> {
    let mut dir = StaticDirectory::new();
    if let Some(email) = call.answered_by.as_ref().and_then(|a| a.email()) {
        if let Some(agent) = state.store.agent_by_email(email).await.map_err(store_err)? {
            if agent.active {
                dir.add_agent(DirectoryAgent {
                    zendesk_id: u64::try_from(agent.zendesk_id).unwrap_or_default(),
                    name: agent.name,
                    email: agent.email,
                });
            }
        }
    }
    let group = match &source.config.plan.fallback_group {
        GroupRef::Name(name) => state.store.group_by_name(name).await,
        GroupRef::Id(id) => {
            state
                .store
                .group_by_id(i64::try_from(*id).unwrap_or(i64::MAX))
                .await
        }
    }
    .map_err(store_err)?;
    if let Some(g) = group {
        dir.add_group(u64::try_from(g.zendesk_id).unwrap_or_default(), &g.name);
    }
    Ok(dir)
}

fn new_ticket(plan: &TicketPlan, requester_id: u64) -> NewTicket {
    let comment = if plan.public_note {
        NewComment::public_text(plan.note.clone())
    } else {
        NewComment::private_text(plan.note.clone())
    };
    let voice_comment = plan.voice.as_ref().map(|v| VoiceComment {
        from: v.from.clone(),
        to: v.to.clone(),
        recording_url: v.recording_url.clone(),
        started_at: chrono::DateTime::parse_from_rfc3339(&v.started_at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc)),
        call_duration: Some(v.call_duration),
        answered_by_id: v.answered_by_id,
        transcription_text: None,
        location: v.location.clone(),
    });
    NewTicket {
        subject: Some(plan.subject.clone()),
        comment: Some(comment),
        requester_id: Some(requester_id),
        assignee_id: plan.assignee_id,
        group_id: plan.group_id,
        external_id: Some(plan.external_id.clone()),
        tags: plan.tags.clone(),
        custom_fields: plan
            .custom_fields
            .iter()
            .map(|(id, value)| CustomField::new(*id, value.clone()))
            .collect(),
        via_id: match plan.channel {
            TicketChannel::Voice { via_id } => Some(via_id),
            TicketChannel::Tickets => None,
        },
        voice_comment,
        ..NewTicket::default()
    }
}

/// Runs one `call_ticket` job.
pub async fn run(state: &AppState, job: &Job) -> JobOutcome {
    match execute(state, job).await {
        Ok(done) | Err(done) => done,
    }
}

async fn execute(state: &AppState, job: &Job) -> Result<JobOutcome, JobOutcome> {
    let now = state.clock.now();
    let args: CallTicketArgs = serde_json::from_value(job.args.clone())
        .map_err(|e| JobOutcome::Discard(format!("the job's arguments are unreadable: {e}")))?;
    let link_key = call_link_key(&args.source, &args.call_id);
    if let Some(link) = state
        .store
        .get_link(CALL_TICKET_LINK, &link_key)
        .await
        .map_err(store_err)?
    {
        return Ok(JobOutcome::Done(format!(
            "ticket {} already exists for this call",
            link.value
        )));
    }
    let source = state.sources.get(&args.source).ok_or_else(|| {
        JobOutcome::Discard(format!(
            "source {:?} is no longer configured; add it back and retry the job",
            args.source
        ))
    })?;
    let event_id = job
        .event_id
        .ok_or_else(|| JobOutcome::Discard("the job has no stored event".into()))?;
    let event = state
        .store
        .get_event(event_id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| {
            JobOutcome::Discard(format!("event {event_id} is missing from the store"))
        })?;
    let call: CallRecord = serde_json::from_value(event.normalized).map_err(|e| {
        JobOutcome::Discard(format!("event {event_id} holds no readable call: {e}"))
    })?;

    let status = state.store.directory_status().await.map_err(store_err)?;
    let Some(last_sync) = status.last_synced_at else {
        // Assigning before the directory exists would send every call to the fallback group.
        return Err(JobOutcome::Snooze {
            until: now + chrono::Duration::seconds(5),
            reason: "waiting for the first agent directory sync".into(),
            pause_queue: false,
        });
    };
    let mut dir = directory_for(state, source, &call).await?;
    let mut plan = plan_call(&source.config.name, &call, &source.config.plan, &dir)
        .map_err(|e| JobOutcome::Discard(e.to_string()))?;
    if plan.unmatched_agent_email.is_some() && now - last_sync > chrono::Duration::seconds(60) {
        // The agent may have joined Zendesk since the last sync: refresh once and re-plan.
        wait_for_pause(state, &job.queue).await?;
        if let Err(e) = directory::sync_directory(state).await {
            tracing::warn!(error = %e, "on-demand directory sync failed");
        } else {
            dir = directory_for(state, source, &call).await?;
            plan = plan_call(&source.config.name, &call, &source.config.plan, &dir)
                .map_err(|e| JobOutcome::Discard(e.to_string()))?;
        }
    }
    if let Some(email) = &plan.unmatched_agent_email {
        state
            .store
            .record_agent_mismatch(email, Some(&call.call_id), &source.config.name, now)
            .await
            .map_err(store_err)?;
    }
    let requester_id = requester::resolve(state, &job.queue, &plan.requester).await?;

    if job.attempt > 1 {
        // An earlier attempt may have created the ticket and lost the answer.
        wait_for_pause(state, &job.queue).await?;
        let existing = state
            .zendesk
            .tickets_by_external_id(&plan.external_id)
            .await
            .map_err(|e| zendesk_failure(state, &e))?;
        if let Some(t) = existing.iter().min_by_key(|t| t.id) {
            link(state, &link_key, t.id).await?;
            return Ok(JobOutcome::Done(format!(
                "found ticket {} created by an earlier attempt",
                t.id
            )));
        }
    }
    let ticket = new_ticket(&plan, requester_id);
    wait_for_pause(state, &job.queue).await?;
    let created = match plan.channel {
        TicketChannel::Tickets => state
            .zendesk
            .create_ticket(&ticket, &plan.idempotency_key)
            .await
            .map(|c| c.ticket),
        TicketChannel::Voice { .. } => {
            state
                .zendesk
                .create_voice_ticket(&ticket, plan.assignee_id)
                .await
        }
    }
    .map_err(|e| zendesk_failure(state, &e))?;
    link(state, &link_key, created.id).await?;
    metrics::counter!("deskline_tickets_created_total", "source" => source.config.name.clone())
        .increment(1);
    let target = match (plan.assignee_id, plan.group_id) {
        (Some(a), _) => format!("assigned to agent {a}"),
        (None, Some(g)) => format!("in group {g}"),
        (None, None) => "unassigned".to_string(),
    };
    Ok(JobOutcome::Done(format!(
        "created ticket {} {target}",
        created.id
    )))
}

async fn link(state: &AppState, key: &str, ticket_id: u64) -> Result<(), JobOutcome> {
    state
        .store
        .put_link(
            CALL_TICKET_LINK,
            key,
            &ticket_id.to_string(),
            state.clock.now(),
        )
        .await
        .map_err(store_err)
}
