//! The `call_ticket` job: the events of one call become exactly one Zendesk ticket. This file
//! handles the call's end (creating the ticket, or completing one opened when it rang); the
//! other events are in `call_events`.
//!
//! Exactly one, across retries, crashes and restarts: the ticket id is linked to the call once
//! created; every create carries an `Idempotency-Key` derived from the call; and a retry first
//! looks the ticket up by its external id, which also covers the key's two-hour expiry and
//! the voice endpoint, which has no idempotency.

use deskline_core::call::CallRecord;
use deskline_core::directory::StaticDirectory;
use deskline_core::event::CallEvent;
use deskline_core::plan::{plan_call, TicketChannel, TicketPlan};
use deskline_store::{Job, StoreError};
use deskline_zendesk::{CustomField, NewComment, NewTicket, VoiceComment};
use serde::{Deserialize, Serialize};

use super::{
    call_events, directory, requester, stored_event, threading, wait_for_pause, zendesk_failure,
    JobOutcome,
};
use crate::state::{AppState, Source};
use crate::telemetry::{ticket_created, TicketOrigin};

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
    /// The event kind (`started`, `answered`, `ended`, `disposition`); absent in jobs
    /// written before events were split, which were all `ended`.
    #[serde(default)]
    pub event: Option<String>,
}

/// Link kind: the call's ticket was completed from its end event.
pub const CALL_COMPLETED_LINK: &str = "call_completed";

/// The link key of a call.
pub fn call_link_key(source: &str, call_id: &str) -> String {
    format!("{source}:{call_id}")
}

pub(super) fn store_err(e: StoreError) -> JobOutcome {
    JobOutcome::from_store(&e)
}

/// The directory entries this call needs, from the synced directory in the store.
pub(super) async fn directory_for(
    state: &AppState,
    source: &Source,
    call: &CallRecord,
) -> Result<StaticDirectory, JobOutcome> {
    crate::lookup::directory_for(state.store.as_ref(), &source.config, call)
        .await
        .map_err(store_err)
}

pub(super) fn new_ticket(plan: &TicketPlan, requester_id: u64) -> NewTicket {
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
    let args: CallTicketArgs = super::job_args(job)?;
    let source = super::configured_source(state, &args.source)?;
    let event = stored_event(state, job).await?;
    let event_id = event.id;
    // Events stored before calls had several events hold a bare call record.
    let event: CallEvent = serde_json::from_value(event.normalized.clone())
        .or_else(|_| serde_json::from_value::<CallRecord>(event.normalized).map(CallEvent::Ended))
        .map_err(|e| {
            JobOutcome::Discard(format!(
                "event {event_id} holds no readable call event: {e}"
            ))
        })?;
    let link_key = call_link_key(&args.source, event.call_id());
    match event {
        CallEvent::Ended(call) => ended(state, job, source, &link_key, call).await,
        CallEvent::Started(start) => {
            call_events::started(state, job, source, &link_key, start).await
        }
        CallEvent::Answered(answer) => {
            call_events::answered(state, job, source, &link_key, answer).await
        }
        CallEvent::Disposition(d) => {
            call_events::disposition(state, job, source, &link_key, d).await
        }
    }
}

/// Waits until the directory has been synced once: assigning before that would send every
/// call to the fallback group.
pub(super) async fn synced_at(
    state: &AppState,
) -> Result<chrono::DateTime<chrono::Utc>, JobOutcome> {
    let status = state.store.directory_status().await.map_err(store_err)?;
    status.last_synced_at.ok_or_else(|| JobOutcome::Snooze {
        until: state.clock.now() + chrono::Duration::seconds(5),
        reason: "waiting for the first agent directory sync".into(),
        pause_queue: false,
    })
}

/// The ticket id linked to a call, if any.
pub(super) async fn ticket_of(state: &AppState, link_key: &str) -> Result<Option<u64>, JobOutcome> {
    let link = state
        .store
        .get_link(CALL_TICKET_LINK, link_key)
        .await
        .map_err(store_err)?;
    Ok(link.and_then(|l| l.value.parse().ok()))
}

async fn ended(
    state: &AppState,
    job: &Job,
    source: &Source,
    link_key: &str,
    mut call: CallRecord,
) -> Result<JobOutcome, JobOutcome> {
    let now = state.clock.now();
    let completed = state
        .store
        .get_link(CALL_COMPLETED_LINK, link_key)
        .await
        .map_err(store_err)?;
    if completed.is_some() {
        return Ok(JobOutcome::Done(
            "the call's ticket is already complete".into(),
        ));
    }
    call_events::apply_answer_events(state, link_key, &mut call).await?;
    // Before planning, so the field, the note and the voice comment all get the same link.
    crate::recordings::use_stable_link(state, &source.config, &mut call)
        .await
        .map_err(store_err)?;
    let existing_ticket = ticket_of(state, link_key).await?;
    let last_sync = synced_at(state).await?;
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
    if let Some(ticket_id) = existing_ticket {
        if !call_events::opened_on_ring(state, link_key).await? {
            // Created by an earlier attempt of this job that stopped before recording it.
            mark_completed(state, link_key, ticket_id).await?;
            return Ok(JobOutcome::Done(format!(
                "ticket {ticket_id} already exists for this call"
            )));
        }
        // Opened when the call rang: complete it with the call's data.
        call_events::complete_open_ticket(state, job, ticket_id, &plan).await?;
        mark_completed(state, link_key, ticket_id).await?;
        return Ok(JobOutcome::Done(format!(
            "completed ticket {ticket_id} opened when the call rang"
        )));
    }
    let requester_id = requester::resolve(state, &job.queue, &plan.requester).await?;

    // Held until the ticket is remembered (dropped on return).
    let _caller = threading::lock_caller(state, source, &call).await;
    if let Some(ticket_id) = threading::appended(state, job, source, &call, &plan).await? {
        link(state, link_key, ticket_id).await?;
        mark_completed(state, link_key, ticket_id).await?;
        threading::remember(state, source, &call, ticket_id).await?;
        return Ok(JobOutcome::Done(format!(
            "appended the call to ticket {ticket_id}"
        )));
    }
    if job.attempt > 1 {
        // An earlier attempt may have created the ticket and lost the answer.
        wait_for_pause(state, &job.queue).await?;
        let existing = state
            .zendesk
            .tickets_by_external_id(&plan.external_id)
            .await
            .map_err(|e| zendesk_failure(state, &e))?;
        if let Some(t) = existing.iter().min_by_key(|t| t.id) {
            link(state, link_key, t.id).await?;
            mark_completed(state, link_key, t.id).await?;
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
    link(state, link_key, created.id).await?;
    mark_completed(state, link_key, created.id).await?;
    threading::remember(state, source, &call, created.id).await?;
    ticket_created(&source.config.name, TicketOrigin::Call);
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

async fn mark_completed(state: &AppState, key: &str, ticket_id: u64) -> Result<(), JobOutcome> {
    state
        .store
        .put_link(
            CALL_COMPLETED_LINK,
            key,
            &ticket_id.to_string(),
            state.clock.now(),
        )
        .await
        .map_err(store_err)
}

/// Links a call to its ticket.
pub(super) async fn link(state: &AppState, key: &str, ticket_id: u64) -> Result<(), JobOutcome> {
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
