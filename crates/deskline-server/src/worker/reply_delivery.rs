//! The `reply_delivery` job: one agent reply POSTed to the outbound connector that serves the
//! conversation's channel, signed with the Standard Webhooks headers (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`). Failures retry with backoff and end in the dead
//! letter, from where `deskline jobs retry` sends them again.
//!
//! The message id is stable per reply, so a connector that saw a delivery whose answer was lost
//! recognises the retry as the same message.

use deskline_store::Job;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use standardwebhooks::Webhook;

use super::JobOutcome;
use crate::state::AppState;

/// The job kind.
pub const REPLY_DELIVERY_JOB: &str = "reply_delivery";
/// The queue of deliveries to connectors, apart from Zendesk's so that a Zendesk rate limit
/// does not hold replies back (and a slow connector does not hold Zendesk work back).
pub const OUTBOUND_QUEUE: &str = "outbound";
/// Most of a connector's error answer kept in the job's history.
const MAX_ANSWER_CHARS: usize = 300;

/// The job's arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplyDeliveryArgs {
    /// The conversation's source.
    pub source: String,
    /// The conversation's session id.
    pub session_id: String,
    /// The channel the reply goes out on (picks the connector).
    pub channel: String,
    /// The Zendesk ticket.
    pub ticket_id: u64,
    /// The Zendesk comment.
    pub comment_id: u64,
    /// The JSON body sent.
    pub payload: Value,
}

/// The Standard Webhooks message id of a reply.
pub fn message_id(ticket_id: u64, comment_id: u64) -> String {
    format!("msg_deskline_{ticket_id}_{comment_id}")
}

/// Runs one `reply_delivery` job.
pub async fn run(state: &AppState, job: &Job) -> JobOutcome {
    let args: ReplyDeliveryArgs = match super::job_args(job) {
        Ok(a) => a,
        Err(unreadable) => return unreadable,
    };
    let Some(connector) = state.connectors.for_channel(&args.channel) else {
        return JobOutcome::Discard(format!(
            "no connector serves channel {:?}: add a [connectors.NAME] table with channels = [{:?}] (or [\"*\"]) and retry this job",
            args.channel, args.channel
        ));
    };
    let body = match serde_json::to_vec(&args.payload) {
        Ok(b) => b,
        Err(e) => return JobOutcome::Discard(format!("the reply cannot be encoded: {e}")),
    };
    let signer = match Webhook::new(&connector.secret) {
        Ok(s) => s,
        Err(_) => {
            return JobOutcome::Discard(format!(
                "connector {:?} has an unreadable secret (checked at start, so the configuration changed)",
                connector.name
            ))
        }
    };
    let id = message_id(args.ticket_id, args.comment_id);
    // Signed at each attempt: receivers reject old timestamps (five minutes by default).
    let timestamp = state.clock.now().timestamp();
    let signature = match signer.sign(&id, timestamp, &body) {
        Ok(s) => s,
        Err(e) => return JobOutcome::Discard(format!("the reply cannot be signed: {e}")),
    };
    let sent = state
        .outbound
        .post(&connector.url)
        .timeout(connector.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(a) => a,
        Err(e) => {
            return JobOutcome::Retry(format!(
                "connector {:?} could not be reached: {}",
                connector.name,
                without_url(&e)
            ))
        }
    };
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    if status.is_success() {
        metrics::counter!("deskline_replies_total", "outcome" => "delivered").increment(1);
        return JobOutcome::Done(format!(
            "reply {} delivered to connector {:?} ({status})",
            args.comment_id, connector.name
        ));
    }
    let text: String = answer
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(MAX_ANSWER_CHARS)
        .collect();
    let what = format!("connector {:?} answered {status}: {text}", connector.name);
    match status.as_u16() {
        429 => match retry_after {
            Some(secs) if secs > 0 => JobOutcome::Snooze {
                until: state.clock.now() + chrono::Duration::seconds(secs.min(3600)),
                reason: what,
                pause_queue: false,
            },
            _ => JobOutcome::Retry(what),
        },
        408 | 409 | 425 => JobOutcome::Retry(what),
        // The receiver refuses this message as it is (bad signature, unknown conversation):
        // retrying unchanged would fail the same way; after a fix, retry it from the dead letter.
        400..=499 => JobOutcome::Discard(what),
        _ => JobOutcome::Retry(what),
    }
}

/// A request error without the URL, which may carry credentials in its query.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<connector URL>");
    }
    if e.is_timeout() {
        text = format!("timed out ({text})");
    }
    text
}
