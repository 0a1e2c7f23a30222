//! Reading jobs for the dashboard and admin API, recording attempts, and queue pauses.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::codec::{get_state, get_u32, get_u64, job_from_row, jobs_from_rows, to_i64, ts};
use crate::error::StoreError;
use crate::types::{
    Attempt, AttemptId, AttemptOutcome, EventId, EventRef, Job, JobDetail, JobFilter, JobId,
    JobState, NewAttempt, QueuePause, MAX_LIST_LIMIT,
};

/// Stores one attempt's record.
pub(super) async fn record_attempt(
    pool: &PgPool,
    attempt: NewAttempt,
) -> Result<AttemptId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO attempt
             (job_id, attempt, started_at, duration_ms, outcome, http_status, request_summary,
              response_summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id",
    )
    .bind(attempt.job_id.0)
    .bind(i64::from(attempt.attempt))
    .bind(ts(attempt.started_at))
    .bind(to_i64(attempt.duration_ms))
    .bind(attempt.outcome.as_str())
    .bind(attempt.http_status.map(i64::from))
    .bind(&attempt.request_summary)
    .bind(&attempt.response_summary)
    .fetch_one(pool)
    .await?;
    Ok(AttemptId(id))
}

/// Jobs matching the filter, by ascending id.
pub(super) async fn list_jobs(pool: &PgPool, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM job
         WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR queue = $2)
           AND ($3::text IS NULL OR kind = $3) AND id > $4
         ORDER BY id
         LIMIT $5",
    )
    .bind(filter.state.map(JobState::as_str))
    .bind(&filter.queue)
    .bind(&filter.kind)
    .bind(filter.after_id.map_or(0, |id| id.0))
    .bind(i64::from(filter.limit.min(MAX_LIST_LIMIT)))
    .fetch_all(pool)
    .await?;
    jobs_from_rows(&rows)
}

/// One job with its attempts and its event's identity.
pub(super) async fn get_job(pool: &PgPool, id: JobId) -> Result<Option<JobDetail>, StoreError> {
    let row = sqlx::query("SELECT * FROM job WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let job = job_from_row(&row)?;

    let attempt_rows = sqlx::query(
        "SELECT id, job_id, attempt, started_at, duration_ms, outcome, http_status,
                request_summary, response_summary
         FROM attempt WHERE job_id = $1 ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    let attempts = attempt_rows
        .iter()
        .map(attempt_from_row)
        .collect::<Result<Vec<_>, _>>()?;

    let event = match job.event_id {
        None => None,
        Some(event_id) => sqlx::query("SELECT source, dedupe_key FROM inbound_event WHERE id = $1")
            .bind(event_id.0)
            .fetch_optional(pool)
            .await?
            .map(|row| -> Result<EventRef, StoreError> {
                Ok(EventRef {
                    id: event_id,
                    source: row.try_get("source")?,
                    dedupe_key: row.try_get("dedupe_key")?,
                })
            })
            .transpose()?,
    };
    Ok(Some(JobDetail {
        job,
        attempts,
        event,
    }))
}

fn attempt_from_row(row: &PgRow) -> Result<Attempt, StoreError> {
    let outcome: String = row.try_get("outcome")?;
    let http_status: Option<i64> = row.try_get("http_status")?;
    Ok(Attempt {
        id: AttemptId(row.try_get("id")?),
        job_id: JobId(row.try_get("job_id")?),
        attempt: get_u32(row, "attempt")?,
        started_at: row.try_get("started_at")?,
        duration_ms: get_u64(row, "duration_ms")?,
        outcome: outcome
            .parse::<AttemptOutcome>()
            .map_err(StoreError::Corrupt)?,
        http_status: http_status
            .map(|s| {
                u16::try_from(s).map_err(|_| StoreError::Corrupt(format!("bad HTTP status {s}")))
            })
            .transpose()?,
        request_summary: row.try_get("request_summary")?,
        response_summary: row.try_get("response_summary")?,
    })
}

/// Job counts per state, zeros included.
pub(super) async fn count_jobs_by_state(
    pool: &PgPool,
) -> Result<BTreeMap<JobState, u64>, StoreError> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM job GROUP BY state")
        .fetch_all(pool)
        .await?;
    let mut counts: BTreeMap<JobState, u64> = JobState::ALL.iter().map(|&s| (s, 0)).collect();
    for row in &rows {
        counts.insert(get_state(row, "state")?, get_u64(row, "n")?);
    }
    Ok(counts)
}

/// The jobs of one event, by ascending id.
pub(super) async fn jobs_for_event(
    pool: &PgPool,
    event_id: EventId,
) -> Result<Vec<Job>, StoreError> {
    let rows = sqlx::query("SELECT * FROM job WHERE event_id = $1 ORDER BY id")
        .bind(event_id.0)
        .fetch_all(pool)
        .await?;
    jobs_from_rows(&rows)
}

/// Pauses a queue until `until`, never shortening a pause already in force.
pub(super) async fn pause_queue(
    pool: &PgPool,
    queue: &str,
    until: DateTime<Utc>,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO queue_pause (queue, paused_until, reason) VALUES ($1, $2, $3)
         ON CONFLICT (queue) DO UPDATE SET
             reason = CASE WHEN excluded.paused_until > queue_pause.paused_until
                           THEN excluded.reason ELSE queue_pause.reason END,
             paused_until = GREATEST(queue_pause.paused_until, excluded.paused_until)",
    )
    .bind(queue)
    .bind(ts(until))
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// The pause on `queue` still in force at `now`.
pub(super) async fn queue_paused_until(
    pool: &PgPool,
    queue: &str,
    now: DateTime<Utc>,
) -> Result<Option<QueuePause>, StoreError> {
    let row = sqlx::query(
        "SELECT queue, paused_until, reason FROM queue_pause
         WHERE queue = $1 AND paused_until > $2",
    )
    .bind(queue)
    .bind(ts(now))
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(QueuePause {
            queue: row.try_get("queue")?,
            paused_until: row.try_get("paused_until")?,
            reason: row.try_get("reason")?,
        })
    })
    .transpose()
}
