//! Threading policies at run time: finds the caller's recent ticket (a link kept per source
//! and number, so only a caller with a recent ticket costs a Zendesk request, to read the
//! ticket's status), asks the pure `threading::decide`, and appends the call as an internal
//! note when it says so.

use chrono::{DateTime, Utc};
use deskline_core::call::{CallRecord, Outcome};
use deskline_core::plan::TicketPlan;
use deskline_core::threading::{decide, RecentTicket, ThreadDecision};
use deskline_store::Job;
use deskline_zendesk::{NewComment, TicketUpdate};
use serde::{Deserialize, Serialize};

use super::call_ticket::store_err;
use super::{wait_for_pause, zendesk_failure, JobOutcome};
use crate::state::{AppState, Source};

/// Link kind: `{source}:{E.164}` → the caller's last ticket (JSON).
const CALLER_TICKET_LINK: &str = "caller_ticket";

#[derive(Serialize, Deserialize)]
struct LastCall {
    ticket_id: u64,
    last_call_at: DateTime<Utc>,
    last_call_missed: bool,
}

fn caller_key(source: &Source, call: &CallRecord) -> Option<String> {
    call.customer
        .phone()
        .map(|p| format!("{}:{}", source.config.name, p))
}

/// Holds the caller's threading lock in this process, when the source threads calls and the
/// caller has a number: from the look-up of the recent ticket to [`remember`], so that calls
/// from one number processed together (a backlog after an outage, a quick ring-back) see each
/// other's tickets instead of each opening one.
pub(super) async fn lock_caller(
    state: &AppState,
    source: &Source,
    call: &CallRecord,
) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    let key = caller_key(source, call).filter(|_| source.config.threading.window().is_some())?;
    Some(state.requester_locks.lock(&format!("thread:{key}")).await)
}

/// Appends the call to the caller's recent ticket when the source's policy says so; the
/// ticket's id, or `None` when a new ticket should be created.
pub(super) async fn appended(
    state: &AppState,
    job: &Job,
    source: &Source,
    call: &CallRecord,
    plan: &TicketPlan,
) -> Result<Option<u64>, JobOutcome> {
    let policy = &source.config.threading;
    let Some(key) = caller_key(source, call).filter(|_| policy.may_append(call)) else {
        return Ok(None);
    };
    let last = state
        .store
        .get_link(CALLER_TICKET_LINK, &key)
        .await
        .map_err(store_err)?
        .and_then(|l| serde_json::from_str::<LastCall>(&l.value).ok());
    let Some(last) = last else {
        return Ok(None);
    };
    wait_for_pause(state, &job.queue).await?;
    let ticket = match state.zendesk.show_ticket(last.ticket_id).await {
        Ok(t) => t,
        // A deleted ticket cannot take the call: open a new one.
        Err(deskline_zendesk::ZendeskError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(zendesk_failure(state, &e)),
    };
    let status = ticket
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let recent = RecentTicket {
        ticket_id: last.ticket_id,
        last_call_at: last.last_call_at,
        status,
        last_call_missed: last.last_call_missed,
    };
    let ThreadDecision::Append { ticket_id } = decide(policy, call, Some(&recent)) else {
        return Ok(None);
    };
    let update = TicketUpdate {
        comment: Some(NewComment::private_text(format!(
            "Another call from this caller:\n\n{}",
            plan.note
        ))),
        additional_tags: plan.tags.clone(),
        ..TicketUpdate::default()
    };
    super::update_ticket(state, &job.queue, ticket_id, &update).await?;
    Ok(Some(ticket_id))
}

/// Remembers the caller's latest ticket for the next call.
pub(super) async fn remember(
    state: &AppState,
    source: &Source,
    call: &CallRecord,
    ticket_id: u64,
) -> Result<(), JobOutcome> {
    if source.config.threading.window().is_none() {
        return Ok(());
    }
    let Some(key) = caller_key(source, call) else {
        return Ok(());
    };
    let previous = state
        .store
        .get_link(CALLER_TICKET_LINK, &key)
        .await
        .map_err(store_err)?
        .and_then(|l| serde_json::from_str::<LastCall>(&l.value).ok());
    if previous.is_some_and(|p| p.ticket_id == ticket_id && p.last_call_at > call.started_at) {
        // An earlier call appended late (out of order): the ticket's last call stays the
        // later one, so the window still runs from it.
        return Ok(());
    }
    let value = LastCall {
        ticket_id,
        last_call_at: call.started_at,
        last_call_missed: call.outcome == Outcome::Missed,
    };
    let json = serde_json::to_string(&value).unwrap_or_default();
    state
        .store
        .put_link(CALLER_TICKET_LINK, &key, &json, state.clock.now())
        .await
        .map_err(store_err)
}
