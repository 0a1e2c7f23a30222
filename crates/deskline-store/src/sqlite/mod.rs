//! The SQLite implementation of [`Store`]: one database file in WAL mode.
//!
//! SQLite allows one writer at a time, which is what makes the claim query safe without
//! `SKIP LOCKED`: every write transaction starts with `BEGIN IMMEDIATE` (or is a single
//! statement), so it takes the write lock before it reads and never works from a stale
//! snapshot. Waiting for the lock is bounded by `busy_timeout`.

mod codec;
mod conversations;
mod directory;
mod events;
mod files;
mod jobs;
mod lease;
mod links;
mod migrations;
mod queue;
mod rate;
mod retention;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::error::StoreError;
use crate::types::*;
use crate::{IngestItem, RateQuota, SchemaPolicy, Store};

/// The statement every multi-statement write transaction starts with: take the write lock
/// first, so a transaction never has to upgrade a read snapshot that another writer moved on.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Longest the health check waits for the write lock: a readiness probe must answer quickly.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// Tuning for [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Connections in the pool (readers run in parallel in WAL mode; writers queue).
    pub max_connections: u32,
    /// How long a statement waits for another writer before failing with "database is
    /// locked".
    pub busy_timeout: Duration,
    /// Whether opening migrates the schema or only checks it.
    pub schema: SchemaPolicy,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            schema: SchemaPolicy::Migrate,
        }
    }
}

/// A [`Store`] in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The health check's own connection, outside the pool: it takes the write lock and
    /// gives it back at once, and is replaced after any failure.
    probe: Arc<tokio::sync::Mutex<Option<SqliteConnection>>>,
    /// How the probe connects: like the pool, with a shorter busy timeout.
    probe_options: SqliteConnectOptions,
}

impl SqliteStore {
    /// Opens (creating it and its directory if missing, for the owner alone) and migrates the
    /// database at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Like [`SqliteStore::open`], with explicit tuning.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            files::create_private_dir(parent)
                .await
                .map_err(|source| StoreError::CreateDir {
                    path: parent.to_path_buf(),
                    source,
                })?;
        }
        files::prepare(path).await?;
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives a process crash; only an OS crash or power
            // loss can drop the last commits, which is the usual trade for queue throughput.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            // Without a limit the WAL file keeps its high-water size after a burst (seen at
            // 150 MiB next to a 12 MiB database in the ingest benchmark).
            .pragma("journal_size_limit", "67108864");
        let probe_options = connect
            .clone()
            .busy_timeout(options.busy_timeout.min(PROBE_WAIT));
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .after_release(|conn, _| Box::pin(reusable(conn)))
            .connect_with(connect)
            .await?;
        match options.schema {
            SchemaPolicy::Migrate => migrations::run(&pool).await?,
            SchemaPolicy::RequireCurrent => {
                let pending = migrations::pending(&pool).await?;
                if !pending.is_empty() {
                    pool.close().await;
                    return Err(StoreError::SchemaBehind { pending });
                }
            }
        }
        Ok(SqliteStore {
            pool,
            probe: Arc::default(),
            probe_options,
        })
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether a connection coming back to the pool may be handed out again: not if it is still
/// inside a transaction.
///
/// sqlx 0.8.6 can let one through. `begin_with("BEGIN IMMEDIATE")` runs the BEGIN, then awaits
/// once more (to confirm the transaction started) before it builds the `Transaction` whose drop
/// rolls back; a caller dropped at that await (a client that hung up, a timeout) leaves the
/// transaction open with nothing to end it. A transaction SQLite ended by itself (after an I/O
/// error) leaves sqlx's depth counter up the same way. The pool's own release check is a ping,
/// so such a connection went back into service holding the write lock: every other writer
/// waited out the busy timeout, and every transaction begun on it failed with "attempted to
/// call begin_with at non-zero transaction depth", until a restart. Closing it instead rolls
/// the transaction back and releases the lock; the pool opens a fresh connection when needed.
async fn reusable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // A dropped `Transaction` only queues its ROLLBACK: let it run before judging.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(
            "a database connection came back inside an unfinished transaction; \
             closing it, which rolls the transaction back"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Takes the write lock and releases it at once, waiting at most the probe's busy timeout.
async fn probe_write_lock(
    slot: &tokio::sync::Mutex<Option<SqliteConnection>>,
    options: &SqliteConnectOptions,
) -> Result<(), StoreError> {
    let mut slot = slot.lock().await;
    let mut conn = match slot.take() {
        Some(conn) => conn,
        None => options.connect().await?,
    };
    sqlx::query(BEGIN_WRITE).execute(&mut conn).await?;
    sqlx::query("ROLLBACK").execute(&mut conn).await?;
    // Kept only after a clean round: a failed one may have left it in any state.
    *slot = Some(conn);
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(
        &self,
        event: NewInboundEvent,
        jobs: Vec<NewJob>,
    ) -> Result<Ingested, StoreError> {
        events::ingest(&self.pool, event, jobs).await
    }

    async fn ingest_batch(&self, items: Vec<IngestItem>) -> Vec<Result<Ingested, StoreError>> {
        events::ingest_batch(&self.pool, items).await
    }

    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, StoreError> {
        events::enqueue(&self.pool, job, now).await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<InboundEvent>, StoreError> {
        events::get_event(&self.pool, id).await
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        events::list_events(&self.pool, filter).await
    }

    async fn claim(
        &self,
        queue: &str,
        limit: u32,
        now: DateTime<Utc>,
        worker_id: &str,
    ) -> Result<Vec<Job>, StoreError> {
        queue::claim(&self.pool, queue, limit, now, worker_id).await
    }

    async fn complete(&self, job_id: JobId, now: DateTime<Utc>) -> Result<(), StoreError> {
        queue::complete(&self.pool, job_id, now).await
    }

    async fn retry(
        &self,
        job_id: JobId,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<JobState, StoreError> {
        queue::retry(&self.pool, job_id, error, retry_at, now).await
    }

    async fn snooze(
        &self,
        job_id: JobId,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        queue::snooze(&self.pool, job_id, until, reason).await
    }

    async fn discard(
        &self,
        job_id: JobId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        queue::discard(&self.pool, job_id, reason, now).await
    }

    async fn cancel(&self, job_id: JobId, now: DateTime<Utc>) -> Result<(), StoreError> {
        queue::cancel(&self.pool, job_id, now).await
    }

    async fn retry_now(&self, job_id: JobId, now: DateTime<Utc>) -> Result<(), StoreError> {
        queue::retry_now(&self.pool, job_id, now).await
    }

    async fn rescue(
        &self,
        renewed_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        queue::rescue(&self.pool, renewed_before, now).await
    }

    async fn settle(
        &self,
        lease: &JobLease,
        settlement: &Settlement,
        now: DateTime<Utc>,
    ) -> Result<JobState, StoreError> {
        lease::settle(&self.pool, lease, settlement, now).await
    }

    async fn renew_leases(
        &self,
        leases: &[JobLease],
        now: DateTime<Utc>,
    ) -> Result<Vec<JobId>, StoreError> {
        lease::renew(&self.pool, leases, now).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        lease::try_lease(&self.pool, name, holder, crate::expiry(now, ttl), now).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        lease::release_lease(&self.pool, name, holder).await
    }

    async fn take_rate_slot(
        &self,
        bucket: &str,
        quota: RateQuota,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, StoreError> {
        rate::take_slot(&self.pool, bucket, quota, now).await
    }

    async fn prune_finished(
        &self,
        finished_before: DateTime<Utc>,
        batch: u32,
    ) -> Result<Pruned, StoreError> {
        retention::prune(&self.pool, finished_before, batch).await
    }

    async fn pause_queue(
        &self,
        queue: &str,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        jobs::pause_queue(&self.pool, queue, until, reason).await
    }

    async fn queue_paused_until(
        &self,
        queue: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<QueuePause>, StoreError> {
        jobs::queue_paused_until(&self.pool, queue, now).await
    }

    async fn record_attempt(&self, attempt: NewAttempt) -> Result<AttemptId, StoreError> {
        jobs::record_attempt(&self.pool, attempt).await
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        jobs::list_jobs(&self.pool, filter).await
    }

    async fn get_job(&self, id: JobId) -> Result<Option<JobDetail>, StoreError> {
        jobs::get_job(&self.pool, id).await
    }

    async fn count_jobs_by_state(&self) -> Result<BTreeMap<JobState, u64>, StoreError> {
        jobs::count_jobs_by_state(&self.pool).await
    }

    async fn jobs_for_event(&self, event_id: EventId) -> Result<Vec<Job>, StoreError> {
        jobs::jobs_for_event(&self.pool, event_id).await
    }

    async fn put_link(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        links::put_link(&self.pool, kind, key, value, now).await
    }

    async fn get_link(&self, kind: &str, key: &str) -> Result<Option<Link>, StoreError> {
        links::get_link(&self.pool, kind, key).await
    }

    async fn delete_link(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
        links::delete_link(&self.pool, kind, key).await
    }

    async fn save_conversation(
        &self,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        conversations::save(&self.pool, conversation, now).await
    }

    async fn get_conversation(
        &self,
        source: &str,
        session_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        conversations::get(&self.pool, source, session_id).await
    }

    async fn conversations_for_ticket(
        &self,
        ticket_id: u64,
    ) -> Result<Vec<Conversation>, StoreError> {
        conversations::for_ticket(&self.pool, ticket_id).await
    }

    async fn latest_conversation_with_ticket(
        &self,
        source: &str,
        contact: &ContactKeys,
    ) -> Result<Option<Conversation>, StoreError> {
        conversations::latest_with_ticket_for_contact(&self.pool, source, contact).await
    }

    async fn open_phone_session(&self, e164: &str) -> Result<Option<Conversation>, StoreError> {
        conversations::open_phone_session(&self.pool, e164).await
    }

    async fn replace_directory(
        &self,
        agents: Vec<DirectoryAgent>,
        groups: Vec<DirectoryGroup>,
        synced_at: DateTime<Utc>,
    ) -> Result<DirectoryReplaced, StoreError> {
        directory::replace_directory(&self.pool, agents, groups, synced_at).await
    }

    async fn record_directory_sync_failure(
        &self,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        directory::record_sync_failure(&self.pool, error, at).await
    }

    async fn agent_by_email(&self, email: &str) -> Result<Option<DirectoryAgent>, StoreError> {
        directory::agent_by_email(&self.pool, email).await
    }

    async fn agent_by_phone(&self, e164: &str) -> Result<Option<DirectoryAgent>, StoreError> {
        directory::agent_by_phone(&self.pool, e164).await
    }

    async fn agent_by_zendesk_id(
        &self,
        zendesk_id: i64,
    ) -> Result<Option<DirectoryAgent>, StoreError> {
        directory::agent_by_zendesk_id(&self.pool, zendesk_id).await
    }

    async fn group_by_name(&self, name: &str) -> Result<Option<DirectoryGroup>, StoreError> {
        directory::group_by_name(&self.pool, name).await
    }

    async fn group_by_id(&self, zendesk_id: i64) -> Result<Option<DirectoryGroup>, StoreError> {
        directory::group_by_id(&self.pool, zendesk_id).await
    }

    async fn directory_status(&self) -> Result<DirectoryStatus, StoreError> {
        directory::status(&self.pool).await
    }

    async fn record_agent_mismatch(
        &self,
        email: &str,
        call_id: Option<&str>,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        directory::record_mismatch(&self.pool, email, call_id, source, now).await
    }

    async fn list_agent_mismatches(&self) -> Result<Vec<AgentMismatch>, StoreError> {
        directory::list_mismatches(&self.pool).await
    }

    async fn clear_resolved_mismatches(&self) -> Result<u64, StoreError> {
        directory::clear_resolved_mismatches(&self.pool).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        // Reads keep working while another connection holds the write lock, so only taking the
        // lock shows whether a write would get through. In a task of its own, so a readiness
        // request that gives up cannot leave the probe between its BEGIN and its ROLLBACK.
        let (probe, options) = (self.probe.clone(), self.probe_options.clone());
        tokio::spawn(async move { probe_write_lock(&probe, &options).await })
            .await
            .map_err(|e| StoreError::Unavailable(format!("the storage check stopped: {e}")))?
    }
}
