//! The job lifecycle: claiming due jobs and moving them between states.
//!
//! As in SQLite, every transition is one `UPDATE … WHERE id = $1 AND state IN (…)`: the state
//! check and the change are atomic under the row lock, so two workers (or a worker and an
//! operator) cannot both win.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::codec::{get_state, jobs_from_rows, ts, ts_text};
use crate::error::StoreError;
use crate::types::{Job, JobId, JobState};

/// Recorded when the rescuer takes a job back from a worker that vanished.
const RESCUED: &str = "rescued: worker stopped without finishing";

/// The claim query: SQLite's, with the picked rows locked `FOR UPDATE SKIP LOCKED` so
/// concurrent claimers (of any instance) pass over each other's rows instead of waiting or
/// taking the same job. MATERIALIZED keeps the pick a single scan, evaluated once.
///
/// Ordering keys stay safe under concurrency: a later job of a key is skipped while its earlier
/// job is unfinished in the claimer's snapshot, and a row whose state another claimer changed
/// meanwhile is re-checked against the WHERE clause when it is locked.
const CLAIM: &str = "WITH picked AS MATERIALIZED (
         SELECT j.id FROM job AS j
         WHERE j.queue = $3
           AND j.state IN ('available', 'retryable')
           AND j.scheduled_at <= $1
           AND NOT EXISTS (
               SELECT 1 FROM queue_pause AS p WHERE p.queue = j.queue AND p.paused_until > $1)
           AND (j.ordering_key IS NULL OR NOT EXISTS (
               SELECT 1 FROM job AS earlier
               WHERE earlier.ordering_key = j.ordering_key
                 AND earlier.id < j.id
                 AND earlier.state NOT IN ('completed', 'discarded', 'cancelled')))
         ORDER BY j.priority, j.scheduled_at, j.id
         LIMIT $4
         FOR UPDATE OF j SKIP LOCKED)
     UPDATE job
     SET state = 'running', attempt = job.attempt + 1, attempted_at = $1, attempted_by = $2,
         heartbeat_at = $1
     FROM picked
     WHERE job.id = picked.id
     RETURNING job.*";

/// Claims up to `limit` due jobs of `queue` for `worker_id`.
pub(super) async fn claim(
    pool: &PgPool,
    queue: &str,
    limit: u32,
    now: DateTime<Utc>,
    worker_id: &str,
) -> Result<Vec<Job>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(CLAIM)
        .bind(ts(now))
        .bind(worker_id)
        .bind(queue)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    let mut jobs = jobs_from_rows(&rows)?;
    jobs.sort_by(|a, b| {
        (a.priority, a.scheduled_at, a.id).cmp(&(b.priority, b.scheduled_at, b.id))
    });
    Ok(jobs)
}

/// running → completed.
pub(super) async fn complete(
    pool: &PgPool,
    job_id: JobId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE job SET state = 'completed', finalized_at = $2
         WHERE id = $1 AND state = 'running'",
    )
    .bind(job_id.0)
    .bind(ts(now))
    .execute(pool)
    .await?;
    ensure_changed(pool, done.rows_affected(), job_id, "complete").await
}

/// running → retryable at `retry_at`, or → discarded when the attempts are spent.
pub(super) async fn retry(
    pool: &PgPool,
    job_id: JobId,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<JobState, StoreError> {
    let row = sqlx::query(
        "UPDATE job SET
             state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
             scheduled_at = CASE WHEN attempt >= max_attempts THEN scheduled_at ELSE $2 END,
             finalized_at = CASE WHEN attempt >= max_attempts THEN $3 ELSE NULL END,
             errors = errors || jsonb_build_array(
                 jsonb_build_object('at', $4::text, 'attempt', attempt, 'error', $5::text))
         WHERE id = $1 AND state = 'running'
         RETURNING state",
    )
    .bind(job_id.0)
    .bind(ts(retry_at))
    .bind(ts(now))
    .bind(ts_text(now))
    .bind(error)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => get_state(&row, "state"),
        None => Err(explain_miss(pool, job_id, "retry").await),
    }
}

/// running → available/retryable at `until`, giving back the attempt the claim took.
pub(super) async fn snooze(
    pool: &PgPool,
    job_id: JobId,
    until: DateTime<Utc>,
    reason: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE job SET
             state = CASE WHEN attempt > 1 THEN 'retryable' ELSE 'available' END,
             attempt = GREATEST(attempt - 1, 0),
             scheduled_at = $2,
             snoozes = snoozes + 1,
             snooze_reason = $3
         WHERE id = $1 AND state = 'running'",
    )
    .bind(job_id.0)
    .bind(ts(until))
    .bind(reason)
    .execute(pool)
    .await?;
    ensure_changed(pool, done.rows_affected(), job_id, "snooze").await
}

/// available/running/retryable → discarded, the reason appended to the job's errors.
pub(super) async fn discard(
    pool: &PgPool,
    job_id: JobId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE job SET
             state = 'discarded',
             finalized_at = $3,
             errors = errors || jsonb_build_array(
                 jsonb_build_object('at', $4::text, 'attempt', attempt, 'error', $2::text))
         WHERE id = $1 AND state IN ('available', 'running', 'retryable')",
    )
    .bind(job_id.0)
    .bind(reason)
    .bind(ts(now))
    .bind(ts_text(now))
    .execute(pool)
    .await?;
    ensure_changed(pool, done.rows_affected(), job_id, "discard").await
}

/// available/retryable/discarded → cancelled.
pub(super) async fn cancel(
    pool: &PgPool,
    job_id: JobId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE job SET state = 'cancelled', finalized_at = $2
         WHERE id = $1 AND state IN ('available', 'retryable', 'discarded')",
    )
    .bind(job_id.0)
    .bind(ts(now))
    .execute(pool)
    .await?;
    ensure_changed(pool, done.rows_affected(), job_id, "cancel").await
}

/// discarded/cancelled/retryable → available now, with its attempts reset; the error history
/// stays as the audit trail.
pub(super) async fn retry_now(
    pool: &PgPool,
    job_id: JobId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE job SET state = 'available', attempt = 0, scheduled_at = $2, finalized_at = NULL
         WHERE id = $1 AND state IN ('discarded', 'cancelled', 'retryable')",
    )
    .bind(job_id.0)
    .bind(ts(now))
    .execute(pool)
    .await?;
    ensure_changed(pool, done.rows_affected(), job_id, "retry").await
}

/// Running jobs whose lease was last renewed before the cutoff → retryable now (or discarded
/// when their attempts are spent).
pub(super) async fn rescue(
    pool: &PgPool,
    renewed_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE job SET
             state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
             scheduled_at = $2,
             finalized_at = CASE WHEN attempt >= max_attempts THEN $2 ELSE NULL END,
             errors = errors || jsonb_build_array(
                 jsonb_build_object('at', $3::text, 'attempt', attempt, 'error', $4::text))
         WHERE state = 'running' AND COALESCE(heartbeat_at, attempted_at) < $1",
    )
    .bind(ts(renewed_before))
    .bind(ts(now))
    .bind(ts_text(now))
    .bind(RESCUED)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Ok when the transition changed the job; otherwise the reason it could not.
async fn ensure_changed(
    pool: &PgPool,
    rows_affected: u64,
    job_id: JobId,
    action: &'static str,
) -> Result<(), StoreError> {
    if rows_affected > 0 {
        Ok(())
    } else {
        Err(explain_miss(pool, job_id, action).await)
    }
}

/// Why a transition matched no row: the job is missing or in a state that forbids `action`.
async fn explain_miss(pool: &PgPool, job_id: JobId, action: &'static str) -> StoreError {
    let state: Result<Option<String>, sqlx::Error> =
        sqlx::query_scalar("SELECT state FROM job WHERE id = $1")
            .bind(job_id.0)
            .fetch_optional(pool)
            .await;
    match state {
        Err(err) => err.into(),
        Ok(None) => StoreError::NotFound {
            what: "job",
            id: job_id.0,
        },
        Ok(Some(state)) => match state.parse::<JobState>() {
            Ok(state) => StoreError::InvalidState {
                job_id,
                state,
                action,
            },
            Err(err) => StoreError::Corrupt(err),
        },
    }
}
