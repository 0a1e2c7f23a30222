//! Retention: removing finished work after its period, one bounded batch per transaction.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::codec::ts;
use crate::error::StoreError;
use crate::types::Pruned;

/// Removes up to `batch` finished jobs with their attempts, then up to `batch` events received
/// before the cutoff that no job refers to any more, in one short transaction.
pub(super) async fn prune(
    pool: &PgPool,
    finished_before: DateTime<Utc>,
    batch: u32,
) -> Result<Pruned, StoreError> {
    if batch == 0 {
        return Ok(Pruned::default());
    }
    let cutoff = ts(finished_before);
    let limit = i64::from(batch);
    let mut tx = pool.begin().await?;
    // Unlike SQLite, other writers run meanwhile: the doomed jobs are picked and locked once,
    // so an operator's retry of a cancelled job either waits for this batch or is skipped by it.
    let jobs: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM job
         WHERE state IN ('completed', 'cancelled') AND finalized_at < $1
         ORDER BY finalized_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let attempts = sqlx::query("DELETE FROM attempt WHERE job_id = ANY($1)")
        .bind(&jobs)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let pruned_jobs = sqlx::query("DELETE FROM job WHERE id = ANY($1)")
        .bind(&jobs)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // An event goes once none of its jobs is left: every one was finished and pruned (an event
    // with a dead letter or pending work keeps its body, which the retry needs).
    let events = sqlx::query(
        "DELETE FROM inbound_event WHERE id IN (
             SELECT e.id FROM inbound_event AS e
             WHERE e.received_at < $1
               AND NOT EXISTS (SELECT 1 FROM job AS j WHERE j.event_id = e.id)
             ORDER BY e.received_at, e.id
             LIMIT $2
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(cutoff)
    .bind(limit)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Pruned {
        jobs: pruned_jobs,
        attempts,
        events,
    })
}
