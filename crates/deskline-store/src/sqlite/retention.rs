//! Retention: removing finished work after its period, one bounded batch per transaction.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::codec::ts;
use super::BEGIN_WRITE;
use crate::error::StoreError;
use crate::types::Pruned;

/// The jobs one batch removes: completed or cancelled before the cutoff, oldest first. Dead
/// letters (discarded) stay until an operator retries or cancels them.
const PRUNABLE_JOBS: &str = "SELECT id FROM job
     WHERE state IN ('completed', 'cancelled') AND finalized_at < $1
     ORDER BY finalized_at, id
     LIMIT $2";

/// Removes up to `batch` finished jobs with their attempts, then up to `batch` events received
/// before the cutoff that no job refers to any more, in one short write transaction.
pub(super) async fn prune(
    pool: &SqlitePool,
    finished_before: DateTime<Utc>,
    batch: u32,
) -> Result<Pruned, StoreError> {
    if batch == 0 {
        return Ok(Pruned::default());
    }
    let cutoff = ts(finished_before);
    let limit = i64::from(batch);
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    // Both statements select the same rows: the write lock is held from BEGIN IMMEDIATE, so
    // nothing changes between them.
    let attempts = sqlx::query(&format!(
        "DELETE FROM attempt WHERE job_id IN ({PRUNABLE_JOBS})"
    ))
    .bind(&cutoff)
    .bind(limit)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let jobs = sqlx::query(&format!("DELETE FROM job WHERE id IN ({PRUNABLE_JOBS})"))
        .bind(&cutoff)
        .bind(limit)
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
             LIMIT $2)",
    )
    .bind(&cutoff)
    .bind(limit)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Pruned {
        jobs,
        attempts,
        events,
    })
}
