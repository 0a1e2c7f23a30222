//! The worker: claims jobs, runs them, and records what happened. A job's failure is
//! classified once, here: rate limits pause the queue for every worker and snooze the job
//! without spending an attempt; transient failures retry with backoff; permanent ones go to
//! the dead letter with a reason a person can act on.

pub mod call_events;
pub mod call_ticket;
pub mod directory;
pub mod handoff_ticket;
mod lease;
pub mod reply_delivery;
pub mod reply_sync;
mod requester;
mod threading;
pub mod voice_correlation;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deskline_store::{AttemptOutcome, Job, JobLease, JobState, NewAttempt, Settlement, StoreError};
use deskline_zendesk::ZendeskError;
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::state::AppState;
use lease::HeldJobs;

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
///
/// Failures that are about Zendesk, not the job, spend no attempt: while the breaker is open
/// (Zendesk has failed several requests in a row) the job is snoozed and the queue pauses
/// until the next probe; a connection that could not be made at all is snoozed even before,
/// since no job can cause it. A rejected token pauses the queue and asks for a new check, so
/// calls wait for the fix instead of landing in the dead letter.
pub(crate) fn zendesk_failure(state: &AppState, e: &ZendeskError) -> JobOutcome {
    let now = state.clock.now();
    if e.is_outage() {
        if let Some(open) = state.helpdesk.breaker.open() {
            return JobOutcome::Snooze {
                until: open.next_probe,
                reason: format!(
                    "Zendesk is out ({} failed requests in a row); waiting for it, no attempt \
                     spent: {e}",
                    open.failures
                ),
                pause_queue: true,
            };
        }
        if matches!(e, ZendeskError::Unreachable { .. }) {
            let wait = state.helpdesk.breaker.settings().first_probe;
            return JobOutcome::Snooze {
                until: now
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(5)),
                reason: format!("no attempt spent: {e}"),
                pause_queue: false,
            };
        }
    }
    if matches!(e, ZendeskError::Unauthorized) {
        state.helpdesk.recheck_now();
        let wait = state.helpdesk.recheck_interval;
        return JobOutcome::Snooze {
            until: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(30)),
            reason: e.to_string(),
            pause_queue: true,
        };
    }
    JobOutcome::from_zendesk(e, now)
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

/// Records the outcome in the store under the job's lease; returns an error when the store
/// fails or the lease was lost (then nothing about the job's state was written).
async fn settle(
    state: &AppState,
    job: &Job,
    lease: &JobLease,
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
            store.settle(lease, &Settlement::Complete, now).await?;
            tracing::info!(job = %job.id, kind = %job.kind, %summary, "job completed");
            metrics::counter!("deskline_jobs_total", "kind" => kind, "outcome" => "completed")
                .increment(1);
            Ok(())
        }
        JobOutcome::Retry(error) => {
            let retry_at = now + backoff(state, job.attempt);
            let settlement = Settlement::Retry {
                error: error.clone(),
                retry_at,
            };
            let state_after = store.settle(lease, &settlement, now).await?;
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
            store
                .settle(lease, &Settlement::Snooze { until, reason }, now)
                .await?;
            metrics::counter!("deskline_jobs_total", "kind" => kind, "outcome" => "snoozed")
                .increment(1);
            Ok(())
        }
        JobOutcome::Discard(reason) => {
            store
                .settle(
                    lease,
                    &Settlement::Discard {
                        reason: reason.clone(),
                    },
                    now,
                )
                .await?;
            tracing::error!(job = %job.id, kind = %job.kind, %reason, "job discarded to the dead letter");
            metrics::counter!("deskline_jobs_total", "kind" => kind, "outcome" => "discarded")
                .increment(1);
            Ok(())
        }
    }
}

/// Runs a claimed job while its lease holds, and records the outcome.
async fn run_and_settle(
    state: AppState,
    job: Job,
    lease: JobLease,
    ends: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
    held: Arc<HeldJobs>,
) {
    let started = state.clock.now();
    let clock = Instant::now();
    let outcome = tokio::select! {
        outcome = run_job(&state, &job) => Some(outcome),
        () = lease::lease_ends(ends) => None,
    };
    match outcome {
        // Another worker takes the job over once the lease lapses; a Zendesk request this run
        // had sent carries the same idempotency key as the next attempt's.
        None => {
            tracing::warn!(job = %job.id, attempt = job.attempt, "job stopped: its lease was lost")
        }
        Some(outcome) => {
            match settle(&state, &job, &lease, outcome, started, clock.elapsed()).await {
                Ok(()) => {}
                Err(e @ StoreError::LeaseLost { .. }) => {
                    metrics::counter!("deskline_jobs_total", "kind" => job.kind.clone(), "outcome" => "lease_lost")
                    .increment(1);
                    tracing::warn!(job = %job.id, error = %e, "result dropped: the job was taken over");
                }
                // The job stays `running`; once its lease lapses the rescuer hands it back.
                Err(e) => {
                    tracing::error!(job = %job.id, error = %e, "cannot record a job's outcome")
                }
            }
        }
    }
    held.release(job.id);
}

/// Claims and runs jobs of `queue` until `stop` turns true, at most `concurrency` at once,
/// renewing the leases of the jobs it holds while they run.
pub async fn run(
    state: AppState,
    queue: &'static str,
    worker_id: String,
    mut stop: watch::Receiver<bool>,
) {
    let concurrency = state.worker.concurrency.max(1);
    let keep = lease::keep_for(state.worker.lease);
    let wake = state.queue_signals.signal(queue);
    let held = Arc::new(HeldJobs::default());
    // Aborted when this worker ends, however it ends (a dropped worker must not keep renewing).
    let _heartbeat = AbortOnDrop(tokio::spawn(lease::renew_periodically(
        state.clone(),
        held.clone(),
    )));
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
        let mut free = concurrency.saturating_sub(running.len());
        if queue == call_ticket::ZENDESK_QUEUE && state.helpdesk.breaker.open().is_some() {
            // Half-open: one job probes Zendesk, the rest wait for its answer.
            free = usize::from(running.is_empty());
        }
        let mut claimed = 0;
        if free > 0 {
            let sent = tokio::time::Instant::now();
            let now = state.clock.now();
            match state
                .store
                .claim(queue, u32::try_from(free).unwrap_or(1), now, &worker_id)
                .await
            {
                Ok(jobs) => {
                    claimed = jobs.len();
                    for job in jobs {
                        let lease = JobLease::new(&job, worker_id.as_str());
                        let ends = held.hold(lease.clone(), sent, keep);
                        running.spawn(run_and_settle(
                            state.clone(),
                            job,
                            lease,
                            ends,
                            held.clone(),
                        ));
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
    // Let jobs in flight finish so their outcome is recorded; their leases are renewed meanwhile.
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

/// A task that stops when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
