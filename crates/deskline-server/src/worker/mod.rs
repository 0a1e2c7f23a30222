//! The worker: claims jobs, runs them, and records what happened. A job's failure is
//! classified once, here: rate limits pause the queue for every worker and snooze the job
//! without spending an attempt; transient failures retry with backoff; permanent ones go to
//! the dead letter with a reason a person can act on.

pub mod call_events;
pub mod call_ticket;
pub mod directory;
pub mod handoff_ticket;
pub mod reply_delivery;
pub mod reply_sync;
mod requester;
mod threading;
pub mod voice_correlation;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deskline_store::{AttemptOutcome, Job, JobState, NewAttempt, StoreError};
use deskline_zendesk::ZendeskError;
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::state::AppState;

/// What running a job came to.
#[derive(Debug)]
pub enum JobOutcome {
    /// Finished; the text says what was done.
    Done(String),
    /// Failed in a way that may pass: retry after backoff.
    Retry(String),
    /// Not now: try again at `until` without spending an attempt; optionally pause the queue.
    Snooze {
        /// When to try again.
        until: DateTime<Utc>,
        /// Why.
        reason: String,
        /// Whether every worker should wait (a rate limit), not just this job.
        pause_queue: bool,
    },
    /// Will never succeed as it is: to the dead letter.
    Discard(String),
}

impl JobOutcome {
    /// Classifies a Zendesk failure.
    pub fn from_zendesk(e: &ZendeskError, now: DateTime<Utc>) -> JobOutcome {
        if let Some(wait) = e.retry_after() {
            let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(10));
            return JobOutcome::Snooze {
                until: now + wait,
                reason: e.to_string(),
                pause_queue: true,
            };
        }
        if e.is_permanent() {
            JobOutcome::Discard(e.to_string())
        } else {
            JobOutcome::Retry(e.to_string())
        }
    }

    /// A storage failure is retried: the database may be busy or briefly unavailable.
    pub fn from_store(e: &StoreError) -> JobOutcome {
        JobOutcome::Retry(format!("storage: {e}"))
    }
}

/// Classifies a Zendesk failure as of now, the moment it was answered: a `Retry-After` counts
/// from then, not from when the job started (which may be long before, behind the client's
/// rate budget).
pub(crate) fn zendesk_failure(state: &AppState, e: &ZendeskError) -> JobOutcome {
    JobOutcome::from_zendesk(e, state.clock.now())
}

/// Called before each Zendesk request of a running job: when another job met a 429 meanwhile,
/// the queue is paused, and this job must not send either. It is snoozed until the pause ends,
/// without spending an attempt.
pub(crate) async fn wait_for_pause(state: &AppState, queue: &str) -> Result<(), JobOutcome> {
    let pause = state
        .store
        .queue_paused_until(queue, state.clock.now())
        .await
        .map_err(|e| JobOutcome::from_store(&e))?;
    match pause {
        None => Ok(()),
        Some(p) => Err(JobOutcome::Snooze {
            until: p.paused_until,
            reason: format!("queue paused: {}", p.reason),
            pause_queue: false,
        }),
    }
}

/// The job's arguments as `T`; unreadable arguments can never run.
pub(crate) fn job_args<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobOutcome> {
    serde_json::from_value(job.args.clone())
        .map_err(|e| JobOutcome::Discard(format!("the job's arguments are unreadable: {e}")))
}

/// The configured source a job belongs to; a source removed from the configuration sends its
/// jobs to the dead letter, to be retried once it is back.
pub(crate) fn configured_source<'s>(
    state: &'s AppState,
    name: &str,
) -> Result<&'s crate::state::Source, JobOutcome> {
    state.sources.get(name).ok_or_else(|| {
        JobOutcome::Discard(format!(
            "source {name:?} is no longer configured; add it back and retry the job"
        ))
    })
}

/// The stored event a job was queued for; a job without one, or whose event is gone, can
/// never run.
pub(crate) async fn stored_event(
    state: &AppState,
    job: &Job,
) -> Result<deskline_store::InboundEvent, JobOutcome> {
    let event_id = job
        .event_id
        .ok_or_else(|| JobOutcome::Discard("the job has no stored event".into()))?;
    state
        .store
        .get_event(event_id)
        .await
        .map_err(|e| JobOutcome::from_store(&e))?
        .ok_or_else(|| JobOutcome::Discard(format!("event {event_id} is missing from the store")))
}

/// `PUT`s `update` on a ticket once the queue is not paused, classifying a failure.
pub(crate) async fn update_ticket(
    state: &AppState,
    queue: &str,
    ticket_id: u64,
    update: &deskline_zendesk::TicketUpdate,
) -> Result<(), JobOutcome> {
    wait_for_pause(state, queue).await?;
    state
        .zendesk
        .update_ticket(ticket_id, update)
        .await
        .map(|_| ())
        .map_err(|e| zendesk_failure(state, &e))
}

/// Runs one claimed job.
async fn run_job(state: &AppState, job: &Job) -> JobOutcome {
    match job.kind.as_str() {
        call_ticket::CALL_TICKET_JOB => call_ticket::run(state, job).await,
        handoff_ticket::HANDOFF_TICKET_JOB => handoff_ticket::run(state, job).await,
        crate::zendesk_hook::ZENDESK_EVENT_JOB => reply_sync::run(state, job).await,
        reply_delivery::REPLY_DELIVERY_JOB => reply_delivery::run(state, job).await,
        crate::zendesk_hook::VOICE_CORRELATION_JOB => voice_correlation::run(state, job).await,
        other => JobOutcome::Discard(format!("unknown job kind {other:?}")),
    }
}

/// The delay before attempt `attempt + 1`, exponential with jitter.
fn backoff(state: &AppState, attempt: u32) -> chrono::Duration {
    let jitter: f64 = rand::thread_rng().gen();
    let d = deskline_store::retry_delay(
        attempt,
        state.worker.backoff_base,
        state.worker.backoff_cap,
        0.5,
        jitter,
    );
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

/// Records the outcome in the store; returns an error only when the store fails.
async fn settle(
    state: &AppState,
    job: &Job,
    outcome: JobOutcome,
    started: DateTime<Utc>,
    took: Duration,
) -> Result<(), StoreError> {
    let store = &state.store;
    let now = state.clock.now();
    let (attempt_outcome, summary) = match &outcome {
        JobOutcome::Done(s) => (AttemptOutcome::Succeeded, s.clone()),
        JobOutcome::Retry(s) => (AttemptOutcome::Failed, s.clone()),
        JobOutcome::Snooze { reason, .. } => (AttemptOutcome::Snoozed, reason.clone()),
        JobOutcome::Discard(s) => (AttemptOutcome::Discarded, s.clone()),
    };
    if let JobOutcome::Snooze {
        until,
        reason,
        pause_queue: true,
    } = &outcome
    {
        // First, so that jobs still running see the pause before their next request.
        tracing::warn!(queue = %job.queue, %until, %reason, "pausing the queue");
        store.pause_queue(&job.queue, *until, reason).await?;
    }
    store
        .record_attempt(NewAttempt {
            job_id: job.id,
            attempt: job.attempt,
            started_at: started,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            outcome: attempt_outcome,
            http_status: None,
            request_summary: Some(job.kind.clone()),
            response_summary: Some(summary),
        })
        .await?;
    let kind = job.kind.clone();
    match outcome {
        JobOutcome::Done(summary) => {
            tracing::info!(job = %job.id, kind = %job.kind, %summary, "job completed");
            metrics::counter!("deskline_jobs_total", "kind" => kind, "outcome" => "completed")
                .increment(1);
            store.complete(job.id, now).await
        }
        JobOutcome::Retry(error) => {
            let at = now + backoff(state, job.attempt);
            let state_after = store.retry(job.id, &error, at, now).await?;
            let outcome = if state_after == JobState::Discarded {
                "discarded"
            } else {
                "retried"
            };
            tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, %error, outcome, "job failed");
            metrics::counter!("deskline_jobs_total", "kind" => kind, "outcome" => outcome)
                .increment(1);
            Ok(())
        }
        JobOutcome::Snooze { until, reason, .. } => {
            metrics::counter!("deskline_jobs_total", "kind" => kind, "outcome" => "snoozed")
                .increment(1);
            store.snooze(job.id, until, &reason).await
        }
        JobOutcome::Discard(reason) => {
            tracing::error!(job = %job.id, kind = %job.kind, %reason, "job discarded to the dead letter");
            metrics::counter!("deskline_jobs_total", "kind" => kind, "outcome" => "discarded")
                .increment(1);
            store.discard(job.id, &reason, now).await
        }
    }
}

async fn run_and_settle(state: AppState, job: Job) {
    let started = state.clock.now();
    let clock = Instant::now();
    let outcome = run_job(&state, &job).await;
    if let Err(e) = settle(&state, &job, outcome, started, clock.elapsed()).await {
        // The job stays `running`; the rescuer hands it back after `rescue_after`.
        tracing::error!(job = %job.id, error = %e, "cannot record a job's outcome");
    }
}

/// Claims and runs jobs of `queue` until `stop` turns true, at most `concurrency` at once.
pub async fn run(
    state: AppState,
    queue: &'static str,
    worker_id: String,
    mut stop: watch::Receiver<bool>,
) {
    let concurrency = state.worker.concurrency.max(1);
    let wake = state.queue_signals.signal(queue);
    let mut running: JoinSet<()> = JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        if let Some(nap) = paused(&state, queue).await {
            // No claim at all while the queue is paused, and no waking up for every job queued
            // meanwhile: a claim would find nothing, yet take the write lock.
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(nap) => {}
            }
            continue;
        }
        let free = concurrency.saturating_sub(running.len());
        let mut claimed = 0;
        if free > 0 {
            let now = state.clock.now();
            match state
                .store
                .claim(queue, u32::try_from(free).unwrap_or(1), now, &worker_id)
                .await
            {
                Ok(jobs) => {
                    claimed = jobs.len();
                    for job in jobs {
                        running.spawn(run_and_settle(state.clone(), job));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot claim jobs"),
            }
        }
        if claimed == 0 {
            tokio::select! {
                _ = stop.changed() => {}
                _ = running.join_next(), if !running.is_empty() => {}
                _ = wake.notified() => {}
                _ = tokio::time::sleep(state.worker.poll_interval) => {}
            }
        }
    }
    // Let jobs in flight finish so their outcome is recorded.
    while running.join_next().await.is_some() {}
}

/// How long to wait before looking at `queue` again when it is paused; `None` when it is not.
/// The wait ends with the pause, but the pause is read again at least every second (or every
/// poll interval, if longer), so one lifted early is noticed; that read takes no write lock.
async fn paused(state: &AppState, queue: &str) -> Option<Duration> {
    let now = state.clock.now();
    match state.store.queue_paused_until(queue, now).await {
        Ok(Some(pause)) => {
            let left = (pause.paused_until - now).to_std().unwrap_or_default();
            let recheck = state.worker.poll_interval.max(Duration::from_secs(1));
            Some(left.min(recheck).max(Duration::from_millis(10)))
        }
        Ok(None) => None,
        Err(e) => {
            // Claiming would fail the same way; try again after a poll interval.
            tracing::error!(error = %e, "cannot read the queue's pause");
            Some(state.worker.poll_interval)
        }
    }
}

/// Returns jobs left `running` by a crashed worker to the queue, every minute (and at start).
pub async fn rescue_periodically(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        let now = state.clock.now();
        let cutoff = now
            - chrono::Duration::from_std(state.worker.rescue_after)
                .unwrap_or(chrono::Duration::minutes(5));
        match state.store.rescue(cutoff, now).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "rescued jobs left running by a stopped worker"),
            Err(e) => tracing::error!(error = %e, "rescuer cannot reach the store"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(60).min(state.worker.rescue_after)) => {}
        }
    }
}
