//! Leases: which worker holds a running job, how its run ends, periodic work's leader, and
//! what retention removed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::job::{Job, JobId};

/// One worker's hold on one attempt of a running job. The store accepts an outcome, or a
/// renewal, only from the holder of the job's current attempt, so a worker whose job was taken
/// over cannot overwrite what the new holder does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobLease {
    /// The job.
    pub job_id: JobId,
    /// The worker that claimed it.
    pub worker_id: String,
    /// The attempt the claim started.
    pub attempt: u32,
}

impl JobLease {
    /// The lease `worker_id` got by claiming `job` (as the claim returned it).
    pub fn new(job: &Job, worker_id: impl Into<String>) -> JobLease {
        JobLease {
            job_id: job.id,
            worker_id: worker_id.into(),
            attempt: job.attempt,
        }
    }
}

/// How a running job's attempt ended, as its lease holder records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settlement {
    /// It succeeded: completed.
    Complete,
    /// It failed and may pass: retryable at `retry_at`, or discarded when the attempts are spent.
    Retry {
        /// What went wrong.
        error: String,
        /// When to run it again.
        retry_at: DateTime<Utc>,
    },
    /// Not now: due again at `until`, the attempt given back.
    Snooze {
        /// When to run it again.
        until: DateTime<Utc>,
        /// Why.
        reason: String,
    },
    /// It can never succeed as it is: discarded (the dead letter).
    Discard {
        /// Why.
        reason: String,
    },
}

impl Settlement {
    /// The action's name, for errors ("complete", "retry", ...).
    pub fn action(&self) -> &'static str {
        match self {
            Settlement::Complete => "complete",
            Settlement::Retry { .. } => "retry",
            Settlement::Snooze { .. } => "snooze",
            Settlement::Discard { .. } => "discard",
        }
    }
}

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pruned {
    /// Completed and cancelled jobs.
    pub jobs: u64,
    /// Their recorded attempts.
    pub attempts: u64,
    /// Inbound events (with their raw bodies) none of whose jobs is left.
    pub events: u64,
}

impl Pruned {
    /// Adds another pass's counts.
    pub fn add(&mut self, other: Pruned) {
        self.jobs += other.jobs;
        self.attempts += other.attempts;
        self.events += other.events;
    }
}
