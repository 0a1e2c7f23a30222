//! Keeps the agent directory in step with Zendesk: at start, on an interval, and on demand
//! when a call names an email the directory does not know (so nobody has to ask for a sync).

use std::collections::BTreeMap;
use std::time::Duration;

use deskline_store::{DirectoryAgent, DirectoryGroup, DirectoryReplaced};
use tokio::sync::watch;

use crate::leadership::Leadership;
use crate::state::AppState;

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Zendesk refused or failed.
    #[error(transparent)]
    Zendesk(#[from] deskline_zendesk::ZendeskError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] deskline_store::StoreError),
}

fn to_i64(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Reads agents, groups and memberships from Zendesk and replaces the directory in one step.
pub async fn sync_directory(state: &AppState) -> Result<DirectoryReplaced, SyncError> {
    let staff = state.zendesk.list_staff().await?;
    let groups = state.zendesk.list_groups().await?;
    let memberships = state.zendesk.list_group_memberships().await?;
    let mut member_of: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for m in memberships {
        member_of
            .entry(m.user_id)
            .or_default()
            .push(to_i64(m.group_id));
    }
    let agents = staff
        .into_iter()
        .filter_map(|u| {
            let email = u.email.clone()?;
            Some(DirectoryAgent {
                zendesk_id: to_i64(u.id),
                name: u.name.clone().unwrap_or_else(|| email.clone()),
                email,
                phone: u.phone.clone(),
                group_ids: member_of.remove(&u.id).unwrap_or_default(),
                active: u.active && !u.suspended,
            })
        })
        .collect();
    let groups = groups
        .into_iter()
        .filter(|g| !g.deleted)
        .map(|g| DirectoryGroup {
            zendesk_id: to_i64(g.id),
            name: g.name,
        })
        .collect();
    let replaced = state
        .store
        .replace_directory(agents, groups, state.clock.now())
        .await?;
    tracing::info!(
        agents = replaced.agents,
        groups = replaced.groups,
        resolved_mismatches = replaced.resolved_mismatches,
        "agent directory synced from Zendesk"
    );
    metrics::gauge!("deskline_directory_agents").set(replaced.agents as f64);
    Ok(replaced)
}

/// While this instance does the periodic work: syncs now and then every `interval` until
/// stopped. A failure is recorded and retried with backoff (from the outage settings' first
/// probe, doubling, at most the interval), or after Zendesk's `Retry-After`; the start-up
/// checks passing after a failure syncs at once.
pub async fn sync_periodically(
    state: AppState,
    interval: Duration,
    mut leadership: Leadership,
    mut stop: watch::Receiver<bool>,
) {
    let settings = state.helpdesk.breaker.settings();
    let first = settings.first_probe.max(Duration::from_millis(100));
    let longest = interval.min(settings.max_probe).max(first);
    let mut backoff = first;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            leader = leadership.wait() => if !leader { return },
        }
        let wait = match sync_directory(&state).await {
            Ok(_) => {
                backoff = first;
                interval
            }
            Err(e) => {
                tracing::error!(error = %e, "agent directory sync failed");
                let _ = state
                    .store
                    .record_directory_sync_failure(&e.to_string(), state.clock.now())
                    .await;
                let wait = match &e {
                    SyncError::Zendesk(z) => z.retry_after().unwrap_or(backoff),
                    SyncError::Store(_) => backoff,
                };
                backoff = (backoff * 2).min(longest);
                wait
            }
        };
        let health = state.helpdesk.clone();
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = health.directory_sync_requested() => {}
        }
    }
}
