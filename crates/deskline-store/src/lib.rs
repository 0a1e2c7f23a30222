//! deskline's durable storage and job queue.
//!
//! One [`Store`] trait, implemented for SQLite ([`SqliteStore`], the embedded default) and for
//! PostgreSQL ([`PgStore`], for several instances on one database); the server holds an `Arc<dyn Store>` and never sees which. The queue is modelled on River
//! and Oban: jobs move available → running → completed, or on failure to retryable or to
//! discarded (the dead letter). An inbound event and the jobs it causes are written in one
//! transaction, so ingress acknowledges a delivery only once the work for it is durable.
//!
//! Time is always passed in (`now`), never read from the clock here, so tests and the worker
//! decide what time it is.

mod backoff;
mod error;
mod postgres;
mod rate;
mod schema;
mod sqlite;
mod types;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use backoff::retry_delay;
pub use error::StoreError;
pub use postgres::{
    check_postgres_url, is_postgres_url, redact_url, PgOptions, PgStore, WAKE_CHANNEL,
};
pub use rate::RateQuota;
pub use schema::SchemaPolicy;
pub use sqlite::{SqliteOptions, SqliteStore};
pub use types::*;

/// `now + ttl`, saturating at the far future for absurd durations.
pub fn expiry(now: DateTime<Utc>, ttl: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// One delivery for [`Store::ingest_batch`]: the event and the jobs it causes.
pub type IngestItem = (NewInboundEvent, Vec<NewJob>);

/// Durable storage for inbound events, the job queue, links and the agent directory.
///
/// Every implementation must pass the shared test suite in `tests/suite`. Notes for the
/// Postgres one: claim with `FOR UPDATE SKIP LOCKED` in the inner SELECT; and because sequence
/// ids are handed out at insert, not at commit, take a transaction-level advisory lock on each
/// ordering key while ingesting, so ids of one key stay in commit order.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- Inbound events -----------------------------------------------------------------------

    /// Stores an event and its jobs in one transaction. If (source, dedupe key) is already
    /// stored, writes nothing and returns [`Ingested::Duplicate`]; concurrent identical ingests
    /// store exactly once. If any job is rejected, the event is not stored either.
    async fn ingest(
        &self,
        event: NewInboundEvent,
        jobs: Vec<NewJob>,
    ) -> Result<Ingested, StoreError>;

    /// Stores several deliveries at once, answering each exactly as [`Store::ingest`] would
    /// answer it alone, in the order given: a redelivery, inside the batch or of an event stored
    /// before, is [`Ingested::Duplicate`]; one item's rejected job fails that item alone.
    /// Returns only after every stored item is durable, so no answer runs ahead of its commit.
    ///
    /// Backends override it to write the batch in one transaction (group commit); this one
    /// ingests the items one by one.
    async fn ingest_batch(&self, items: Vec<IngestItem>) -> Vec<Result<Ingested, StoreError>> {
        let mut answers = Vec::with_capacity(items.len());
        for (event, jobs) in items {
            answers.push(self.ingest(event, jobs).await);
        }
        answers
    }

    /// Inserts a job that belongs to no inbound event (periodic work such as a directory sync).
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, StoreError>;

    /// One event with its body and headers.
    async fn get_event(&self, id: EventId) -> Result<Option<InboundEvent>, StoreError>;

    /// Events matching `filter`, by ascending id, without bodies.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError>;

    // --- Queue --------------------------------------------------------------------------------

    /// Marks up to `limit` due jobs of `queue` running for `worker_id` and returns them in claim
    /// order. No job is handed to two claimers; nothing is returned while the queue is paused;
    /// a job waits while an earlier job with its ordering key is not finished.
    async fn claim(
        &self,
        queue: &str,
        limit: u32,
        now: DateTime<Utc>,
        worker_id: &str,
    ) -> Result<Vec<Job>, StoreError>;

    /// A running job succeeded. Fails with [`StoreError::InvalidState`] if the job is no
    /// longer running (it was rescued, cancelled or discarded meanwhile).
    async fn complete(&self, job_id: JobId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// A running job failed: it becomes retryable at `retry_at`, or discarded if its attempts
    /// are spent. The error is appended to its history either way; returns the new state.
    async fn retry(
        &self,
        job_id: JobId,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<JobState, StoreError>;

    /// Puts a running job off until `until` without spending the attempt (rate limits).
    async fn snooze(
        &self,
        job_id: JobId,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError>;

    /// Moves a job that is not finished to the dead letter, keeping `reason`.
    async fn discard(
        &self,
        job_id: JobId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Cancels a job that is neither running nor completed.
    async fn cancel(&self, job_id: JobId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Makes a discarded, cancelled or retryable job available now with fresh attempts.
    async fn retry_now(&self, job_id: JobId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Running jobs whose lease was last renewed (or, never renewed, claimed) before
    /// `renewed_before` go back to retryable, or to discarded if their attempts are spent: their
    /// worker stopped renewing, so it is presumed dead. Returns how many.
    async fn rescue(
        &self,
        renewed_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Records how the leased attempt of a running job ended, checking the lease in the same
    /// statement that writes the outcome: fails with [`StoreError::LeaseLost`] when the job is
    /// no longer running under this worker and attempt (it was rescued, and maybe claimed
    /// again), and writes nothing then. Returns the job's new state.
    async fn settle(
        &self,
        lease: &JobLease,
        settlement: &Settlement,
        now: DateTime<Utc>,
    ) -> Result<JobState, StoreError>;

    /// Renews the heartbeat of each job still running under its lease to `now`; returns the
    /// ids renewed. A lease missing from the answer is lost: its worker must stop the job.
    async fn renew_leases(
        &self,
        leases: &[JobLease],
        now: DateTime<Utc>,
    ) -> Result<Vec<JobId>, StoreError>;

    // --- Periodic work ------------------------------------------------------------------------

    /// Takes the named lease for `holder` until `now + ttl`, or extends it if `holder` has it
    /// already; false while another holder's lease is unexpired. At most one holder wins.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives the named lease up if `holder` has it (a clean shutdown); true if it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;

    /// Takes one request's slot from the shared budget `bucket`, limited to `quota` across
    /// every instance on this database: `None` when granted (send now), otherwise how long to
    /// wait before asking again. Decided and recorded in one statement, so concurrent takers
    /// together never exceed the quota.
    async fn take_rate_slot(
        &self,
        bucket: &str,
        quota: RateQuota,
        now: DateTime<Utc>,
    ) -> Result<Option<std::time::Duration>, StoreError>;

    /// Retention, one bounded batch: removes up to `batch` completed or cancelled jobs
    /// finalized before `finished_before`, with their attempts, and up to `batch` inbound
    /// events received before it that no job refers to any more. Discarded jobs (dead letters)
    /// and their events are kept. Call again while a count equals `batch`.
    async fn prune_finished(
        &self,
        finished_before: DateTime<Utc>,
        batch: u32,
    ) -> Result<Pruned, StoreError>;

    /// Stops claims from `queue` until `until`; an existing longer pause is kept.
    async fn pause_queue(
        &self,
        queue: &str,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError>;

    /// The pause in force on `queue` at `now`, if any.
    async fn queue_paused_until(
        &self,
        queue: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<QueuePause>, StoreError>;

    /// Records what one attempt did.
    async fn record_attempt(&self, attempt: NewAttempt) -> Result<AttemptId, StoreError>;

    /// Jobs matching `filter`, by ascending id.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;

    /// One job with its attempts and the event it came from.
    async fn get_job(&self, id: JobId) -> Result<Option<JobDetail>, StoreError>;

    /// How many jobs are in each state; every state is present, zeros included.
    async fn count_jobs_by_state(&self) -> Result<BTreeMap<JobState, u64>, StoreError>;

    /// The jobs created for one event, by ascending id.
    async fn jobs_for_event(&self, event_id: EventId) -> Result<Vec<Job>, StoreError>;

    // --- Links --------------------------------------------------------------------------------

    /// Sets `kind`/`key` to `value`, creating or overwriting the link.
    async fn put_link(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The link for `kind`/`key`, if any.
    async fn get_link(&self, kind: &str, key: &str) -> Result<Option<Link>, StoreError>;

    /// Removes the link for `kind`/`key`; true if there was one.
    async fn delete_link(&self, kind: &str, key: &str) -> Result<bool, StoreError>;

    // --- Conversations ------------------------------------------------------------------------

    /// Creates or overwrites a conversation, keyed by (source, session id); `created_at` keeps
    /// the first write's time and `updated_at` becomes `now`.
    async fn save_conversation(
        &self,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// One conversation.
    async fn get_conversation(
        &self,
        source: &str,
        session_id: &str,
    ) -> Result<Option<Conversation>, StoreError>;

    /// The conversations on a ticket, most recently changed first.
    async fn conversations_for_ticket(
        &self,
        ticket_id: u64,
    ) -> Result<Vec<Conversation>, StoreError>;

    /// The most recently changed conversation that has a ticket and whose contact matches any
    /// of `contact`'s identities (the external id only within `source`).
    async fn latest_conversation_with_ticket(
        &self,
        source: &str,
        contact: &ContactKeys,
    ) -> Result<Option<Conversation>, StoreError>;

    /// The newest phone conversation with exactly this E.164 number that has no ticket yet and
    /// is not closed.
    async fn open_phone_session(&self, e164: &str) -> Result<Option<Conversation>, StoreError>;

    // --- Agent directory ----------------------------------------------------------------------

    /// Replaces the whole directory in one transaction (a reader sees the old or the new one,
    /// never a mix), and removes the mismatches the new directory resolves.
    async fn replace_directory(
        &self,
        agents: Vec<DirectoryAgent>,
        groups: Vec<DirectoryGroup>,
        synced_at: DateTime<Utc>,
    ) -> Result<DirectoryReplaced, StoreError>;

    /// Notes that a sync failed, keeping the directory as it was.
    async fn record_directory_sync_failure(
        &self,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The agent with this email, matched trimmed and case-insensitively; an active agent wins
    /// over an inactive one with the same email.
    async fn agent_by_email(&self, email: &str) -> Result<Option<DirectoryAgent>, StoreError>;

    /// The agent with this Zendesk user id.
    /// The agent whose Zendesk phone is this E.164 number (for providers that identify
    /// agents by number).
    async fn agent_by_phone(&self, e164: &str) -> Result<Option<DirectoryAgent>, StoreError>;

    async fn agent_by_zendesk_id(
        &self,
        zendesk_id: i64,
    ) -> Result<Option<DirectoryAgent>, StoreError>;

    /// The group with this name, matched trimmed and case-insensitively.
    async fn group_by_name(&self, name: &str) -> Result<Option<DirectoryGroup>, StoreError>;

    /// The group with this Zendesk id.
    async fn group_by_id(&self, zendesk_id: i64) -> Result<Option<DirectoryGroup>, StoreError>;

    /// How fresh the directory is.
    async fn directory_status(&self) -> Result<DirectoryStatus, StoreError>;

    /// Counts a call whose answering agent's email the directory does not know; the same call
    /// reported again (a retried job) refreshes the entry without counting twice.
    async fn record_agent_mismatch(
        &self,
        email: &str,
        call_id: Option<&str>,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Unknown agent emails, most recently seen first.
    async fn list_agent_mismatches(&self) -> Result<Vec<AgentMismatch>, StoreError>;

    /// Removes mismatches whose email the directory now knows; returns how many.
    async fn clear_resolved_mismatches(&self) -> Result<u64, StoreError>;

    // --- Operations ---------------------------------------------------------------------------

    /// A cheap round trip to the database, for health checks.
    async fn health(&self) -> Result<(), StoreError>;

    /// Names of queues on which jobs were just inserted, by any process sharing the database,
    /// for stores that can tell (PostgreSQL's LISTEN/NOTIFY). `None` when the store cannot:
    /// workers then find jobs queued by other processes by polling alone. Delivery is best
    /// effort either way; polling remains the safety net.
    fn job_wakeups(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
        None
    }
}
