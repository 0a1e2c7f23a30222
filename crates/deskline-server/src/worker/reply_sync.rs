//! The `zendesk_event` job: Zendesk told deskline that a ticket changed (deskline's reply
//! trigger, or the `ticket.comment_added` / `ticket.status_changed` events). For a ticket that
//! carries a conversation, an agent's public reply is queued for delivery to the customer's
//! channel, and a solved or closed ticket closes the conversation.
//!
//! What was sent is never taken from the webhook body: deskline reads the comment from
//! Zendesk, so a trigger edited by hand to send `latest_comment` still cannot leak an internal
//! note, and a comment written through the API (deskline's own, or another integration's) is
//! recognised by its `via` channel.

use chrono::{DateTime, Utc};
use deskline_core::conversation::ConversationState;
use deskline_store::{Conversation, Job, NewJob};
use deskline_zendesk::{Comment, NewComment, TicketUpdate, UserRole};
use serde::Deserialize;
use serde_json::{json, Value};

use super::call_ticket::{store_err, ZENDESK_QUEUE};
use super::reply_delivery::{ReplyDeliveryArgs, OUTBOUND_QUEUE, REPLY_DELIVERY_JOB};
use super::{stored_event, update_ticket, wait_for_pause, zendesk_failure, JobOutcome};
use crate::state::AppState;

/// Link kind: `{ticket}:{comment}` → the comment was handled (queued, refused or ignored).
pub const REPLY_HANDLED_LINK: &str = "reply_handled";

#[derive(Debug, Deserialize)]
struct Args {
    ticket_id: u64,
    kind: String,
}

/// Runs one `zendesk_event` job.
pub async fn run(state: &AppState, job: &Job) -> JobOutcome {
    match execute(state, job).await {
        Ok(done) | Err(done) => done,
    }
}

async fn execute(state: &AppState, job: &Job) -> Result<JobOutcome, JobOutcome> {
    let args: Args = super::job_args(job)?;
    let conversations = state
        .store
        .conversations_for_ticket(args.ticket_id)
        .await
        .map_err(store_err)?;
    let Some(conversation) = conversations.first().cloned() else {
        return Ok(JobOutcome::Done(format!(
            "ticket {} carries no deskline conversation; nothing to do",
            args.ticket_id
        )));
    };
    let event = stored_event(state, job).await?;
    let body = event.normalized;
    let at = event.received_at;
    // When Zendesk says the change happened (the envelope's `time`, the trigger's
    // `updated_at`), to compare with comment times, which are Zendesk's too.
    let changed_at = ["time", "updated_at"]
        .iter()
        .filter_map(|k| body.get(*k).and_then(Value::as_str))
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(at, |t| t.with_timezone(&Utc));
    match args.kind.as_str() {
        "zendesk.ticket.status_changed" => {
            let status = body
                .pointer("/event/current")
                .or_else(|| body.pointer("/detail/status"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let status = status.to_ascii_lowercase();
            let mut said = format!("ticket {} is now {status}", args.ticket_id);
            let closing = matches!(status.as_str(), "solved" | "closed")
                && conversation.status.state != ConversationState::Closed;
            if closing {
                // An agent's "reply and solve" is one update, and its status event may be
                // handled before the reply trigger: relay what was written up to the close
                // while the conversation is still open.
                if let JobOutcome::Done(relayed) = reply(
                    state,
                    args.ticket_id,
                    conversation,
                    None,
                    at,
                    Some(changed_at),
                )
                .await?
                {
                    said = format!("{said}; before closing: {relayed}");
                }
            }
            let fresh = state
                .store
                .conversations_for_ticket(args.ticket_id)
                .await
                .map_err(store_err)?;
            close_if_done(state, &fresh, &status, changed_at).await?;
            Ok(JobOutcome::Done(said))
        }
        "zendesk.ticket.comment_added" => {
            let id = body
                .pointer("/event/comment/id")
                .and_then(|v| match v {
                    Value::String(s) => s.parse().ok(),
                    other => other.as_u64(),
                })
                .ok_or_else(|| JobOutcome::Discard("the event names no comment id".into()))?;
            reply(state, args.ticket_id, conversation, Some(id), at, None).await
        }
        "zendesk.trigger" => {
            if body.get("deskline_event").and_then(Value::as_str)
                != Some(crate::provision::REPLY_EVENT)
            {
                return Ok(JobOutcome::Done(
                    "a trigger payload deskline did not provision; ignored".into(),
                ));
            }
            // The reply first, with the conversation as it was: "reply and solve" in one
            // update still reaches the customer.
            let outcome = reply(state, args.ticket_id, conversation, None, at, None).await?;
            if let Some(status) = body.get("status").and_then(Value::as_str) {
                let fresh = state
                    .store
                    .conversations_for_ticket(args.ticket_id)
                    .await
                    .map_err(store_err)?;
                close_if_done(state, &fresh, status, changed_at).await?;
            }
            Ok(outcome)
        }
        other => Ok(JobOutcome::Done(format!("{other} needs no action"))),
    }
}

/// Applies a ticket status to every conversation on the ticket.
async fn close_if_done(
    state: &AppState,
    conversations: &[Conversation],
    status: &str,
    at: DateTime<Utc>,
) -> Result<(), JobOutcome> {
    for c in conversations {
        let mut c = c.clone();
        let before = c.status.clone();
        c.status.ticket_status_changed(status, at);
        if c.status != before {
            state
                .store
                .save_conversation(&c, state.clock.now())
                .await
                .map_err(store_err)?;
        }
    }
    Ok(())
}

/// The comments a notice is about: the one an event names; for deskline's trigger (which
/// names none), every public comment made since the conversation began, oldest first, so two
/// quick replies are both relayed even when the first trigger is handled after the second
/// comment exists (comments already handled are skipped later).
async fn comments_to_relay(
    state: &AppState,
    ticket_id: u64,
    id: Option<u64>,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<Comment>, JobOutcome> {
    wait_for_pause(state, ZENDESK_QUEUE).await?;
    let comments = state
        .zendesk
        .list_comments(ticket_id)
        .await
        .map_err(|e| zendesk_failure(state, &e))?;
    Ok(match id {
        Some(id) => comments.into_iter().filter(|c| c.id == id).collect(),
        None => comments
            .into_iter()
            .filter(|c| c.public && c.created_at.is_none_or(|t| t >= since))
            .filter(|c| match (until, c.created_at) {
                (Some(until), Some(t)) => t <= until,
                _ => true,
            })
            .collect(),
    })
}

/// Whether the author is staff: the synced directory knows every agent; anyone else is
/// asked about once (an agent added since the last sync).
async fn is_agent(state: &AppState, author_id: u64) -> Result<bool, JobOutcome> {
    let id = i64::try_from(author_id).unwrap_or(i64::MAX);
    if state
        .store
        .agent_by_zendesk_id(id)
        .await
        .map_err(store_err)?
        .is_some()
    {
        return Ok(true);
    }
    wait_for_pause(state, ZENDESK_QUEUE).await?;
    match state.zendesk.show_user(author_id).await {
        Ok(u) => Ok(matches!(u.role, Some(UserRole::Agent | UserRole::Admin))),
        Err(deskline_zendesk::ZendeskError::NotFound { .. }) => Ok(false),
        Err(e) => Err(zendesk_failure(state, &e)),
    }
}

async fn reply(
    state: &AppState,
    ticket_id: u64,
    mut conversation: Conversation,
    comment_id: Option<u64>,
    at: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<JobOutcome, JobOutcome> {
    // Zendesk's times have whole seconds and another clock: a reply made right after the
    // handoff must not look older than the conversation.
    let since = conversation.created_at - chrono::Duration::seconds(30);
    let comments = comments_to_relay(state, ticket_id, comment_id, since, until).await?;
    if comments.is_empty() {
        return Ok(JobOutcome::Done(format!(
            "ticket {ticket_id} has no such public comment; nothing to send"
        )));
    }
    let mut said = Vec::new();
    for comment in comments {
        said.push(relay(state, ticket_id, &mut conversation, comment, at).await?);
    }
    Ok(JobOutcome::Done(said.join("; ")))
}

/// Decides what one comment becomes (sent, refused with a note, or ignored) and records it.
async fn relay(
    state: &AppState,
    ticket_id: u64,
    conversation: &mut Conversation,
    comment: Comment,
    at: DateTime<Utc>,
) -> Result<String, JobOutcome> {
    let handled_key = format!("{ticket_id}:{}", comment.id);
    if state
        .store
        .get_link(REPLY_HANDLED_LINK, &handled_key)
        .await
        .map_err(store_err)?
        .is_some()
    {
        return Ok(format!("comment {} was already handled", comment.id));
    }
    if !comment.public {
        return handled(
            state,
            &handled_key,
            format!("comment {} is an internal note: never sent", comment.id),
        )
        .await;
    }
    if comment.comment_type.as_deref() == Some("VoiceComment") {
        return handled(
            state,
            &handled_key,
            format!(
                "comment {} is a call's voice comment (call details, recording): not sent",
                comment.id
            ),
        )
        .await;
    }
    let via = comment.via.as_ref().and_then(|v| v.channel.as_deref());
    if via == Some("api") {
        return handled(
            state,
            &handled_key,
            format!(
                "comment {} was written through the API (by deskline or another integration): not sent",
                comment.id
            ),
        )
        .await;
    }
    let Some(author_id) = comment.author_id else {
        return handled(
            state,
            &handled_key,
            format!("comment {} has no author: not sent", comment.id),
        )
        .await;
    };
    let when = comment.created_at.unwrap_or(at);
    if !is_agent(state, author_id).await? {
        // The customer wrote on the ticket (an email reply, say): that restarts the window.
        // deskline's clock, not Zendesk's, like every other time the rules compare.
        conversation.status.customer_wrote(at);
        state
            .store
            .save_conversation(conversation, state.clock.now())
            .await
            .map_err(store_err)?;
        return handled(
            state,
            &handled_key,
            format!(
                "comment {} is the customer's own: not sent back",
                comment.id
            ),
        )
        .await;
    }
    if let Err(refusal) = conversation.status.reply_decision(when) {
        metrics::counter!("deskline_replies_total", "outcome" => "refused").increment(1);
        // The agent would otherwise believe the customer got it.
        let note = format!(
            "deskline did not send this reply to the customer's {} conversation: {refusal}.",
            conversation.channel
        );
        let update = TicketUpdate {
            comment: Some(NewComment::private_text(note)),
            ..TicketUpdate::default()
        };
        update_ticket(state, ZENDESK_QUEUE, ticket_id, &update).await?;
        return handled(
            state,
            &handled_key,
            format!("comment {} not sent: {refusal}", comment.id),
        )
        .await;
    }
    let agent = agent_summary(state, author_id).await?;
    let args = ReplyDeliveryArgs {
        source: conversation.source.clone(),
        session_id: conversation.session_id.clone(),
        channel: conversation.channel.clone(),
        ticket_id,
        comment_id: comment.id,
        payload: json!({
            "type": "agent.reply",
            "timestamp": when.to_rfc3339(),
            "data": {
                "conversation": {
                    "source": &conversation.source,
                    "session_id": &conversation.session_id,
                    "channel": &conversation.channel,
                    "contact": &conversation.contact,
                },
                "ticket_id": ticket_id,
                "comment": {
                    "id": comment.id,
                    "body": comment.plain_body.clone().or(comment.body.clone()).unwrap_or_default(),
                    "html_body": comment.html_body,
                    "created_at": when.to_rfc3339(),
                },
                "agent": agent,
            }
        }),
    };
    let job = NewJob::new(
        REPLY_DELIVERY_JOB,
        OUTBOUND_QUEUE,
        json!(args),
        state.clock.now(),
    )
    .max_attempts(state.worker.max_attempts)
    .unique_key(format!("{REPLY_DELIVERY_JOB}:{ticket_id}:{}", comment.id))
    .ordering_key(format!(
        "reply:{}:{}",
        conversation.source, conversation.session_id
    ));
    state
        .store
        .enqueue(job, state.clock.now())
        .await
        .map_err(store_err)?;
    state.queue_signals.notify(OUTBOUND_QUEUE);
    conversation.status.agent_replied(author_id);
    state
        .store
        .save_conversation(conversation, state.clock.now())
        .await
        .map_err(store_err)?;
    metrics::counter!("deskline_replies_total", "outcome" => "queued").increment(1);
    handled(
        state,
        &handled_key,
        format!(
            "comment {} queued for delivery on {}",
            comment.id, conversation.channel
        ),
    )
    .await
}

/// Records that a comment was dealt with, so a redelivered webhook or a retried job cannot
/// act on it twice, and says what was done.
async fn handled(state: &AppState, key: &str, text: String) -> Result<String, JobOutcome> {
    state
        .store
        .put_link(REPLY_HANDLED_LINK, key, &text, state.clock.now())
        .await
        .map_err(store_err)?;
    Ok(text)
}

/// Who replied, from the directory (no Zendesk request).
async fn agent_summary(state: &AppState, author_id: u64) -> Result<Value, JobOutcome> {
    let id = i64::try_from(author_id).unwrap_or(i64::MAX);
    let agent = state
        .store
        .agent_by_zendesk_id(id)
        .await
        .map_err(store_err)?;
    Ok(match agent {
        Some(a) => json!({"id": author_id, "name": a.name, "email": a.email}),
        None => json!({"id": author_id}),
    })
}
