//! Writing inbound events with their jobs, and reading events back.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::codec::{get_json, get_ts, ts};
use super::BEGIN_WRITE;
use crate::error::StoreError;
use crate::types::{
    Enqueued, EventFilter, EventId, EventSummary, InboundEvent, Ingested, JobId, NewInboundEvent,
    NewJob, MAX_LIST_LIMIT,
};
use crate::IngestItem;

/// Stores the event and its jobs atomically, or recognises a redelivery.
pub(super) async fn ingest(
    pool: &SqlitePool,
    event: NewInboundEvent,
    jobs: Vec<NewJob>,
) -> Result<Ingested, StoreError> {
    // Dropping `tx` on any early return rolls everything back: an event is never stored
    // without all of its jobs.
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let ingested = ingest_in(&mut tx, &event, &jobs).await?;
    match ingested {
        // Nothing was written: end the transaction without a commit to sync.
        Ingested::Duplicate { .. } => tx.rollback().await?,
        Ingested::Stored { .. } => tx.commit().await?,
    }
    Ok(ingested)
}

/// Stores many deliveries in one write transaction (group commit): one lock, one commit and
/// one WAL sync for the lot, instead of one each. Each item runs inside its own savepoint, so a
/// rejected item is undone alone and the others still commit; a redelivery inside the batch
/// sees the earlier item's row and is a duplicate, as it would be one request later.
pub(super) async fn ingest_batch(
    pool: &SqlitePool,
    items: Vec<IngestItem>,
) -> Vec<Result<Ingested, StoreError>> {
    let count = items.len();
    match write_batch(pool, &items).await {
        Ok(answers) => answers,
        Err(e) => {
            // Nothing of the batch is stored; every item gets the database's reason.
            let problem = e.outage().unwrap_or_else(|| e.to_string());
            (0..count)
                .map(|_| Err(StoreError::Unavailable(problem.clone())))
                .collect()
        }
    }
}

/// The batch's transaction: `Err` when it failed as a whole (nothing committed), else one
/// answer per item.
async fn write_batch(
    pool: &SqlitePool,
    items: &[IngestItem],
) -> Result<Vec<Result<Ingested, StoreError>>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let mut answers = Vec::with_capacity(items.len());
    let mut wrote = false;
    for (event, jobs) in items {
        sqlx::query("SAVEPOINT ingest_item")
            .execute(&mut *tx)
            .await?;
        match ingest_in(&mut tx, event, jobs).await {
            Ok(ingested) => {
                wrote |= matches!(ingested, Ingested::Stored { .. });
                answers.push(Ok(ingested));
            }
            // The database itself failed: the rest would too, and SQLite may have ended the
            // transaction already. Fail the batch; the transaction's drop rolls back.
            Err(e) if e.outage().is_some() => return Err(e),
            Err(e) => {
                sqlx::query("ROLLBACK TO ingest_item")
                    .execute(&mut *tx)
                    .await?;
                answers.push(Err(e));
            }
        }
        sqlx::query("RELEASE ingest_item").execute(&mut *tx).await?;
    }
    if wrote {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(answers)
}

/// Writes one event and its jobs inside the caller's transaction. On `Err` the caller must
/// undo what was written (roll back, or back to its savepoint).
async fn ingest_in(
    conn: &mut SqliteConnection,
    event: &NewInboundEvent,
    jobs: &[NewJob],
) -> Result<Ingested, StoreError> {
    // ON CONFLICT DO NOTHING rather than check-then-insert: the unique index decides between
    // concurrent identical deliveries, here and in Postgres alike.
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO inbound_event
             (source, kind, dedupe_key, received_at, headers, raw_body, normalized)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (source, dedupe_key) DO NOTHING
         RETURNING id",
    )
    .bind(&event.source)
    .bind(&event.kind)
    .bind(&event.dedupe_key)
    .bind(ts(event.received_at))
    .bind(event.headers.to_string())
    .bind(&event.raw_body)
    .bind(event.normalized.to_string())
    .fetch_optional(&mut *conn)
    .await?;

    let Some(event_id) = inserted else {
        let existing: i64 = sqlx::query_scalar(
            "SELECT id FROM inbound_event WHERE source = $1 AND dedupe_key = $2",
        )
        .bind(&event.source)
        .bind(&event.dedupe_key)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(Ingested::Duplicate {
            event_id: EventId(existing),
        });
    };

    let mut job_ids = Vec::with_capacity(jobs.len());
    let mut existing_unique = Vec::new();
    for job in jobs {
        match insert_job(conn, job, Some(event_id), event.received_at).await? {
            Enqueued::Inserted(id) => job_ids.push(id),
            Enqueued::UniqueExists(id) => existing_unique.push(id),
        }
    }
    Ok(Ingested::Stored {
        event_id: EventId(event_id),
        job_ids,
        existing_unique,
    })
}

/// Inserts a job that belongs to no event.
pub(super) async fn enqueue(
    pool: &SqlitePool,
    job: NewJob,
    now: DateTime<Utc>,
) -> Result<Enqueued, StoreError> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let enqueued = insert_job(&mut tx, &job, None, now).await?;
    tx.commit().await?;
    Ok(enqueued)
}

/// Inserts one job inside the caller's transaction, unless its unique key is taken.
async fn insert_job(
    conn: &mut SqliteConnection,
    job: &NewJob,
    event_id: Option<i64>,
    created_at: DateTime<Utc>,
) -> Result<Enqueued, StoreError> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO job
             (kind, queue, args, priority, max_attempts, scheduled_at, unique_key, ordering_key,
              event_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (unique_key) DO NOTHING
         RETURNING id",
    )
    .bind(&job.kind)
    .bind(&job.queue)
    .bind(job.args.to_string())
    .bind(job.priority)
    .bind(i64::from(job.max_attempts))
    .bind(ts(job.scheduled_at))
    .bind(&job.unique_key)
    .bind(&job.ordering_key)
    .bind(event_id)
    .bind(ts(created_at))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok(Enqueued::Inserted(JobId(id)));
    }
    // Only a unique-key conflict makes DO NOTHING skip the row, so the key is set and taken.
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM job WHERE unique_key = $1")
        .bind(&job.unique_key)
        .fetch_optional(&mut *conn)
        .await?;
    existing
        .map(|id| Enqueued::UniqueExists(JobId(id)))
        .ok_or_else(|| StoreError::Corrupt("job insert skipped without a unique conflict".into()))
}

/// One event with its body.
pub(super) async fn get_event(
    pool: &SqlitePool,
    id: EventId,
) -> Result<Option<InboundEvent>, StoreError> {
    let row = sqlx::query(
        "SELECT id, source, kind, dedupe_key, received_at, headers, raw_body, normalized
         FROM inbound_event WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(InboundEvent {
            id: EventId(row.try_get("id")?),
            source: row.try_get("source")?,
            kind: row.try_get("kind")?,
            dedupe_key: row.try_get("dedupe_key")?,
            received_at: get_ts(&row, "received_at")?,
            headers: get_json(&row, "headers")?,
            raw_body: row.try_get("raw_body")?,
            normalized: get_json(&row, "normalized")?,
        })
    })
    .transpose()
}

/// Event summaries matching the filter, by ascending id.
pub(super) async fn list_events(
    pool: &SqlitePool,
    filter: &EventFilter,
) -> Result<Vec<EventSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, source, kind, dedupe_key, received_at FROM inbound_event
         WHERE ($1 IS NULL OR source = $1) AND ($2 IS NULL OR kind = $2) AND id > $3
         ORDER BY id
         LIMIT $4",
    )
    .bind(&filter.source)
    .bind(&filter.kind)
    .bind(filter.after_id.map_or(0, |id| id.0))
    .bind(i64::from(filter.limit.min(MAX_LIST_LIMIT)))
    .fetch_all(pool)
    .await?;
    rows.iter().map(summary_from_row).collect()
}

fn summary_from_row(row: &SqliteRow) -> Result<EventSummary, StoreError> {
    Ok(EventSummary {
        id: EventId(row.try_get("id")?),
        source: row.try_get("source")?,
        kind: row.try_get("kind")?,
        dedupe_key: row.try_get("dedupe_key")?,
        received_at: get_ts(row, "received_at")?,
    })
}
