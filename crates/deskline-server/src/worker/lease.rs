//! The leases of the jobs a worker holds: renewed on an interval while the jobs run, and each
//! job stopped before its lease could lapse in the database.
//!
//! A job's lease is renewed every third of `worker.lease`. If renewals fail or are slow (a busy
//! database), the worker gives the job up at five sixths of the lease after the last renewal
//! it sent that succeeded, before any rescuer may take it over at the full lease: so a slow
//! renewal can make a job run again later, never twice at once. The margin also absorbs clock
//! differences between instances up to a sixth of the lease.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deskline_store::{JobId, JobLease};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::state::AppState;

/// How long after a renewal was sent the worker still counts on it.
pub(crate) fn keep_for(lease: Duration) -> Duration {
    lease.saturating_sub(lease / 6)
}

/// How often held leases are renewed.
pub(crate) fn renew_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(10))
}

/// Until when a job may keep running; `None` once its lease is lost.
type Deadline = Option<Instant>;

struct Held {
    lease: JobLease,
    deadline: watch::Sender<Deadline>,
}

/// The jobs one worker holds, with their local deadlines.
#[derive(Default)]
pub(crate) struct HeldJobs {
    jobs: Mutex<HashMap<JobId, Held>>,
}

impl HeldJobs {
    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Held>> {
        // Plain data: a panic elsewhere cannot leave it half-written.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts holding `lease`, claimed with a request sent at `sent`; the receiver ends the
    /// job's run when the lease is lost or runs out.
    pub(crate) fn hold(
        &self,
        lease: JobLease,
        sent: Instant,
        keep: Duration,
    ) -> watch::Receiver<Deadline> {
        let (deadline, ends) = watch::channel(Some(sent + keep));
        self.jobs().insert(lease.job_id, Held { lease, deadline });
        ends
    }

    /// The job is settled or given up: stop renewing it.
    pub(crate) fn release(&self, job_id: JobId) {
        self.jobs().remove(&job_id);
    }

    fn leases(&self) -> Vec<JobLease> {
        self.jobs().values().map(|h| h.lease.clone()).collect()
    }

    /// Applies a renewal sent at `sent` for `asked`: renewed jobs may run until `sent + keep`;
    /// the others are lost and stop now.
    fn renewed(&self, asked: &[JobLease], renewed: &[JobId], sent: Instant, keep: Duration) {
        let jobs = self.jobs();
        for lease in asked {
            // Only the attempt asked about: the job may have been settled and claimed again
            // by this worker (a newer attempt) while the renewal was on its way.
            let Some(held) = jobs.get(&lease.job_id).filter(|h| h.lease == *lease) else {
                continue;
            };
            if renewed.contains(&lease.job_id) {
                held.deadline.send_if_modified(|d| match d {
                    Some(at) if *at < sent + keep => {
                        *at = sent + keep;
                        true
                    }
                    _ => false,
                });
            } else {
                tracing::warn!(job = %lease.job_id, attempt = lease.attempt,
                    "the job's lease was lost (taken over after a lapse): stopping it");
                held.deadline.send_replace(None);
            }
        }
    }
}

/// Resolves when the job must stop: its lease was lost, or its deadline passed without a
/// renewal.
pub(crate) async fn lease_ends(mut ends: watch::Receiver<Deadline>) {
    loop {
        let deadline = *ends.borrow_and_update();
        let Some(deadline) = deadline else { return };
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                if *ends.borrow() == Some(deadline) {
                    tracing::warn!("the job's lease was not renewed in time: stopping it");
                    return;
                }
            }
            changed = ends.changed() => {
                if changed.is_err() {
                    // Nobody renews any more (the worker is going away): the deadline stands.
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
            }
        }
    }
}

/// Renews the leases of `held` every third of the lease, for as long as it runs.
pub(crate) async fn renew_periodically(state: AppState, held: Arc<HeldJobs>) {
    let lease = state.worker.lease;
    let keep = keep_for(lease);
    loop {
        tokio::time::sleep(renew_every(lease)).await;
        let leases = held.leases();
        if leases.is_empty() {
            continue;
        }
        let sent = Instant::now();
        match state.store.renew_leases(&leases, state.clock.now()).await {
            Ok(renewed) => held.renewed(&leases, &renewed, sent, keep),
            // The deadlines stand: if the database stays out of reach, the jobs stop in time.
            Err(e) => tracing::error!(error = %e, jobs = leases.len(), "cannot renew job leases"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(id: i64, attempt: u32) -> JobLease {
        JobLease {
            job_id: JobId(id),
            worker_id: "w".into(),
            attempt,
        }
    }

    /// Whether `lease_ends` resolves within a short wait.
    async fn ended(ends: &watch::Receiver<Deadline>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), lease_ends(ends.clone()))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_job_runs_while_renewed_and_stops_when_its_lease_is_lost_or_runs_out() {
        let held = HeldJobs::default();
        let long = Duration::from_secs(3600);
        let a = held.hold(lease(1, 1), Instant::now(), long);
        let b = held.hold(lease(2, 1), Instant::now(), long);
        assert!(!ended(&a).await && !ended(&b).await);

        // Job 1 renewed, job 2 not: 2 was taken over and stops at once.
        let asked = held.leases();
        held.renewed(&asked, &[JobId(1)], Instant::now(), long);
        assert!(!ended(&a).await, "renewed");
        assert!(ended(&b).await, "lost");

        // A deadline already past ends the run.
        let c = held.hold(lease(3, 1), Instant::now(), Duration::ZERO);
        assert!(ended(&c).await);
    }

    #[tokio::test]
    async fn a_late_answer_about_an_older_attempt_leaves_the_newer_one_alone() {
        let held = HeldJobs::default();
        let long = Duration::from_secs(3600);
        let old = held.hold(lease(1, 1), Instant::now(), long);
        let asked = held.leases();
        // Attempt 1 was settled and the job claimed again (attempt 2) before the answer came.
        held.release(JobId(1));
        let new = held.hold(lease(1, 2), Instant::now(), long);
        held.renewed(&asked, &[], Instant::now(), long);
        assert!(!ended(&new).await, "attempt 2 is still held");
        drop(old);
        assert_eq!(held.leases(), vec![lease(1, 2)]);
    }
}
