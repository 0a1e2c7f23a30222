//! The events of a call besides its end: ringing (which can open the ticket early), an
//! agent answering, and the agent's disposition after the call. Each finds the call's ticket
//! through the `call_ticket` link, so however the events arrive there is one ticket per call.

use deskline_core::call::{AgentRef, CallRecord, Direction, Outcome, Provider};
use deskline_core::event::{AnswerLog, CallAnswer, CallStart, Disposition};
use deskline_core::plan::{match_agent, tag_slug, RequesterPlan, TicketPlan};
use deskline_store::Job;
use deskline_zendesk::{CustomField, NewComment, NewTicket, TicketUpdate};

use super::call_ticket::{link, store_err, synced_at, ticket_of, CALL_COMPLETED_LINK};
use super::{requester, wait_for_pause, zendesk_failure, JobOutcome};
use crate::config::WorkerConfig;
use crate::state::{AppState, Source};
use crate::telemetry::{ticket_created, TicketOrigin};

/// Link kind: the ticket was opened when the call rang (so the end completes it).
const CALL_OPENED_LINK: &str = "call_opened";
/// Link kind: the agents who answered, from answered events (an `AnswerLog`).
const CALL_ANSWER_LINK: &str = "call_answer";
/// How long a disposition waits for its call's ticket before going to the dead letter.
const DISPOSITION_PATIENCE_HOURS: i64 = 24;
/// The longest a waiting disposition goes without looking for its ticket.
const DISPOSITION_RECHECK_MAX_SECS: u64 = 30;

/// Whether the call's ticket was opened at ringing.
pub(super) async fn opened_on_ring(state: &AppState, link_key: &str) -> Result<bool, JobOutcome> {
    Ok(state
        .store
        .get_link(CALL_OPENED_LINK, link_key)
        .await
        .map_err(store_err)?
        .is_some())
}

/// Folds answered events into the end record: an agent the record lacks is taken from them,
/// and a Twilio inbound call counts as answered only when an agent's leg answered (the
/// caller's own leg is "completed" as soon as the call flow runs).
pub(super) async fn apply_answer_events(
    state: &AppState,
    link_key: &str,
    call: &mut CallRecord,
) -> Result<(), JobOutcome> {
    let answers = answer_log(state, link_key).await?;
    if call.provider == Provider::Twilio && call.direction == Direction::Inbound {
        call.outcome = if answers.is_empty() {
            Outcome::Missed
        } else {
            Outcome::Answered
        };
    }
    if call.outcome == Outcome::Answered && call.answered_by.is_none() {
        // A record without a leg log gets one from the answers, so a transfer's first or last
        // agent is chosen by the source's answering_agent, by time.
        if call.legs.is_empty() {
            call.legs = answers.legs();
        }
        call.answered_by = answers.latest().cloned();
    }
    Ok(())
}

/// The answers recorded for a call so far.
async fn answer_log(state: &AppState, link_key: &str) -> Result<AnswerLog, JobOutcome> {
    Ok(state
        .store
        .get_link(CALL_ANSWER_LINK, link_key)
        .await
        .map_err(store_err)?
        .map(|l| AnswerLog::from_json(&l.value))
        .unwrap_or_default())
}

/// A call started ringing: with `open_ticket_on_ring`, open its ticket now so agents see it
/// at once; otherwise nothing to do until it ends.
pub(super) async fn started(
    state: &AppState,
    job: &Job,
    source: &Source,
    link_key: &str,
    start: CallStart,
) -> Result<JobOutcome, JobOutcome> {
    if !source.config.open_ticket_on_ring {
        return Ok(JobOutcome::Done(
            "call started; its ticket is created when it ends".into(),
        ));
    }
    if let Some(id) = ticket_of(state, link_key).await? {
        return Ok(JobOutcome::Done(format!(
            "ticket {id} already exists for this call"
        )));
    }
    synced_at(state).await?;
    let plan = &source.config.plan;
    let requester = match start.customer.phone() {
        Some(phone) => RequesterPlan::Phone {
            phone: phone.clone(),
            name: format!("Caller {phone}"),
        },
        None => RequesterPlan::Shared(plan.shared_requester.clone()),
    };
    let requester_id = requester::resolve(state, &job.queue, &requester).await?;
    let ringing: Vec<String> = start.ringing.iter().map(agent_label).collect();
    let local = start.started_at.with_timezone(&plan.time_zone);
    let mut note = format!(
        "{} call {} {} started at {}.",
        if start.direction == Direction::Inbound {
            "Inbound"
        } else {
            "Outbound"
        },
        if start.direction == Direction::Inbound {
            "from"
        } else {
            "to"
        },
        start.customer.display(),
        local.format("%Y-%m-%d %H:%M:%S %Z"),
    );
    if !ringing.is_empty() {
        note.push_str(&format!(" Ringing: {}.", ringing.join(", ")));
    }
    note.push_str(" This ticket is completed when the call ends.");
    let external_id = format!("{}:{}", start.provider.slug(), start.call_id);
    let ticket = NewTicket {
        subject: Some(format!(
            "Call in progress: {} {}",
            start.direction.as_str(),
            start.customer.display()
        )),
        comment: Some(NewComment::private_text(note)),
        requester_id: Some(requester_id),
        external_id: Some(external_id.clone()),
        tags: vec!["deskline".into(), "voice".into(), "call_in_progress".into()],
        ..NewTicket::default()
    };
    wait_for_pause(state, &job.queue).await?;
    if job.attempt > 1 {
        let existing = state
            .zendesk
            .tickets_by_external_id(&external_id)
            .await
            .map_err(|e| zendesk_failure(state, &e))?;
        if let Some(t) = existing.iter().min_by_key(|t| t.id) {
            record_opened(state, link_key, t.id).await?;
            return Ok(JobOutcome::Done(format!(
                "found ticket {} opened by an earlier attempt",
                t.id
            )));
        }
    }
    let key = format!(
        "{}-ring",
        deskline_core::plan::call_idempotency_key(&source.config.name, &start.call_id)
    );
    let created = state
        .zendesk
        .create_ticket(&ticket, &key)
        .await
        .map_err(|e| zendesk_failure(state, &e))?;
    ticket_created(&source.config.name, TicketOrigin::Call);
    record_opened(state, link_key, created.ticket.id).await?;
    Ok(JobOutcome::Done(format!(
        "opened ticket {} while the call rings",
        created.ticket.id
    )))
}

async fn record_opened(state: &AppState, link_key: &str, ticket_id: u64) -> Result<(), JobOutcome> {
    state
        .store
        .put_link(
            CALL_OPENED_LINK,
            link_key,
            &ticket_id.to_string(),
            state.clock.now(),
        )
        .await
        .map_err(store_err)?;
    link(state, link_key, ticket_id).await
}

/// Completes a ticket opened at ringing with the finished call's plan.
pub(super) async fn complete_open_ticket(
    state: &AppState,
    job: &Job,
    ticket_id: u64,
    plan: &TicketPlan,
) -> Result<(), JobOutcome> {
    let comment = if plan.public_note {
        NewComment::public_text(plan.note.clone())
    } else {
        NewComment::private_text(plan.note.clone())
    };
    let update = TicketUpdate {
        subject: Some(plan.subject.clone()),
        comment: Some(comment),
        assignee_id: plan.assignee_id,
        // A ticket assigned on answer that the call's end sends to a group (missed after all,
        // or an agent Zendesk does not know) must lose that assignee, or Zendesk refuses the
        // group change.
        unassign: plan.assignee_id.is_none() && plan.group_id.is_some(),
        group_id: plan.group_id,
        additional_tags: plan.tags.clone(),
        remove_tags: vec!["call_in_progress".into()],
        custom_fields: plan
            .custom_fields
            .iter()
            .map(|(id, v)| CustomField::new(*id, v.clone()))
            .collect(),
        ..TicketUpdate::default()
    };
    super::update_ticket(state, &job.queue, ticket_id, &update).await?;
    Ok(())
}

/// An agent answered: remember who (providers such as Twilio name the agent only here), and
/// assign a ticket opened at ringing right away.
pub(super) async fn answered(
    state: &AppState,
    job: &Job,
    source: &Source,
    link_key: &str,
    answer: CallAnswer,
) -> Result<JobOutcome, JobOutcome> {
    if !names_someone(&answer.agent) {
        // The caller's own leg was answered (Twilio answers an inbound call itself when its
        // TwiML runs): no person took the call. Remembering it would make a call nobody picked
        // up "answered", or, arriving after an agent's answer, forget that agent.
        return Ok(JobOutcome::Done(
            "answered without naming an agent; nothing to remember".into(),
        ));
    }
    // Jobs of one call run one at a time, in order, so reading and writing back is safe.
    let mut answers = answer_log(state, link_key).await?;
    answers.record(&answer);
    state
        .store
        .put_link(
            CALL_ANSWER_LINK,
            link_key,
            &answers.to_json(),
            state.clock.now(),
        )
        .await
        .map_err(store_err)?;
    let Some(ticket_id) = ticket_of(state, link_key).await? else {
        return Ok(JobOutcome::Done(format!(
            "{} answered; the ticket is created when the call ends",
            agent_label(&answer.agent)
        )));
    };
    let completed = state
        .store
        .get_link(CALL_COMPLETED_LINK, link_key)
        .await
        .map_err(store_err)?
        .is_some();
    if completed || !opened_on_ring(state, link_key).await? {
        // An answer delivered after the call's end (late or out of order) must not undo the
        // assignment the end made, such as the last agent of a transfer.
        return Ok(JobOutcome::Done(
            "answered after the ticket was completed; nothing to change".into(),
        ));
    }
    synced_at(state).await?;
    let dir = crate::lookup::directory_for_agents(
        state.store.as_ref(),
        &source.config,
        std::iter::once(&answer.agent),
    )
    .await
    .map_err(store_err)?;
    let (agent, _) = match_agent(&answer.agent, &source.config.plan, &dir);
    let Some(agent) = agent else {
        return Ok(JobOutcome::Done(format!(
            "{} answered but is not a Zendesk agent",
            agent_label(&answer.agent)
        )));
    };
    let update = TicketUpdate {
        assignee_id: Some(agent.zendesk_id),
        ..TicketUpdate::default()
    };
    super::update_ticket(state, &job.queue, ticket_id, &update).await?;
    Ok(JobOutcome::Done(format!(
        "ticket {ticket_id} assigned to {} on answer",
        agent.name
    )))
}

/// How long a disposition waits before looking for its call's ticket again. It usually comes
/// seconds before the call's end event, so it looks again soon, then less often: the worker's
/// first retry delay, doubled after each wait, at most [`DISPOSITION_RECHECK_MAX_SECS`].
fn disposition_recheck(worker: &WorkerConfig, snoozes: u32) -> chrono::Duration {
    let cap = std::time::Duration::from_secs(DISPOSITION_RECHECK_MAX_SECS).min(worker.backoff_cap);
    let wait = worker
        .backoff_base
        .saturating_mul(1 << snoozes.min(16))
        .min(cap);
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(30))
}

/// An agent for notes: [`AgentRef::label`], or the number when the provider gave nothing else
/// (In-Call and Twilio name agents by number only).
fn agent_label(agent: &AgentRef) -> String {
    let named = agent.name.as_deref().is_some_and(|n| !n.trim().is_empty())
        || agent.email().is_some()
        || agent
            .extension
            .as_deref()
            .is_some_and(|e| !e.trim().is_empty());
    match agent.phone.as_deref().map(str::trim) {
        Some(phone) if !named && !phone.is_empty() => phone.to_string(),
        _ => agent.label(),
    }
}

/// Whether an answer names an agent at all.
fn names_someone(agent: &AgentRef) -> bool {
    [&agent.email, &agent.name, &agent.extension, &agent.phone]
        .into_iter()
        .flatten()
        .any(|v| !v.trim().is_empty())
}

/// The agent's disposition: tags, a field and an internal note on the call's ticket. A
/// disposition that arrives before the call's end waits for the ticket (without holding the
/// call's other events), and gives up after a day.
pub(super) async fn disposition(
    state: &AppState,
    job: &Job,
    source: &Source,
    link_key: &str,
    d: Disposition,
) -> Result<JobOutcome, JobOutcome> {
    let now = state.clock.now();
    let Some(ticket_id) = ticket_of(state, link_key).await? else {
        if now - job.created_at > chrono::Duration::hours(DISPOSITION_PATIENCE_HOURS) {
            return Err(JobOutcome::Discard(format!(
                "no ticket exists for call {} a day after its disposition arrived (did its end event reach deskline?)",
                d.call_id
            )));
        }
        return Err(JobOutcome::Snooze {
            until: now + disposition_recheck(&state.worker, job.snoozes),
            reason: "waiting for the call's ticket".into(),
            pause_queue: false,
        });
    };
    let mut lines = vec![format!(
        "Disposition: {}",
        if d.dispositions.is_empty() {
            "(none)".to_string()
        } else {
            d.dispositions.join(", ")
        }
    )];
    if let Some(c) = d.comment.as_deref().filter(|c| !c.trim().is_empty()) {
        lines.push(format!("Comment: {c}"));
    }
    if let Some(a) = &d.agent {
        lines.push(format!("By: {}", a.label()));
    }
    let tags: Vec<String> = d
        .dispositions
        .iter()
        .map(|x| tag_slug(x))
        .filter(|t| !t.is_empty())
        .map(|t| format!("disposition_{t}"))
        .collect();
    let custom_fields = match source.config.disposition_field {
        Some(id) if !d.dispositions.is_empty() => {
            vec![CustomField::new(id, d.dispositions.join(", "))]
        }
        _ => Vec::new(),
    };
    let update = TicketUpdate {
        comment: Some(NewComment::private_text(lines.join("\n"))),
        additional_tags: tags,
        custom_fields,
        ..TicketUpdate::default()
    };
    super::update_ticket(state, &job.queue, ticket_id, &update).await?;
    Ok(JobOutcome::Done(format!(
        "disposition added to ticket {ticket_id}"
    )))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_waiting_disposition_looks_again_soon_then_less_often() {
        let worker = WorkerConfig::default();
        let waits: Vec<i64> = (0..7)
            .map(|n| disposition_recheck(&worker, n).num_seconds())
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(
            disposition_recheck(&worker, u32::MAX),
            chrono::Duration::seconds(30)
        );
        let quick = WorkerConfig {
            backoff_base: Duration::from_millis(20),
            backoff_cap: Duration::from_secs(1),
            ..WorkerConfig::default()
        };
        assert_eq!(
            disposition_recheck(&quick, 0),
            chrono::Duration::milliseconds(20)
        );
        assert_eq!(disposition_recheck(&quick, 9), chrono::Duration::seconds(1));
    }

    #[test]
    fn an_answer_without_an_agent_names_nobody() {
        assert!(!names_someone(&AgentRef::default()));
        let blank = AgentRef {
            phone: Some(" ".into()),
            ..AgentRef::default()
        };
        assert!(!names_someone(&blank));
        let by_number = AgentRef {
            phone: Some("+14155550115".into()),
            ..AgentRef::default()
        };
        assert!(names_someone(&by_number));
        assert_eq!(agent_label(&by_number), "+14155550115");
        let named = AgentRef {
            name: Some("Priya Sharma".into()),
            ..by_number
        };
        assert_eq!(agent_label(&named), "Priya Sharma");
    }
}
