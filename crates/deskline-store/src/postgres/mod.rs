//! The PostgreSQL implementation of [`Store`], for several instances on one database.
//!
//! Same tables, states and rules as the SQLite store; what differs is concurrency control.
//! Writers do not queue on one lock: claims lock the rows they pick `FOR UPDATE SKIP LOCKED`,
//! ingest serialises jobs of one ordering key with a transaction-level advisory lock, and each
//! transition is a single conditional `UPDATE`. Every transaction runs at READ COMMITTED.
//!
//! Jobs inserted here are announced with `NOTIFY` at commit (channel [`WAKE_CHANNEL`], payload
//! the queue), so idle workers of every instance can wake at once; polling stays the safety
//! net, since a notification is lost while a listener reconnects.

mod codec;
mod directory;
mod events;
mod jobs;
mod lease;
mod migrations;
mod queue;
mod rate;
mod records;
mod retention;
mod url;
mod wake;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use crate::error::StoreError;
use crate::types::*;
use crate::{IngestItem, RateQuota, SchemaPolicy, Store};

pub use self::url::{check_postgres_url, is_postgres_url, redact_url};
pub use wake::WAKE_CHANNEL;

/// Tuning for [`PgStore::connect_with`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long an operation waits for a free connection (or to connect) before failing.
    pub acquire_timeout: Duration,
    /// Whether connecting migrates the schema or only checks it.
    pub schema: SchemaPolicy,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            schema: SchemaPolicy::Migrate,
        }
    }
}

/// A [`Store`] in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    wake: wake::Wakeups,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// Like [`PgStore::connect`], with explicit tuning and schema policy.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url.trim())
            .map_err(|e| StoreError::Url(e.to_string()))?
            .application_name("deskline");
        // One plain connection first: when the server is down or refuses us, its reason
        // (connection refused, password authentication failed) is the error, not the pool's
        // "timed out waiting for a connection".
        let probe = PgConnection::connect_with(&connect).await?;
        probe.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        match options.schema {
            SchemaPolicy::Migrate => {
                migrations::run(&pool).await?;
            }
            SchemaPolicy::RequireCurrent => {
                let pending = migrations::pending(&pool).await?;
                if !pending.is_empty() {
                    pool.close().await;
                    return Err(StoreError::SchemaBehind { pending });
                }
            }
        }
        let wake = wake::Wakeups::new(pool.clone());
        Ok(PgStore { pool, wake })
    }

    /// Applies the missing migrations; returns their versions (empty when up to date).
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        migrations::run(&self.pool).await
    }

    /// The migrations this deskline has that the database lacks.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        migrations::pending(&self.pool).await
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PgStore {
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
        ttl: Duration,
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
        records::put_link(&self.pool, kind, key, value, now).await
    }

    async fn get_link(&self, kind: &str, key: &str) -> Result<Option<Link>, StoreError> {
        records::get_link(&self.pool, kind, key).await
    }

    async fn delete_link(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
        records::delete_link(&self.pool, kind, key).await
    }

    async fn save_conversation(
        &self,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        records::save_conversation(&self.pool, conversation, now).await
    }

    async fn get_conversation(
        &self,
        source: &str,
        session_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        records::get_conversation(&self.pool, source, session_id).await
    }

    async fn conversations_for_ticket(
        &self,
        ticket_id: u64,
    ) -> Result<Vec<Conversation>, StoreError> {
        records::conversations_for_ticket(&self.pool, ticket_id).await
    }

    async fn latest_conversation_with_ticket(
        &self,
        source: &str,
        contact: &ContactKeys,
    ) -> Result<Option<Conversation>, StoreError> {
        records::latest_with_ticket_for_contact(&self.pool, source, contact).await
    }

    async fn open_phone_session(&self, e164: &str) -> Result<Option<Conversation>, StoreError> {
        records::open_phone_session(&self.pool, e164).await
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
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn job_wakeups(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
        Some(self.wake.subscribe())
    }
}
