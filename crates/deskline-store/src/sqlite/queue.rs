//! The job lifecycle: claiming due jobs and moving them between states.
//!
//! Every transition is one `UPDATE … WHERE id = ? AND state IN (…)`: the state check and the
//! change are atomic, so two workers (or a worker and an operator) cannot both win. When the
//! update matches nothing, a second read explains why (no such job, or the wrong state).

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::codec::{get_state, job_columns, jobs_from_rows, ts};
use crate::error::StoreError;
use crate::types::{Job, JobId, JobState};

/// Recorded when the rescuer takes a job back from a worker that vanished.
const RESCUED: &str = "rescued: worker stopped without finishing";

/// The claim query.
///
/// The inner SELECT picks due jobs of the queue in claim order, skipping any job that has an
/// earlier (lower id) unfinished job with the same ordering key: that is what makes one call's
/// jobs run one at a time, in order, even across several claims in one batch (the later job
/// sees the earlier one still available). SQLite runs the UPDATE under the database's single
/// write lock, so no job can be handed to two claimers; Postgres gets the same guarantee from
/// `FOR UPDATE SKIP LOCKED` in the inner SELECT.
///
/// Every part is an index walk that stops after `limit` claimable rows (`job_claimable` in
/// claim order, `job_ordering_open` for the ordering check), so a claim costs the same with
/// 100 or 1,000,000 jobs waiting. The pause test names no column of `j`: SQLite evaluates it
/// once, before the walk, instead of once per waiting job (which, with the queue paused, was
/// a scan of the whole backlog under the write lock).
const CLAIM: &str = concat!(
    "UPDATE job
     SET state = 'running', attempt = attempt + 1, attempted_at = $1, attempted_by = $2,
         heartbeat_at = $1
     WHERE id IN (
         SELECT j.id FROM job AS j
         WHERE j.queue = $3
           AND j.state IN ('available', 'retryable')
           AND j.scheduled_at <= $1
           AND NOT EXISTS (
               SELECT 1 FROM queue_pause AS p WHERE p.queue = $3 AND p.paused_until > $1)
           AND (j.ordering_key IS NULL OR NOT EXISTS (
               SELECT 1 FROM job AS earlier
               WHERE earlier.ordering_key = j.ordering_key
                 AND earlier.id < j.id
                 AND earlier.state NOT IN ('completed', 'discarded', 'cancelled')))
         ORDER BY j.priority, j.scheduled_at, j.id
         LIMIT $4)
     RETURNING ",
    job_columns!()
);

/// Claims up to `limit` due jobs of `queue` for `worker_id`.
pub(super) async fn claim(
    pool: &SqlitePool,
    queue: &str,
    limit: u32,
    now: DateTime<Utc>,
    worker_id: &str,
) -> Result<Vec<Job>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // A read, so a paused queue never takes the write lock at all; the UPDATE checks the
    // pause again, in case it began in between.
    if super::jobs::queue_paused_until(pool, queue, now)
        .await?
        .is_some()
    {
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
    // RETURNING does not promise any order; hand jobs out in the order they were picked.
    jobs.sort_by(|a, b| {
        (a.priority, a.scheduled_at, a.id).cmp(&(b.priority, b.scheduled_at, b.id))
    });
    Ok(jobs)
}

/// running → completed.
pub(super) async fn complete(
    pool: &SqlitePool,
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
    pool: &SqlitePool,
    job_id: JobId,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<JobState, StoreError> {
    // One statement decides between retry and dead letter from the row's own counters, so the
    // decision cannot race with another update.
    let row = sqlx::query(
        "UPDATE job SET
             state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
             scheduled_at = CASE WHEN attempt >= max_attempts THEN scheduled_at ELSE $2 END,
             finalized_at = CASE WHEN attempt >= max_attempts THEN $3 ELSE NULL END,
             errors = json_insert(errors, '$[#]',
                 json_object('at', $3, 'attempt', attempt, 'error', $4))
         WHERE id = $1 AND state = 'running'
         RETURNING state",
    )
    .bind(job_id.0)
    .bind(ts(retry_at))
    .bind(ts(now))
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
    pool: &SqlitePool,
    job_id: JobId,
    until: DateTime<Utc>,
    reason: &str,
) -> Result<(), StoreError> {
    // SET expressions all see the row as it was: `attempt > 1` means earlier attempts failed,
    // so the job goes back to retryable rather than looking brand new.
    let done = sqlx::query(
        "UPDATE job SET
             state = CASE WHEN attempt > 1 THEN 'retryable' ELSE 'available' END,
             attempt = MAX(attempt - 1, 0),
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
    pool: &SqlitePool,
    job_id: JobId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE job SET
             state = 'discarded',
             finalized_at = $3,
             errors = json_insert(errors, '$[#]',
                 json_object('at', $3, 'attempt', attempt, 'error', $2))
         WHERE id = $1 AND state IN ('available', 'running', 'retryable')",
    )
    .bind(job_id.0)
    .bind(reason)
    .bind(ts(now))
    .execute(pool)
    .await?;
    ensure_changed(pool, done.rows_affected(), job_id, "discard").await
}

/// available/retryable/discarded → cancelled. A running job cannot be cancelled: its worker
/// would finish the work anyway, and the state would then lie.
pub(super) async fn cancel(
    pool: &SqlitePool,
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

/// discarded/cancelled/retryable → available now, with its attempts reset. The error history
/// stays: it is the audit trail of why an operator had to step in.
pub(super) async fn retry_now(
    pool: &SqlitePool,
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
    pool: &SqlitePool,
    renewed_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE job SET
             state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
             scheduled_at = $2,
             finalized_at = CASE WHEN attempt >= max_attempts THEN $2 ELSE NULL END,
             errors = json_insert(errors, '$[#]',
                 json_object('at', $2, 'attempt', attempt, 'error', $3))
         WHERE state = 'running' AND COALESCE(heartbeat_at, attempted_at) < $1",
    )
    .bind(ts(renewed_before))
    .bind(ts(now))
    .bind(RESCUED)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Ok when the transition changed the job; otherwise the reason it could not.
async fn ensure_changed(
    pool: &SqlitePool,
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
async fn explain_miss(pool: &SqlitePool, job_id: JobId, action: &'static str) -> StoreError {
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

#[cfg(test)]
mod tests {
    use super::CLAIM;
    use crate::sqlite::SqliteStore;

    /// The claim's plan, one detail line per step, from `EXPLAIN QUERY PLAN`.
    async fn plan(store: &SqliteStore) -> Vec<String> {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {CLAIM}"))
                .bind("2025-03-01T09:00:00.000000Z")
                .bind("w")
                .bind("zendesk")
                .bind(4_i64)
                .fetch_all(&store.pool)
                .await
                .expect("explain the claim");
        rows.into_iter().map(|r| r.3).collect()
    }

    #[tokio::test]
    async fn the_claim_walks_indexes_and_never_scans_the_job_table() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(dir.path().join("d.db"))
            .await
            .expect("open");
        let steps = plan(&store).await;
        let text = steps.join("\n");
        assert!(
            steps
                .iter()
                .all(|s| !s.starts_with("SCAN j") && !s.starts_with("SCAN job")),
            "a full scan of the job table:\n{text}"
        );
        assert!(
            text.contains("SEARCH j USING INDEX job_claimable"),
            "the claimable jobs come from job_claimable:\n{text}"
        );
        assert!(
            text.contains("SEARCH earlier USING COVERING INDEX job_ordering_open")
                || text.contains("SEARCH earlier USING INDEX job_ordering_open"),
            "the ordering check reads unfinished jobs only:\n{text}"
        );
        assert!(
            !text.contains("TEMP B-TREE"),
            "the index gives the claim order, no sort:\n{text}"
        );
        store.close().await;
    }
}
