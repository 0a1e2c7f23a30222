//! Writing inbound events with their jobs, and reading events back.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::codec::{get_json, ts};
use super::wake;
use crate::error::StoreError;
use crate::types::{
    Enqueued, EventFilter, EventId, EventSummary, InboundEvent, Ingested, JobId, NewInboundEvent,
    NewJob, MAX_LIST_LIMIT,
};
use crate::IngestItem;

/// The namespace of deskline's ordering-key advisory locks (the first of the two-int form), so
/// they cannot collide with another application's locks on a shared database.
const ORDERING_LOCK_SPACE: i32 = 0x4453_4b4c; // "DSKL"

/// The namespace of the per-delivery advisory locks a batch takes on its events' dedupe keys.
const DEDUPE_LOCK_SPACE: i32 = 0x4453_4b44; // "DSKD"

/// Stores the event and its jobs atomically, or recognises a redelivery.
pub(super) async fn ingest(
    pool: &PgPool,
    event: NewInboundEvent,
    jobs: Vec<NewJob>,
) -> Result<Ingested, StoreError> {
    // Dropping `tx` on any early return rolls everything back: an event is never stored
    // without all of its jobs.
    let mut tx = pool.begin().await?;
    lock_ordering_keys(&mut tx, &jobs).await?;
    let (ingested, inserted) = ingest_in(&mut tx, &event, &jobs).await?;
    match ingested {
        Ingested::Duplicate { .. } => tx.rollback().await?,
        Ingested::Stored { .. } => {
            wake::announce(&mut tx, &inserted).await?;
            tx.commit().await?;
        }
    }
    Ok(ingested)
}

/// Stores many deliveries in one transaction (group commit): one commit, one WAL flush and one
/// `NOTIFY` per queue for the lot. Each item runs inside its own savepoint, so a rejected item
/// is undone alone and the others still commit; a redelivery inside the batch sees the earlier
/// item's row and is a duplicate, as it would be one request later.
pub(super) async fn ingest_batch(
    pool: &PgPool,
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
    pool: &PgPool,
    items: &[IngestItem],
) -> Result<Vec<Result<Ingested, StoreError>>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    // Every lock the batch needs, up front and in one global order, so two batches (or a batch
    // and a single ingest) can only wait for each other, never deadlock. The dedupe-key locks
    // keep two batches holding the same deliveries in different orders from each waiting on
    // the other's uncommitted event row.
    let all_jobs: Vec<NewJob> = items.iter().flat_map(|(_, jobs)| jobs.clone()).collect();
    lock_ordering_keys(&mut tx, &all_jobs).await?;
    lock_dedupe_keys(&mut tx, items).await?;
    let mut answers = Vec::with_capacity(items.len());
    let mut announced: Vec<&NewJob> = Vec::new();
    for (event, jobs) in items {
        sqlx::query("SAVEPOINT ingest_item")
            .execute(&mut *tx)
            .await?;
        match ingest_in(&mut tx, event, jobs).await {
            Ok((ingested, inserted)) => {
                announced.extend(inserted);
                answers.push(Ok(ingested));
            }
            // The database itself failed: the rest would too. Fail the batch; the
            // transaction's drop rolls back.
            Err(e) if e.outage().is_some() => return Err(e),
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT ingest_item")
                    .execute(&mut *tx)
                    .await?;
                answers.push(Err(e));
            }
        }
        sqlx::query("RELEASE SAVEPOINT ingest_item")
            .execute(&mut *tx)
            .await?;
    }
    if answers
        .iter()
        .any(|a| matches!(a, Ok(Ingested::Stored { .. })))
    {
        wake::announce(&mut tx, &announced).await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(answers)
}

/// Writes one event and its jobs inside the caller's transaction, returning the answer and the
/// jobs actually inserted (to announce). On `Err` the caller must undo what was written.
async fn ingest_in<'a>(
    conn: &mut PgConnection,
    event: &NewInboundEvent,
    jobs: &'a [NewJob],
) -> Result<(Ingested, Vec<&'a NewJob>), StoreError> {
    // The unique index decides between concurrent identical deliveries: the second waits for
    // the first to commit, then inserts nothing.
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO inbound_event
             (source, kind, dedupe_key, received_at, headers, raw_body, normalized)
         VALUES ($1, $2, $3, $4, $5::json, $6, $7::json)
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
        // A new statement, so in READ COMMITTED it sees the row the winner committed.
        let existing: i64 = sqlx::query_scalar(
            "SELECT id FROM inbound_event WHERE source = $1 AND dedupe_key = $2",
        )
        .bind(&event.source)
        .bind(&event.dedupe_key)
        .fetch_one(&mut *conn)
        .await?;
        return Ok((
            Ingested::Duplicate {
                event_id: EventId(existing),
            },
            Vec::new(),
        ));
    };

    let mut job_ids = Vec::with_capacity(jobs.len());
    let mut existing_unique = Vec::new();
    let mut inserted = Vec::with_capacity(jobs.len());
    for job in jobs {
        match insert_job(conn, job, Some(event_id), event.received_at).await? {
            Enqueued::Inserted(id) => {
                job_ids.push(id);
                inserted.push(job);
            }
            Enqueued::UniqueExists(id) => existing_unique.push(id),
        }
    }
    Ok((
        Ingested::Stored {
            event_id: EventId(event_id),
            job_ids,
            existing_unique,
        },
        inserted,
    ))
}

/// Inserts a job that belongs to no event.
pub(super) async fn enqueue(
    pool: &PgPool,
    job: NewJob,
    now: DateTime<Utc>,
) -> Result<Enqueued, StoreError> {
    let mut tx = pool.begin().await?;
    lock_ordering_keys(&mut tx, std::slice::from_ref(&job)).await?;
    let enqueued = insert_job(&mut tx, &job, None, now).await?;
    if matches!(enqueued, Enqueued::Inserted(_)) {
        wake::announce(&mut tx, &[&job]).await?;
    }
    tx.commit().await?;
    Ok(enqueued)
}

/// Takes the transaction-level advisory lock of every ordering key among `jobs`, before any
/// insert. Identity values are handed out at insert, not at commit: without the lock a later
/// transaction could commit a higher id of the same key first, and a claimer would run it
/// before the earlier job it must wait for. Keys are locked in sorted order, and before the
/// event row, so two ingests can only wait for each other, never deadlock.
async fn lock_ordering_keys(conn: &mut PgConnection, jobs: &[NewJob]) -> Result<(), StoreError> {
    let mut keys: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.ordering_key.as_deref())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(ORDERING_LOCK_SPACE)
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Takes the transaction-level advisory lock of every delivery (source and dedupe key) in
/// `items`, in sorted order, after the ordering keys.
async fn lock_dedupe_keys(conn: &mut PgConnection, items: &[IngestItem]) -> Result<(), StoreError> {
    let mut keys: Vec<String> = items
        .iter()
        .map(|(event, _)| format!("{}\u{1f}{}", event.source, event.dedupe_key))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(DEDUPE_LOCK_SPACE)
            .bind(&key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Inserts one job inside the caller's transaction, unless its unique key is taken.
async fn insert_job(
    conn: &mut PgConnection,
    job: &NewJob,
    event_id: Option<i64>,
    created_at: DateTime<Utc>,
) -> Result<Enqueued, StoreError> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO job
             (kind, queue, args, priority, max_attempts, scheduled_at, unique_key, ordering_key,
              event_id, created_at)
         VALUES ($1, $2, $3::json, $4, $5, $6, $7, $8, $9, $10)
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
    pool: &PgPool,
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
            received_at: row.try_get("received_at")?,
            headers: get_json(&row, "headers")?,
            raw_body: row.try_get("raw_body")?,
            normalized: get_json(&row, "normalized")?,
        })
    })
    .transpose()
}

/// Event summaries matching the filter, by ascending id.
pub(super) async fn list_events(
    pool: &PgPool,
    filter: &EventFilter,
) -> Result<Vec<EventSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, source, kind, dedupe_key, received_at FROM inbound_event
         WHERE ($1::text IS NULL OR source = $1) AND ($2::text IS NULL OR kind = $2) AND id > $3
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

fn summary_from_row(row: &PgRow) -> Result<EventSummary, StoreError> {
    Ok(EventSummary {
        id: EventId(row.try_get("id")?),
        source: row.try_get("source")?,
        kind: row.try_get("kind")?,
        dedupe_key: row.try_get("dedupe_key")?,
        received_at: row.try_get("received_at")?,
    })
}
