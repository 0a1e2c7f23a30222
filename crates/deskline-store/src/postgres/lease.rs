//! Heartbeats and settling a running job under its lease, and the leader lease of periodic
//! work, as in the SQLite store.
//!
//! A worker's outcome is one `UPDATE … WHERE id = $1 AND state = 'running' AND attempted_by =
//! $2 AND attempt = $3`: the row lock makes the lease check and the write atomic, so a worker
//! whose job was taken over can never overwrite what the new holder does.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::codec::{get_state, ts, ts_text};
use crate::error::StoreError;
use crate::types::{JobId, JobLease, JobState, Settlement};

/// The lease's three conditions, shared by every settling statement.
const HELD: &str = "id = $1 AND state = 'running' AND attempted_by = $2 AND attempt = $3";

/// Records how the leased attempt ended; returns the job's new state.
pub(super) async fn settle(
    pool: &PgPool,
    lease: &JobLease,
    settlement: &Settlement,
    now: DateTime<Utc>,
) -> Result<JobState, StoreError> {
    // PostgreSQL refuses parameters a statement does not use, so each outcome binds its own.
    let row: Option<PgRow> = match settlement {
        Settlement::Complete => {
            sqlx::query(&format!(
                "UPDATE job SET state = 'completed', finalized_at = $4 WHERE {HELD}
                 RETURNING state"
            ))
            .bind(lease.job_id.0)
            .bind(&lease.worker_id)
            .bind(i64::from(lease.attempt))
            .bind(ts(now))
            .fetch_optional(pool)
            .await?
        }
        // The retry-or-dead-letter decision reads the row's own counters, as `retry` does.
        Settlement::Retry { error, retry_at } => {
            sqlx::query(&format!(
                "UPDATE job SET
                     state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
                     scheduled_at = CASE WHEN attempt >= max_attempts THEN scheduled_at ELSE $5 END,
                     finalized_at = CASE WHEN attempt >= max_attempts THEN $4 ELSE NULL END,
                     errors = errors || jsonb_build_array(jsonb_build_object(
                         'at', $6::text, 'attempt', attempt, 'error', $7::text))
                 WHERE {HELD}
                 RETURNING state"
            ))
            .bind(lease.job_id.0)
            .bind(&lease.worker_id)
            .bind(i64::from(lease.attempt))
            .bind(ts(now))
            .bind(ts(*retry_at))
            .bind(ts_text(now))
            .bind(error)
            .fetch_optional(pool)
            .await?
        }
        Settlement::Snooze { until, reason } => {
            sqlx::query(&format!(
                "UPDATE job SET
                     state = CASE WHEN attempt > 1 THEN 'retryable' ELSE 'available' END,
                     attempt = GREATEST(attempt - 1, 0),
                     scheduled_at = $4,
                     snoozes = snoozes + 1,
                     snooze_reason = $5
                 WHERE {HELD}
                 RETURNING state"
            ))
            .bind(lease.job_id.0)
            .bind(&lease.worker_id)
            .bind(i64::from(lease.attempt))
            .bind(ts(*until))
            .bind(reason)
            .fetch_optional(pool)
            .await?
        }
        Settlement::Discard { reason } => {
            sqlx::query(&format!(
                "UPDATE job SET
                     state = 'discarded',
                     finalized_at = $4,
                     errors = errors || jsonb_build_array(jsonb_build_object(
                         'at', $5::text, 'attempt', attempt, 'error', $6::text))
                 WHERE {HELD}
                 RETURNING state"
            ))
            .bind(lease.job_id.0)
            .bind(&lease.worker_id)
            .bind(i64::from(lease.attempt))
            .bind(ts(now))
            .bind(ts_text(now))
            .bind(reason)
            .fetch_optional(pool)
            .await?
        }
    };
    match row {
        Some(row) => get_state(&row, "state"),
        None => Err(explain_lost(pool, lease, settlement.action()).await),
    }
}

/// Why a settle matched no row: the job is gone, or this lease no longer holds it.
async fn explain_lost(pool: &PgPool, lease: &JobLease, action: &'static str) -> StoreError {
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
    pool: &PgPool,
    leases: &[JobLease],
    now: DateTime<Utc>,
) -> Result<Vec<JobId>, StoreError> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = leases.iter().map(|l| l.job_id.0).collect();
    let attempts: Vec<i64> = leases.iter().map(|l| i64::from(l.attempt)).collect();
    let workers: Vec<String> = leases.iter().map(|l| l.worker_id.clone()).collect();
    let rows = sqlx::query(
        "UPDATE job SET heartbeat_at = $1
         FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS l(id, attempt, worker)
         WHERE job.id = l.id AND job.attempt = l.attempt AND job.attempted_by = l.worker
           AND job.state = 'running'
         RETURNING job.id",
    )
    .bind(ts(now))
    .bind(&ids)
    .bind(&attempts)
    .bind(&workers)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok(JobId(row.try_get("id")?)))
        .collect()
}

/// Takes or keeps the lease `name` for `holder` until `expires_at`, unless another holder's
/// lease is still in force at `now`.
pub(super) async fn try_lease(
    pool: &PgPool,
    name: &str,
    holder: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // The conflict's WHERE is evaluated under the row lock, in the same statement as the
    // write, so two instances racing for an expired lease cannot both win.
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
    pool: &PgPool,
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
