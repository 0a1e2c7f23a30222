//! Jobs, their states and their attempts.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::EventId;

/// Attempts a job gets unless its creator says otherwise (Oban's default).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;

/// Identifies one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies one recorded attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttemptId(pub i64);

/// Where a job is in its life: available → running → completed, or on failure retryable
/// (to run again later) or discarded (the dead letter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `scheduled_at`, then for a worker.
    Available,
    /// Claimed by a worker.
    Running,
    /// Failed; runs again at its `scheduled_at`.
    Retryable,
    /// Done.
    Completed,
    /// Given up: a permanent error or attempts ran out. The dead letter.
    Discarded,
    /// Stopped by an operator; will not run.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 6] = [
        JobState::Available,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Discarded,
        JobState::Cancelled,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True for the states a job never leaves on its own.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Discarded | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown job state {s:?}"))
    }
}

/// A job to insert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// What the worker should do, e.g. `create_call_ticket`.
    pub kind: String,
    /// Which queue it runs on, e.g. `zendesk`; pauses apply per queue.
    pub queue: String,
    /// The job's arguments.
    pub args: serde_json::Value,
    /// Lower runs first among jobs that are due.
    pub priority: i32,
    /// How many attempts before it is discarded.
    pub max_attempts: u32,
    /// Not claimed before this time.
    pub scheduled_at: DateTime<Utc>,
    /// If set and a job with this key exists in any state, this one is not inserted.
    pub unique_key: Option<String>,
    /// If set, jobs with the same key run one at a time in insertion order.
    pub ordering_key: Option<String>,
}

impl NewJob {
    /// A job due at `scheduled_at`, with default priority (0) and attempts.
    pub fn new(
        kind: impl Into<String>,
        queue: impl Into<String>,
        args: serde_json::Value,
        scheduled_at: DateTime<Utc>,
    ) -> Self {
        NewJob {
            kind: kind.into(),
            queue: queue.into(),
            args,
            priority: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            scheduled_at,
            unique_key: None,
            ordering_key: None,
        }
    }

    /// Sets the number of attempts before the job is discarded.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the priority (lower runs first).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Makes the job unique by `key`.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Serialises the job with every other job of the same `key`.
    pub fn ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }
}

/// One failure in a job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The attempt it ended.
    pub attempt: u32,
    /// What went wrong (scrubbed by the caller).
    pub error: String,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its id; for jobs sharing an ordering key, id order is run order.
    pub id: JobId,
    /// What the worker should do.
    pub kind: String,
    /// Which queue it runs on.
    pub queue: String,
    /// Its arguments.
    pub args: serde_json::Value,
    /// Where it is in its life.
    pub state: JobState,
    /// Lower runs first.
    pub priority: i32,
    /// Attempts spent, the current one included while running.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Not claimed before this time.
    pub scheduled_at: DateTime<Utc>,
    /// When the latest attempt started.
    pub attempted_at: Option<DateTime<Utc>>,
    /// Which worker made the latest attempt.
    pub attempted_by: Option<String>,
    /// Failures so far, oldest first.
    pub errors: Vec<JobError>,
    /// How many times it was snoozed.
    pub snoozes: u32,
    /// Why it was last snoozed.
    pub snooze_reason: Option<String>,
    /// Its unique key, if any.
    pub unique_key: Option<String>,
    /// Its ordering key, if any.
    pub ordering_key: Option<String>,
    /// The inbound event it was created for, if any.
    pub event_id: Option<EventId>,
    /// When it was inserted.
    pub created_at: DateTime<Utc>,
    /// When it reached completed, discarded or cancelled.
    pub finalized_at: Option<DateTime<Utc>>,
}

impl Job {
    /// The latest failure, which for a discarded job is the reason it was discarded.
    pub fn last_error(&self) -> Option<&JobError> {
        self.errors.last()
    }
}

/// What [`crate::Store::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Enqueued {
    /// A new job was inserted.
    Inserted(JobId),
    /// A job with the same unique key already existed; nothing was inserted.
    UniqueExists(JobId),
}

/// Which jobs to list: every set field must match; ordered by id, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs on this queue.
    pub queue: Option<String>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// At most this many (capped at [`crate::MAX_LIST_LIMIT`]).
    pub limit: u32,
    /// Only jobs with a greater id: the last id of the previous page.
    pub after_id: Option<JobId>,
}

impl Default for JobFilter {
    fn default() -> Self {
        JobFilter {
            state: None,
            queue: None,
            kind: None,
            limit: 100,
            after_id: None,
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The job completed.
    Succeeded,
    /// A failure that will be retried (or exhausted the attempts).
    Failed,
    /// Put off without spending the attempt (rate limited).
    Snoozed,
    /// A permanent failure: the job went to the dead letter.
    Discarded,
}

impl AttemptOutcome {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Snoozed => "snoozed",
            AttemptOutcome::Discarded => "discarded",
        }
    }
}

impl FromStr for AttemptOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AttemptOutcome::Succeeded,
            AttemptOutcome::Failed,
            AttemptOutcome::Snoozed,
            AttemptOutcome::Discarded,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == s)
        .ok_or_else(|| format!("unknown attempt outcome {s:?}"))
    }
}

/// One execution of a job to record. Summaries must already be scrubbed of secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAttempt {
    /// The job that ran.
    pub job_id: JobId,
    /// Which attempt of the job this was.
    pub attempt: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The downstream HTTP status, if a request was made.
    pub http_status: Option<u16>,
    /// What was sent, briefly.
    pub request_summary: Option<String>,
    /// What came back, briefly.
    pub response_summary: Option<String>,
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Its id.
    pub id: AttemptId,
    /// The job that ran.
    pub job_id: JobId,
    /// Which attempt of the job this was.
    pub attempt: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The downstream HTTP status, if a request was made.
    pub http_status: Option<u16>,
    /// What was sent, briefly.
    pub request_summary: Option<String>,
    /// What came back, briefly.
    pub response_summary: Option<String>,
}

/// The event a job was created for, as shown beside the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    /// The event's id.
    pub id: EventId,
    /// Which source delivered it.
    pub source: String,
    /// The provider's identity of the delivery.
    pub dedupe_key: String,
}

/// A job with everything the dashboard shows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    /// The job.
    pub job: Job,
    /// Its recorded attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// The event it was created for, if any.
    pub event: Option<EventRef>,
}

/// A queue that no worker claims from until a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePause {
    /// The paused queue.
    pub queue: String,
    /// Claims resume at this time.
    pub paused_until: DateTime<Utc>,
    /// Why, e.g. "429 from Zendesk, Retry-After 30".
    pub reason: String,
}
