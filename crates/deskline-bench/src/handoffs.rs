//! `handoffs`: AI and chat handoffs → Zendesk tickets, and agents' public replies → the
//! customer's channel, against the sandbox. The sandbox is provisioned as `deskline zendesk
//! provision` does (the replies trigger and webhooks), and one connector serving every channel
//! points at a receiver in this process that timestamps each delivery.
//!
//! Phases, one after the other on one service:
//!
//! 1. `new contacts`: `--new` handoffs, each from a contact Zendesk has never seen (requester
//!    by email with `create_or_update`, the ticket, the transcript);
//! 2. `replies, one at a time`: an agent (Priya, in the sandbox's Agent Workspace: a PUT with
//!    her password, which fires the provisioned trigger) replies publicly on those tickets,
//!    each reply sent once the previous one was delivered: latency without a queue;
//! 3. `replies, burst`: `--replies` replies sent at once by `--agents` clients: latency with a
//!    backlog, and deliveries per second;
//! 4. `joining`: `--joining` handoffs from the contacts of phase 1 (new sessions, the contacts
//!    in turn) while their tickets are open, so each joins its contact's ticket.
//!
//! Replies come before the joining phase so that both fit Zendesk's ticket-update limit with
//! little waiting: Zendesk allows 100 ticket updates a minute per account (Enterprise), and the
//! sandbox counts its agents' updates there too. Before each phase the benchmark waits, when
//! the phase's updates would not fit, for the sandbox's current ticket-update window to close,
//! so that its own agents never meet a 429. deskline keeps no budget of its own for that limit,
//! so a joining phase of more than 100 handoffs shows what a 429 does.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use clap::Args;
use deskline_server::config::{ConnectorConfig, HandoffConfig, SourceConfig, SourceKind};
use deskline_store::{Job, JobFilter, JobId, JobState, MAX_LIST_LIMIT};
use serde_json::{json, Value};
use zendesk_sandbox::SandboxConfig;

use crate::harness::{last_seq, Harness, Setup};
use crate::stats::{last_job_id, percentile, purpose, table, RequestCounts};

/// The handoff source's name.
const SOURCE: &str = "assistant";
/// The handoff source's shared secret.
const SOURCE_SECRET: &str = "benchmark-handoff-secret";
/// The connector's Standard Webhooks secret (32 bytes, base64).
const CONNECTOR_SECRET: &str = "whsec_ZGVza2xpbmUtYmVuY2gtY29ubmVjdG9yLXNlY3JldCE=";
/// A seeded sandbox agent and the password the sandbox gives every agent.
const AGENT_EMAIL: &str = "priya.sharma@sandbox.test";
const AGENT_PASSWORD: &str = "agent-password";
/// The sandbox's ticket-update window (Zendesk counts ticket updates per minute).
const UPDATE_WINDOW: Duration = Duration::from_secs(60);
/// The handoff job's kind.
const HANDOFF_JOB: &str = "handoff_ticket";

/// Options of `handoffs`.
#[derive(Args, Debug, Clone)]
pub struct HandoffsArgs {
    /// Handoffs from new contacts (each needs one create_or_update, which deskline sends at
    /// most once per 1.1 s); at least 1, since the other phases use their tickets.
    #[arg(long, default_value_t = 20)]
    pub new: usize,
    /// Handoffs from returning contacts (those of the first phase, in turn) that join their
    /// open tickets. More than 100 exceeds Zendesk's ticket updates per minute.
    #[arg(long, default_value_t = 100)]
    pub joining: usize,
    /// Agent replies sent one at a time, each once the previous one was delivered.
    #[arg(long, default_value_t = 20)]
    pub spaced_replies: usize,
    /// Agent replies sent at once by `--agents` clients.
    #[arg(long, default_value_t = 50)]
    pub replies: usize,
    /// Concurrent agent clients in the reply burst.
    #[arg(long, default_value_t = 4)]
    pub agents: usize,
    /// Concurrent clients posting handoffs.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// `worker.concurrency` (deskline's default is 4).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Account budget in requests per minute, for the sandbox and the client alike. High by
    /// default so this measures deskline and the endpoint limits, not the plan.
    #[arg(long, default_value_t = 100_000)]
    pub rpm: u32,
}

// --- the loopback connector receiver ---------------------------------------------------------

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Delivery {
    /// When it arrived.
    at: Instant,
    /// The reply's key (`[key]` at the start of the comment), if readable.
    key: Option<String>,
    /// The Standard Webhooks message id.
    message_id: String,
}

/// The AI platform's reply endpoint: records every delivery and answers 200.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    /// Starts the receiver on a loopback port; returns it, its URL and its server task.
    async fn start() -> anyhow::Result<(Receiver, String, tokio::task::JoinHandle<()>)> {
        let receiver = Receiver::default();
        let app = Router::new()
            .route("/replies", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/replies", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((receiver, url, task))
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// When the first delivery of `key` arrived.
    fn delivered(&self, key: &str) -> Option<Instant> {
        self.got
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|d| d.key.as_deref() == Some(key))
            .map(|d| d.at)
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let key = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["data"]["comment"]["body"].as_str().and_then(reply_key));
    let message_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    r.got
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Delivery {
            at,
            key,
            message_id,
        });
    StatusCode::OK
}

/// The key of a reply written by [`reply_text`].
fn reply_key(body: &str) -> Option<String> {
    let rest = body.trim_start().strip_prefix('[')?;
    rest.split_once(']').map(|(k, _)| k.to_string())
}

fn reply_text(key: &str) -> String {
    format!("[{key}] Hi, I have refunded the duplicate charge; it shows in 3 to 5 days.")
}

// --- what is posted --------------------------------------------------------------------------

/// A handoff of session `session` from contact `contact` (the shape `deskline test-handoff`
/// posts: a full contact, a timed transcript, a session link, tags and extra customData).
fn handoff(session: &str, contact: usize, turn: usize) -> Value {
    let order = 1000 + contact;
    let at = |s: usize| {
        format!(
            "2026-11-20T10:{:02}:{:02}Z",
            (turn * 3 + s / 60) % 60,
            s % 60
        )
    };
    json!({
        "sessionId": session,
        "contact": {
            "name": format!("Bench Contact {contact}"),
            "email": format!("contact-{contact:05}@bench.example"),
            "externalId": format!("cust-{contact:05}"),
        },
        "channel": "WhatsApp",
        "summary": format!("Customer was charged twice for order {order} and wants a refund."),
        "transcript": [
            {"role": "user", "text": format!("I was charged twice for order {order}"), "at": at(0)},
            {"role": "assistant", "text": "I can see two charges. Let me find a colleague.", "at": at(9)},
            {"role": "user", "text": format!("Thanks, message {turn} of this conversation"), "at": at(30)},
        ],
        "language": "en",
        "sentiment": "neutral",
        "mode": "handed_off",
        "sessionLink": format!("https://ai.example/sessions/{session}"),
        "customData": {"dataCapture.systemField.tags": "billing, double charge", "plan": "pro"},
    })
}

fn serialised(handoffs: &[Value]) -> Vec<Vec<u8>> {
    handoffs
        .iter()
        .map(|h| serde_json::to_vec(h).expect("a JSON value serialises"))
        .collect()
}

// --- Zendesk requests and the ticket-update window -------------------------------------------

/// `METHOD /path` with numeric segments as `{id}` and query values dropped.
fn template(method: &str, path: &str) -> String {
    let (bare, query) = path.split_once('?').unwrap_or((path, ""));
    let bare: Vec<&str> = bare
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    let keys: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or(p))
        .collect();
    if keys.is_empty() {
        format!("{method} {}", bare.join("/"))
    } else {
        format!("{method} {}?{}", bare.join("/"), keys.join("&"))
    }
}

/// Requests by method and path template.
fn by_template(entries: &[Value]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in entries {
        let t = template(
            e["method"].as_str().unwrap_or(""),
            e["path"].as_str().unwrap_or(""),
        );
        *out.entry(t).or_default() += 1;
    }
    out
}

fn is_update(e: &Value) -> bool {
    purpose(
        e["method"].as_str().unwrap_or(""),
        e["path"].as_str().unwrap_or(""),
    ) == "ticket_update"
}

/// The sandbox's latest ticket-update window, rebuilt from the request log as the sandbox
/// keeps it (a window opens with the first admitted update after the previous one closed):
/// when it opened and how many updates it admitted.
fn update_window(entries: &[Value]) -> Option<(chrono::DateTime<chrono::FixedOffset>, u32)> {
    let window = chrono::Duration::from_std(UPDATE_WINDOW).unwrap_or(chrono::Duration::minutes(1));
    let mut current: Option<(chrono::DateTime<chrono::FixedOffset>, u32)> = None;
    for e in entries {
        if !is_update(e) || e["status"].as_u64() == Some(429) {
            continue;
        }
        let Some(at) = e["at"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        else {
            continue;
        };
        current = match current {
            Some((opened, used)) if at < opened + window => Some((opened, used + 1)),
            _ => Some((at, 1)),
        };
    }
    current
}

/// Waits, when `needed` more ticket updates would not fit the sandbox's current window, until
/// that window has closed. Returns the time waited.
async fn make_room_for_updates(h: &Harness, needed: usize, limit: u32) -> anyhow::Result<Duration> {
    let entries = h.requests_since(0).await?;
    let Some((opened, used)) = update_window(&entries) else {
        return Ok(Duration::ZERO);
    };
    let needed = u32::try_from(needed).unwrap_or(u32::MAX);
    if used.saturating_add(needed) <= limit {
        return Ok(Duration::ZERO);
    }
    let closes = opened.with_timezone(&chrono::Utc)
        + chrono::Duration::from_std(UPDATE_WINDOW + Duration::from_millis(500))
            .unwrap_or(chrono::Duration::minutes(1));
    let wait = (closes - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    if !wait.is_zero() {
        println!(
            "  (waiting {:.1} s for the sandbox's ticket-update window to close: {used} of {limit} used, {needed} needed)",
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
    }
    Ok(wait)
}

// --- jobs --------------------------------------------------------------------------------------

/// Every job of `kind` with an id above `after`.
async fn jobs_of_kind(h: &Harness, kind: &str, after: i64) -> anyhow::Result<Vec<Job>> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = h
            .store
            .list_jobs(&JobFilter {
                kind: Some(kind.to_string()),
                limit: MAX_LIST_LIMIT,
                after_id: Some(JobId(cursor)),
                ..JobFilter::default()
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        cursor = last.id.0;
        out.extend(page);
    }
}

/// Waits until `n` jobs of `kind` above `after` exist and are all completed; fails on one in
/// the dead letter or after `limit`.
async fn wait_for_kind(
    h: &Harness,
    kind: &str,
    after: i64,
    n: usize,
    limit: Duration,
) -> anyhow::Result<Vec<Job>> {
    let deadline = Instant::now() + limit;
    loop {
        let jobs = jobs_of_kind(h, kind, after).await?;
        if let Some(dead) = jobs.iter().find(|j| j.state == JobState::Discarded) {
            bail!(
                "{kind} job {} went to the dead letter: {:?}",
                dead.id.0,
                dead.last_error()
            );
        }
        let done = jobs
            .iter()
            .filter(|j| j.state == JobState::Completed)
            .count();
        if jobs.len() >= n && done == jobs.len() {
            return Ok(jobs);
        }
        if Instant::now() > deadline {
            bail!("{done} of {n} {kind} jobs completed within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until no job is waiting, running or retrying; fails on one in the dead letter.
async fn wait_idle(h: &Harness, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let jobs = h.jobs().await?;
        let n = |s: JobState| jobs.get(&s).copied().unwrap_or(0);
        if n(JobState::Discarded) > 0 {
            bail!("{} job(s) went to the dead letter", n(JobState::Discarded));
        }
        if n(JobState::Available) + n(JobState::Running) + n(JobState::Retryable) == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("jobs did not settle within {limit:?}: {jobs:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// --- handoff phases --------------------------------------------------------------------------

/// What one handoff phase measured.
struct HandoffPhase {
    name: &'static str,
    handoffs: usize,
    elapsed: Duration,
    tickets_created: u64,
    requests: RequestCounts,
    by_template: BTreeMap<String, u64>,
    /// Handoff acknowledged → job completed, sorted, in milliseconds.
    e2e_ms: Vec<f64>,
    waited_for_window: Duration,
}

impl HandoffPhase {
    fn per_second(&self) -> f64 {
        self.handoffs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn per_handoff(&self) -> f64 {
        self.requests.for_calls() as f64 / self.handoffs.max(1) as f64
    }

    fn row(&self) -> Vec<String> {
        let r = &self.requests;
        vec![
            self.name.to_string(),
            self.handoffs.to_string(),
            format!("{:.2}", self.elapsed.as_secs_f64()),
            format!("{:.2}", self.per_second()),
            self.tickets_created.to_string(),
            r.for_calls().to_string(),
            format!("{:.3}", self.per_handoff()),
            r.get("user_create").to_string(),
            r.get("ticket_lookup").to_string(),
            r.get("ticket_create").to_string(),
            r.get("ticket_show").to_string(),
            r.get("ticket_update").to_string(),
            r.rate_limited.to_string(),
            format!("{:.0}", percentile(&self.e2e_ms, 50.0)),
            format!("{:.0}", percentile(&self.e2e_ms, 95.0)),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "phase": self.name, "handoffs": self.handoffs,
            "seconds": self.elapsed.as_secs_f64(), "handoffs_per_second": self.per_second(),
            "tickets_created": self.tickets_created,
            "requests_per_handoff": self.per_handoff(),
            "requests": self.requests.json(), "requests_by_path": self.by_template,
            "handoff_to_done_p50_ms": percentile(&self.e2e_ms, 50.0),
            "handoff_to_done_p95_ms": percentile(&self.e2e_ms, 95.0),
            "handoff_to_done_max_ms": self.e2e_ms.last().copied().unwrap_or(0.0),
            "waited_for_update_window_seconds": self.waited_for_window.as_secs_f64(),
        })
    }
}

async fn tickets_in_sandbox(h: &Harness) -> anyhow::Result<u64> {
    let info = h
        .sandbox(reqwest::Method::GET, "/sandbox/info", None)
        .await?;
    Ok(info["counts"]["tickets"].as_u64().unwrap_or(0))
}

/// Posts `handoffs` at once with `concurrency` clients and waits until each one's job has
/// completed.
async fn handoff_phase(
    h: &Harness,
    name: &'static str,
    handoffs: Vec<Value>,
    concurrency: usize,
    seq: &mut u64,
    waited_for_window: Duration,
) -> anyhow::Result<HandoffPhase> {
    let n = handoffs.len();
    let bodies = Arc::new(serialised(&handoffs));
    let url = format!("{}/hooks/{SOURCE}", h.base);
    let http = h.http.clone();
    let make: crate::load::MakeRequest = Arc::new(move |i| {
        http.post(&url)
            .header("X-Deskline-Secret", SOURCE_SECRET)
            .header("content-type", "application/json")
            .body(bodies[i].clone())
    });
    let tickets_before = tickets_in_sandbox(h).await?;
    let job0 = last_job_id(h.store.as_ref()).await?;
    let started = Instant::now();
    let posted =
        crate::load::run(n, concurrency, make, |s| s == reqwest::StatusCode::ACCEPTED).await;
    anyhow::ensure!(
        posted.errors == 0,
        "{name}: {} handoff(s) were not accepted as new",
        posted.errors
    );
    let jobs = wait_for_kind(h, HANDOFF_JOB, job0, n, Duration::from_secs(600)).await?;
    let elapsed = started.elapsed();
    // Status changes of the new tickets reach deskline as zendesk_event jobs; let them finish
    // so that nothing of this phase is counted in the next.
    wait_idle(h, Duration::from_secs(120)).await?;
    let entries = h.requests_since(*seq).await?;
    *seq = last_seq(&entries, *seq);
    let mut e2e_ms: Vec<f64> = jobs
        .iter()
        .filter_map(|j| {
            let done = j.finalized_at?;
            Some((done - j.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        })
        .collect();
    e2e_ms.sort_by(f64::total_cmp);
    Ok(HandoffPhase {
        name,
        handoffs: n,
        elapsed,
        tickets_created: tickets_in_sandbox(h).await?.saturating_sub(tickets_before),
        requests: RequestCounts::of(&entries),
        by_template: by_template(&entries),
        e2e_ms,
        waited_for_window,
    })
}

// --- reply phases ----------------------------------------------------------------------------

/// One agent reply as sent.
struct Sent {
    key: String,
    /// When the PUT was sent and when its answer had been read.
    sent: Instant,
    returned: Instant,
    /// 429 answers before it was accepted.
    refused: u32,
}

/// An agent's public reply on `ticket`, as the Agent Workspace sends it; retried after a 429
/// (the sandbox's ticket-update limits count agents too), at most five times.
async fn agent_reply(
    http: &reqwest::Client,
    sandbox_url: &str,
    ticket: u64,
    key: String,
) -> anyhow::Result<Sent> {
    let body = json!({"ticket": {"comment": {"body": reply_text(&key), "public": true}}});
    let mut refused = 0;
    loop {
        let sent = Instant::now();
        let r = http
            .put(format!("{sandbox_url}/api/v2/tickets/{ticket}"))
            .basic_auth(AGENT_EMAIL, Some(AGENT_PASSWORD))
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let answer = r.bytes().await?;
        let returned = Instant::now();
        if status.is_success() {
            return Ok(Sent {
                key,
                sent,
                returned,
                refused,
            });
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS && refused < 5 {
            refused += 1;
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(5).max(1))).await;
            continue;
        }
        bail!(
            "the agent's reply on ticket {ticket} was answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
}

/// Waits until the receiver has `key`; its arrival time.
async fn delivered(receiver: &Receiver, key: &str, limit: Duration) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(at) = receiver.delivered(key) {
            return Ok(at);
        }
        if Instant::now() > deadline {
            bail!("reply {key} was not delivered within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What one reply phase measured.
struct ReplyPhase {
    name: &'static str,
    replies: usize,
    /// First PUT sent → last delivery.
    elapsed: Duration,
    /// Delivery − the agent's PUT returned, sorted, in milliseconds.
    latency_ms: Vec<f64>,
    /// Deliveries that arrived before the agent's PUT had returned (counted as 0 ms).
    early: usize,
    /// Deliveries received (a retry would be counted twice) and distinct message ids.
    received: usize,
    distinct_messages: usize,
    /// deskline's requests (the agents' PUTs taken out).
    requests: RequestCounts,
    by_template: BTreeMap<String, u64>,
    agent_puts: u64,
    agent_refused: u64,
    waited_for_window: Duration,
}

impl ReplyPhase {
    fn per_second(&self) -> f64 {
        self.replies as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn per_reply(&self) -> f64 {
        self.requests.for_calls() as f64 / self.replies.max(1) as f64
    }

    fn max_ms(&self) -> f64 {
        self.latency_ms.last().copied().unwrap_or(0.0)
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.name.to_string(),
            self.replies.to_string(),
            self.received.to_string(),
            format!("{:.2}", self.elapsed.as_secs_f64()),
            format!("{:.1}", self.per_second()),
            format!("{:.0}", percentile(&self.latency_ms, 50.0)),
            format!("{:.0}", percentile(&self.latency_ms, 95.0)),
            format!("{:.0}", self.max_ms()),
            self.requests.for_calls().to_string(),
            format!("{:.3}", self.per_reply()),
            self.requests.get("comment_list").to_string(),
            self.requests.rate_limited.to_string(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "phase": self.name, "replies": self.replies, "received": self.received,
            "distinct_messages": self.distinct_messages,
            "seconds": self.elapsed.as_secs_f64(), "deliveries_per_second": self.per_second(),
            "latency_p50_ms": percentile(&self.latency_ms, 50.0),
            "latency_p95_ms": percentile(&self.latency_ms, 95.0),
            "latency_max_ms": self.max_ms(),
            "delivered_before_put_returned": self.early,
            "deskline_requests_per_reply": self.per_reply(),
            "deskline_requests": self.requests.json(),
            "requests_by_path_with_agent_puts": self.by_template,
            "agent_puts": self.agent_puts, "agent_puts_refused_429": self.agent_refused,
            "waited_for_update_window_seconds": self.waited_for_window.as_secs_f64(),
        })
    }
}

/// Sends `n` replies on `tickets` (in turn, from `offset`) with `agents` clients, or one at a
/// time waiting for each delivery when `spaced`, and measures delivery latency.
#[allow(clippy::too_many_arguments)]
async fn reply_phase(
    h: &Harness,
    receiver: &Receiver,
    name: &'static str,
    tickets: &Arc<Vec<u64>>,
    offset: usize,
    n: usize,
    agents: usize,
    spaced: bool,
    seq: &mut u64,
    waited_for_window: Duration,
) -> anyhow::Result<ReplyPhase> {
    let prefix = if spaced { "spaced" } else { "burst" };
    let ticket_for = |i: usize| tickets[(offset + i) % tickets.len()];
    let before = receiver.deliveries().len();
    let mut sent: Vec<Sent> = Vec::with_capacity(n);
    let started = Instant::now();
    if spaced {
        for i in 0..n {
            let key = format!("{prefix}-{i:05}");
            let s = agent_reply(&h.http, &h.sandbox_url, ticket_for(i), key).await?;
            delivered(receiver, &s.key, Duration::from_secs(60)).await?;
            sent.push(s);
        }
    } else {
        let next = Arc::new(AtomicUsize::new(0));
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..agents.max(1) {
            let client = BurstClient {
                http: h.http.clone(),
                sandbox_url: h.sandbox_url.clone(),
                tickets: tickets.clone(),
                offset,
                n,
                next: next.clone(),
            };
            clients.spawn(client.run());
        }
        while let Some(done) = clients.join_next().await {
            sent.extend(done.context("an agent client panicked")??);
        }
    }
    let mut latency_ms = Vec::with_capacity(n);
    let mut early = 0;
    let mut last = started;
    for s in &sent {
        let at = delivered(receiver, &s.key, Duration::from_secs(300)).await?;
        if at < s.returned {
            early += 1;
        }
        latency_ms.push(millis(at.saturating_duration_since(s.returned)));
        last = last.max(at);
    }
    let first_sent = sent.iter().map(|s| s.sent).min().unwrap_or(started);
    let elapsed = last.saturating_duration_since(first_sent);
    latency_ms.sort_by(f64::total_cmp);
    wait_idle(h, Duration::from_secs(120)).await?;
    let entries = h.requests_since(*seq).await?;
    *seq = last_seq(&entries, *seq);
    let agent_refused: u64 = sent.iter().map(|s| u64::from(s.refused)).sum();
    let agent_puts = sent.len() as u64 + agent_refused;
    let mut requests = RequestCounts::of(&entries);
    // The agents' PUTs are in the log too; what is left is deskline's.
    if let Some(updates) = requests.by_purpose.get_mut("ticket_update") {
        *updates = updates.saturating_sub(agent_puts);
    }
    requests.by_purpose.retain(|_, n| *n > 0);
    requests.rate_limited = requests.rate_limited.saturating_sub(agent_refused);
    let got: Vec<Delivery> = receiver.deliveries().into_iter().skip(before).collect();
    let distinct: std::collections::BTreeSet<&str> =
        got.iter().map(|d| d.message_id.as_str()).collect();
    Ok(ReplyPhase {
        name,
        replies: n,
        elapsed,
        latency_ms,
        early,
        received: got.len(),
        distinct_messages: distinct.len(),
        requests,
        by_template: by_template(&entries),
        agent_puts,
        agent_refused,
        waited_for_window,
    })
}

/// One agent client of the burst.
struct BurstClient {
    http: reqwest::Client,
    sandbox_url: String,
    tickets: Arc<Vec<u64>>,
    offset: usize,
    n: usize,
    next: Arc<AtomicUsize>,
}

impl BurstClient {
    /// Takes the next reply until `n` have been sent.
    async fn run(self) -> anyhow::Result<Vec<Sent>> {
        let mut out = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.n {
                return Ok(out);
            }
            let ticket = self.tickets[(self.offset + i) % self.tickets.len()];
            let key = format!("burst-{i:05}");
            out.push(agent_reply(&self.http, &self.sandbox_url, ticket, key).await?);
        }
    }
}

/// Comments on `ticket` in the sandbox, following cursor pages.
async fn comments_on(h: &Harness, ticket: u64) -> anyhow::Result<usize> {
    let mut path = format!("/api/v2/tickets/{ticket}/comments?page[size]=100");
    let mut n = 0;
    loop {
        let page = h.sandbox(reqwest::Method::GET, &path, None).await?;
        n += page["comments"].as_array().map_or(0, Vec::len);
        let next = page["links"]["next"]
            .as_str()
            .and_then(|u| u.strip_prefix(h.sandbox_url.as_str()));
        match next {
            Some(next) if page["meta"]["has_more"] == true => path = next.to_string(),
            _ => return Ok(n),
        }
    }
}

// --- the run ---------------------------------------------------------------------------------

/// Runs the handoffs benchmark.
pub async fn run(args: HandoffsArgs) -> anyhow::Result<()> {
    let new = args.new.max(1);
    let setup = Setup {
        sandbox: SandboxConfig {
            rate_limit_per_minute: Some(args.rpm),
            ..SandboxConfig::default()
        },
        requests_per_minute: args.rpm,
        workers: args.workers,
    };
    let update_limit = setup.sandbox.plan.ticket_updates_per_minute();
    let (receiver, receiver_url, receiver_task) = Receiver::start().await?;
    let h = Harness::start_with(&setup, |config| {
        let mut source = SourceConfig::myoperator(Some(SOURCE_SECRET.to_string()));
        source.kind = SourceKind::Handoff;
        source.handoff = Some(HandoffConfig::default());
        config.sources.insert(SOURCE.to_string(), source);
        config.connectors.insert(
            "chat".to_string(),
            ConnectorConfig {
                url: receiver_url.clone(),
                secret: CONNECTOR_SECRET.to_string(),
                channels: vec!["*".to_string()],
                timeout: Duration::from_secs(10),
            },
        );
    })
    .await?;
    h.provision().await?;
    let startup_log = h.requests_since(0).await?;
    let mut seq = last_seq(&startup_log, 0);

    // 1. New contacts.
    let first: Vec<Value> = (0..new)
        .map(|c| handoff(&format!("new-{c:05}"), c, 0))
        .collect();
    let waited = make_room_for_updates(&h, new, update_limit).await?;
    let new_phase = handoff_phase(
        &h,
        "new contacts",
        first,
        args.concurrency,
        &mut seq,
        waited,
    )
    .await?;
    let mut tickets = Vec::with_capacity(new);
    for c in 0..new {
        let conversation = h
            .store
            .get_conversation(SOURCE, &format!("new-{c:05}"))
            .await?
            .with_context(|| format!("no conversation for session new-{c:05}"))?;
        tickets.push(
            conversation
                .ticket_id
                .with_context(|| format!("session new-{c:05} has no ticket"))?,
        );
    }
    let tickets = Arc::new(tickets);

    // 2 and 3. Replies (the agents' own updates must fit the ticket-update window).
    let waited =
        make_room_for_updates(&h, args.spaced_replies + args.replies, update_limit).await?;
    let spaced = reply_phase(
        &h,
        &receiver,
        "replies, one at a time",
        &tickets,
        0,
        args.spaced_replies,
        1,
        true,
        &mut seq,
        waited,
    )
    .await?;
    let burst = reply_phase(
        &h,
        &receiver,
        "replies, burst",
        &tickets,
        args.spaced_replies,
        args.replies,
        args.agents,
        false,
        &mut seq,
        Duration::ZERO,
    )
    .await?;

    // 4. Returning contacts join their open tickets.
    let again: Vec<Value> = (0..args.joining)
        .map(|j| handoff(&format!("join-{j:05}"), j % new, 1 + j / new))
        .collect();
    let waited =
        make_room_for_updates(&h, args.joining.min(update_limit as usize), update_limit).await?;
    let join_phase =
        handoff_phase(&h, "joining", again, args.concurrency, &mut seq, waited).await?;
    // Every handoff and reply left exactly one comment: summary and transcript on each new
    // ticket, one per joining handoff and one per agent reply (checked after the measurement).
    let mut comments = 0;
    for t in tickets.iter() {
        comments += comments_on(&h, *t).await?;
    }
    let expected_comments = 2 * new + args.joining + args.spaced_replies + args.replies;
    let budget = h
        .http
        .get(format!("{}/admin/queue", h.base))
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .send()
        .await?
        .json::<Value>()
        .await
        .unwrap_or(Value::Null);

    println!(
        "handoffs: worker.concurrency {}, {} posting clients, budget {} requests/min, sandbox {} plan ({update_limit} ticket updates/min)",
        args.workers,
        args.concurrency,
        args.rpm,
        setup.sandbox.plan.name()
    );
    let mut rows = vec![[
        "phase",
        "handoffs",
        "s",
        "handoffs/s",
        "new tickets",
        "requests",
        "req/handoff",
        "user c_o_u",
        "lookup",
        "create",
        "show",
        "update",
        "429",
        "e2e p50 ms",
        "e2e p95 ms",
    ]
    .map(String::from)
    .to_vec()];
    rows.push(new_phase.row());
    rows.push(join_phase.row());
    table(&rows);
    for p in [&new_phase, &join_phase] {
        println!("  {}: requests {:?}", p.name, p.by_template);
    }
    println!(
        "  new contacts: create_or_update is held to one call per 1.1 s, so {new} new contacts take at least {:.1} s",
        (new.saturating_sub(1)) as f64 * 1.1
    );
    println!();
    let mut rows = vec![[
        "phase",
        "replies",
        "received",
        "s",
        "deliveries/s",
        "p50 ms",
        "p95 ms",
        "max ms",
        "requests",
        "req/reply",
        "comment lists",
        "429",
    ]
    .map(String::from)
    .to_vec()];
    rows.push(spaced.row());
    rows.push(burst.row());
    table(&rows);
    for p in [&spaced, &burst] {
        println!(
            "  {}: latency = delivery at the receiver − the agent's PUT returned; {} delivered before the PUT returned; {} distinct message ids; deskline's requests {:?} (log with the {} agent PUTs: {:?})",
            p.name,
            p.early,
            p.distinct_messages,
            p.requests.by_purpose,
            p.agent_puts,
            p.by_template
        );
    }
    println!(
        "  comments on the {} handoff tickets: {comments}, expected {expected_comments} ({})",
        tickets.len(),
        if comments == expected_comments {
            "one per handoff part and per reply"
        } else {
            "MISMATCH"
        }
    );
    let startup = RequestCounts::of(&startup_log);
    println!(
        "  at start, not counted above: {} preflight, directory-sync and provisioning requests {:?}",
        startup_log.len(),
        by_template(&startup_log)
    );
    println!(
        "{}",
        json!({
            "bench": "handoffs", "workers": args.workers, "concurrency": args.concurrency,
            "agents": args.agents, "requests_per_minute": args.rpm,
            "ticket_updates_per_minute": update_limit,
            "handoff_phases": [new_phase.json(), join_phase.json()],
            "reply_phases": [spaced.json(), burst.json()],
            "startup_requests": startup.json(),
            "comments": comments, "expected_comments": expected_comments,
            "client_budget": budget["zendesk_budget"],
        })
    );
    h.stop().await;
    receiver_task.abort();
    Ok(())
}
