//! What deskline knows about the helpdesk's health, kept while the service runs: the start-up
//! checks (run in the background, so ingress answers whatever Zendesk does), the circuit
//! breaker, and the shared pause. `/readyz` and `GET /admin/status` report it.

pub mod breaker;
pub mod checker;
pub mod gate;
pub mod report;
pub mod shared_budget;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::config::Problem;
pub use breaker::{Breaker, BreakerSettings};

/// What the latest check of the account found.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckState {
    /// No check has finished yet.
    Pending,
    /// The account fits the configuration.
    Passed {
        /// When.
        at: DateTime<Utc>,
    },
    /// Zendesk did not answer (or asked to wait); retried with backoff.
    Unreachable {
        /// When.
        at: DateTime<Utc>,
        /// What happened, as a problem with its key and fix.
        problem: Problem,
        /// When the next check runs.
        next: DateTime<Utc>,
    },
    /// Zendesk answered, and the account does not fit: the queue is paused.
    Misfit {
        /// When.
        at: DateTime<Utc>,
        /// Each problem, with its key and fix.
        problems: Vec<Problem>,
        /// When the next check runs.
        next: DateTime<Utc>,
    },
}

/// The helpdesk's health as this process sees it (shared; cheap to read).
#[derive(Debug)]
pub struct HelpdeskHealth {
    /// Opens when Zendesk stops answering.
    pub breaker: std::sync::Arc<Breaker>,
    /// How often a misfit account is checked again.
    pub recheck_interval: Duration,
    check: Mutex<CheckState>,
    /// Asks the checker to check now (a job met a rejected token).
    recheck: Notify,
    /// Asks the directory sync to run now (the checks just passed after failing).
    sync_now: Notify,
}

impl HelpdeskHealth {
    /// Nothing checked yet, breaker closed.
    pub fn new(breaker: BreakerSettings, recheck_interval: Duration) -> HelpdeskHealth {
        HelpdeskHealth {
            breaker: std::sync::Arc::new(Breaker::new(breaker)),
            recheck_interval: recheck_interval.max(Duration::from_millis(100)),
            check: Mutex::new(CheckState::Pending),
            recheck: Notify::new(),
            sync_now: Notify::new(),
        }
    }

    fn check_state(&self) -> MutexGuard<'_, CheckState> {
        self.check.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest check's findings.
    pub fn check(&self) -> CheckState {
        self.check_state().clone()
    }

    /// Records a check's findings; returns the previous ones.
    pub fn set_check(&self, state: CheckState) -> CheckState {
        std::mem::replace(&mut *self.check_state(), state)
    }

    /// Asks for a check now (a job met a rejected token).
    pub fn recheck_now(&self) {
        self.recheck.notify_one();
    }

    /// Waits for [`HelpdeskHealth::recheck_now`].
    pub async fn recheck_requested(&self) {
        self.recheck.notified().await;
    }

    /// Asks the directory sync to run now.
    pub fn sync_directory_now(&self) {
        self.sync_now.notify_one();
    }

    /// Waits for [`HelpdeskHealth::sync_directory_now`].
    pub async fn directory_sync_requested(&self) {
        self.sync_now.notified().await;
    }
}
