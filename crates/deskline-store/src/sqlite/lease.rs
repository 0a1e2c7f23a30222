//! Heartbeats and settling a running job under its lease, and the leader lease of periodic
//! work.
//!
//! A worker's outcome is written by one `UPDATE … WHERE id = ? AND state = 'running' AND
//! attempted_by = ? AND attempt = ?`: the lease check and the write are one statement, so a
//! worker whose job was taken over (after its heartbeat lapsed) can never overwrite what the
//! new holder does, however late its answer comes.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Row, SqlitePool};

use super::codec::{get_state, ts};
use crate::error::StoreError;
use crate::types::{JobId, JobLease, JobState, Settlement};

/// Records how the leased attempt ended; returns the job's new state.
pub(super) async fn settle(
    pool: &SqlitePool,
    lease: &JobLease,
    settlement: &Settlement,
    now: DateTime<Utc>,
) -> Result<JobState, StoreError> {
    // $1..$3 identify the lease in every statement; the outcome's values follow.
    let sql = match settlement {
        Settlement::Complete => {
            "UPDATE job SET state = 'completed', finalized_at = $4
             WHERE id = $1 AND state = 'running' AND attempted_by = $2 AND attempt = $3
             RETURNING state"
        }
        // The retry-or-dead-letter decision reads the row's own counters, as `retry` does.
        Settlement::Retry { .. } => {
            "UPDATE job SET
                 state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
                 scheduled_at = CASE WHEN attempt >= max_attempts THEN scheduled_at ELSE $5 END,
                 finalized_at = CASE WHEN attempt >= max_attempts THEN $4 ELSE NULL END,
                 errors = json_insert(errors, '$[#]',
                     json_object('at', $4, 'attempt', attempt, 'error', $6))
             WHERE id = $1 AND state = 'running' AND attempted_by = $2 AND attempt = $3
             RETURNING state"
        }
        Settlement::Snooze { .. } => {
            "UPDATE job SET
                 state = CASE WHEN attempt > 1 THEN 'retryable' ELSE 'available' END,
                 attempt = MAX(attempt - 1, 0),
                 scheduled_at = $5,
                 snoozes = snoozes + 1,
                 snooze_reason = $6
             WHERE id = $1 AND state = 'running' AND attempted_by = $2 AND attempt = $3
             RETURNING state"
        }
        Settlement::Discard { .. } => {
            "UPDATE job SET
                 state = 'discarded',
                 finalized_at = $4,
                 errors = json_insert(errors, '$[#]',
                     json_object('at', $4, 'attempt', attempt, 'error', $6))
             WHERE id = $1 AND state = 'running' AND attempted_by = $2 AND attempt = $3
             RETURNING state"
        }
    };
    // Every statement gets the same six values (unused ones are ignored by SQLite): the
    // lease, now, a time and a text.
    let (when, text) = match settlement {
        Settlement::Complete => (now, ""),
        Settlement::Retry { error, retry_at } => (*retry_at, error.as_str()),
        Settlement::Snooze { until, reason } => (*until, reason.as_str()),
        Settlement::Discard { reason } => (now, reason.as_str()),
    };
    let row = sqlx::query(sql)
        .bind(lease.job_id.0)
        .bind(&lease.worker_id)
        .bind(i64::from(lease.attempt))
        .bind(ts(now))
        .bind(ts(when))
        .bind(text)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => get_state(&row, "state"),
        None => Err(explain_lost(pool, lease, settlement.action()).await),
    }
}

/// Why a settle matched no row: the job is gone, or this lease no longer holds it.
async fn explain_lost(pool: &SqlitePool, lease: &JobLease, action: &'static str) -> StoreError {
    let exists: Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT id FROM job WHERE id = $1")
            .bind(lease.job_id.0)
            .fetch_optional(pool)
            .await;
    match exists {
        Err(err) => err.into(),
        Ok(None) => StoreError::NotFound {
            what: "job",
            id: lease.job_id.0,
        },
        Ok(Some(_)) => StoreError::LeaseLost {
            job_id: lease.job_id,
            worker_id: lease.worker_id.clone(),
            attempt: lease.attempt,
            action,
        },
    }
}

/// Renews the heartbeat of every job still held by its lease; returns those renewed.
pub(super) async fn renew(
    pool: &SqlitePool,
    leases: &[JobLease],
    now: DateTime<Utc>,
) -> Result<Vec<JobId>, StoreError> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let held = json!(leases
        .iter()
        .map(|l| json!([l.job_id.0, l.attempt, l.worker_id]))
        .collect::<Vec<_>>())
    .to_string();
    let rows = sqlx::query(
        "UPDATE job SET heartbeat_at = $1
         WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each($2))
           AND state = 'running'
           AND EXISTS (
               SELECT 1 FROM json_each($2) AS l
               WHERE json_extract(l.value, '$[0]') = job.id
                 AND json_extract(l.value, '$[1]') = job.attempt
                 AND json_extract(l.value, '$[2]') = job.attempted_by)
         RETURNING id",
    )
    .bind(ts(now))
    .bind(held)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok(JobId(row.try_get("id")?)))
        .collect()
}

/// Takes or keeps the lease `name` for `holder` until `expires_at`, unless another holder's
/// lease is still in force at `now`.
pub(super) async fn try_lease(
    pool: &SqlitePool,
    name: &str,
    holder: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // The conflict's WHERE decides in the same statement as the write, so two instances racing
    // for an expired lease cannot both win.
    let won: Option<String> = sqlx::query_scalar(
        "INSERT INTO leader_lease (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leader_lease.holder = excluded.holder OR leader_lease.expires_at <= $4
         RETURNING holder",
    )
    .bind(name)
    .bind(holder)
    .bind(ts(expires_at))
    .bind(ts(now))
    .fetch_optional(pool)
    .await?;
    Ok(won.is_some())
}

/// Gives up the lease `name` if `holder` has it; true if it did.
pub(super) async fn release_lease(
    pool: &SqlitePool,
    name: &str,
    holder: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM leader_lease WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
