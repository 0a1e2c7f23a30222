//! Periodic work (rescue, directory sync, retention) on one elected instance at a time.
//!
//! Every instance tries to take or extend the `periodic` lease in the database every quarter of
//! `worker.lease`; the one holding it does the work. When the leader dies, its lease lapses and
//! another instance takes over within about 1.25 leases, rescues the dead one's jobs at once,
//! and carries on.

use std::time::Duration;

use chrono::Utc;
use deskline_store::Pruned;
use tokio::sync::watch;

use crate::config::RetentionConfig;
pub use crate::leadership::Leadership;
use crate::state::AppState;

/// The lease row's name.
pub const PERIODIC_LEASE: &str = "periodic";

/// How often leadership is checked and rescue runs.
pub fn tick(lease: Duration) -> Duration {
    (lease / 4).max(Duration::from_millis(10))
}

/// Takes and keeps the periodic-work lease for `holder` until `stop`, then gives it up.
/// Returns the task and the leadership it publishes.
pub fn elect(
    state: &AppState,
    holder: String,
    mut stop: watch::Receiver<bool>,
) -> (tokio::task::JoinHandle<()>, Leadership) {
    let (tx, rx) = watch::channel(false);
    let state = state.clone();
    let task = tokio::spawn(async move {
        let lease = state.worker.lease;
        loop {
            let won = match state
                .store
                .try_lease(PERIODIC_LEASE, &holder, lease, state.clock.now())
                .await
            {
                Ok(won) => won,
                Err(e) => {
                    tracing::error!(error = %e, "cannot renew the periodic-work lease");
                    false
                }
            };
            let was = tx.send_replace(won);
            if won && !was {
                tracing::info!(holder = %holder, "this instance now does the periodic work (rescue, directory sync, retention)");
            } else if was && !won {
                tracing::warn!(holder = %holder, "another instance took over the periodic work");
            }
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(tick(lease)) => {}
            }
        }
        if *tx.borrow() {
            tx.send_replace(false);
            if let Err(e) = state.store.release_lease(PERIODIC_LEASE, &holder).await {
                tracing::warn!(error = %e, "cannot release the periodic-work lease");
            }
        }
    });
    (task, Leadership::following(rx))
}

/// While leader: hands the jobs of workers that stopped renewing their lease back to the queue,
/// every quarter of the lease.
pub async fn rescue_periodically(
    state: AppState,
    mut leadership: Leadership,
    mut stop: watch::Receiver<bool>,
) {
    let lease = state.worker.lease;
    let lapse = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(20));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            leader = leadership.wait() => if !leader { return },
        }
        let now = state.clock.now();
        match state.store.rescue(now - lapse, now).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "took over jobs whose worker stopped renewing their lease"
            ),
            Err(e) => tracing::error!(error = %e, "rescuer cannot reach the store"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(tick(lease)) => {}
        }
    }
}

/// While leader: prunes finished work older than the retention period every `interval`.
pub async fn prune_periodically(
    state: AppState,
    retention: RetentionConfig,
    mut leadership: Leadership,
    mut stop: watch::Receiver<bool>,
) {
    let period = chrono::Duration::from_std(retention.period).unwrap_or(chrono::Duration::days(30));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            leader = leadership.wait() => if !leader { return },
        }
        let cutoff = state.clock.now() - period;
        match prune(&state, cutoff, retention.batch, &leadership, &stop).await {
            Ok(p) if p == Pruned::default() => {}
            Ok(p) => tracing::info!(
                jobs = p.jobs,
                attempts = p.attempts,
                events = p.events,
                "retention: removed finished work"
            ),
            Err(e) => tracing::error!(error = %e, "retention: cannot prune"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(retention.interval) => {}
        }
    }
}

/// Pruning in batches until one comes back short, pausing between batches so writers (ingest
/// above all) get the database in between.
async fn prune(
    state: &AppState,
    cutoff: chrono::DateTime<Utc>,
    batch: u32,
    leadership: &Leadership,
    stop: &watch::Receiver<bool>,
) -> Result<Pruned, deskline_store::StoreError> {
    let mut total = Pruned::default();
    let full = u64::from(batch);
    loop {
        let pass = state.store.prune_finished(cutoff, batch).await?;
        total.add(pass);
        metrics::counter!("deskline_pruned_total", "what" => "jobs").increment(pass.jobs);
        metrics::counter!("deskline_pruned_total", "what" => "events").increment(pass.events);
        if (pass.jobs < full && pass.events < full) || *stop.borrow() || !leadership.is_leader() {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
