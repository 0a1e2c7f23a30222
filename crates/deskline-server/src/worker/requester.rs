//! Finds or creates the ticket's requester with as few Zendesk requests as possible: a cached
//! phone → user link first, then a search by phone, and only then a create.

use std::time::Duration;

use deskline_core::plan::RequesterPlan;
use deskline_zendesk::{NewUser, UserRole};

use super::{wait_for_pause, zendesk_failure, JobOutcome};
use crate::state::AppState;

/// Link kind: E.164 number → Zendesk user id.
pub const PHONE_USER_LINK: &str = "phone_user";
/// Link kind: shared requester email → Zendesk user id.
pub const SHARED_REQUESTER_LINK: &str = "shared_requester";

/// First and longest pause between attempts to take a look-up another instance holds.
const FIRST_POLL: Duration = Duration::from_millis(25);
const LONGEST_POLL: Duration = Duration::from_millis(500);

async fn cached(state: &AppState, kind: &str, key: &str) -> Result<Option<u64>, JobOutcome> {
    let link = state
        .store
        .get_link(kind, key)
        .await
        .map_err(|e| JobOutcome::from_store(&e))?;
    Ok(link.and_then(|l| l.value.parse().ok()))
}

async fn remember(state: &AppState, kind: &str, key: &str, id: u64) -> Result<(), JobOutcome> {
    state
        .store
        .put_link(kind, key, &id.to_string(), state.clock.now())
        .await
        .map_err(|e| JobOutcome::from_store(&e))
}

/// The Zendesk user id for a plan's requester. Jobs resolve one number (or the shared
/// requester) at a time, in this process and across every instance on the database: calls
/// from a first-time caller often arrive together, and each would otherwise search and
/// `create_or_update` the same user, spending requests and that endpoint's per-user limit (a
/// 429 that pauses the whole queue for up to a minute).
pub async fn resolve(
    state: &AppState,
    queue: &str,
    plan: &RequesterPlan,
) -> Result<u64, JobOutcome> {
    let (kind, key) = match plan {
        RequesterPlan::Phone { phone, .. } => (PHONE_USER_LINK, phone.as_str().to_string()),
        RequesterPlan::Shared(shared) => {
            (SHARED_REQUESTER_LINK, shared.email.trim().to_lowercase())
        }
    };
    if let Some(id) = cached(state, kind, &key).await? {
        return Ok(id);
    }
    // The process's own lock first, so its jobs wait on each other without polling the
    // database; then the database's, against other instances.
    let _one_at_a_time = state.requester_locks.lock(&format!("{kind}:{key}")).await;
    // Another job may have resolved it while this one waited.
    if let Some(id) = cached(state, kind, &key).await? {
        return Ok(id);
    }
    let lease = format!("requester:{kind}:{key}");
    hold(state, &lease).await?;
    let resolved = match cached(state, kind, &key).await {
        // Another instance resolved it while this one waited.
        Ok(Some(id)) => Ok(id),
        Ok(None) => renewing(state, &lease, look_up(state, queue, plan, kind, &key)).await,
        Err(outcome) => Err(outcome),
    };
    // Released after the link is written, so the next holder finds it. If this fails the
    // lease simply runs out.
    if let Err(e) = state.store.release_lease(&lease, &state.instance_id).await {
        tracing::warn!(error = %e, lease, "cannot release a requester look-up; it expires by itself");
    }
    resolved
}

/// Runs `work` while renewing the look-up lease `name`. The lease is as long as a job's
/// (`worker.lease`), so the callers of an instance that dies mid-look-up wait about as long as
/// its jobs do. Losing it (the database unreachable for a whole lease) does not stop the work:
/// the create is idempotent (external id or email), so a second resolver only repeats
/// requests.
async fn renewing<T>(
    state: &AppState,
    name: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let mut work = std::pin::pin!(work);
    let mut renew = tokio::time::interval((state.worker.lease / 3).max(Duration::from_millis(100)));
    // The first tick is immediate, and the lease was just taken.
    renew.tick().await;
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = renew.tick() => {
                let now = state.clock.now();
                match state.store.try_lease(name, &state.instance_id, state.worker.lease, now).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(lease = name, "lost a requester look-up to another instance; finishing it anyway"),
                    Err(e) => tracing::warn!(error = %e, lease = name, "cannot renew a requester look-up"),
                }
            }
        }
    }
}

/// Waits until this instance holds the look-up lease `name`.
async fn hold(state: &AppState, name: &str) -> Result<(), JobOutcome> {
    let mut poll = FIRST_POLL;
    loop {
        let now = state.clock.now();
        let held = state
            .store
            .try_lease(name, &state.instance_id, state.worker.lease, now)
            .await
            .map_err(|e| JobOutcome::from_store(&e))?;
        if held {
            return Ok(());
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(LONGEST_POLL);
    }
}

/// Searches Zendesk for the requester, creates it when there is none, and remembers its id.
async fn look_up(
    state: &AppState,
    queue: &str,
    plan: &RequesterPlan,
    kind: &str,
    key: &str,
) -> Result<u64, JobOutcome> {
    let id = match plan {
        RequesterPlan::Phone { name, .. } => {
            wait_for_pause(state, queue).await?;
            let found = state
                .zendesk
                .find_users_by_phone(key)
                .await
                .map_err(|e| zendesk_failure(state, &e))?;
            // Prefer a customer over a staff member who happens to share the number; among
            // several, the oldest account.
            let best = found
                .iter()
                .filter(|u| u.active)
                .min_by_key(|u| (u.role != Some(UserRole::EndUser), u.id));
            match best {
                Some(u) => u.id,
                None => {
                    // The external id makes the create idempotent: a retry after a lost answer
                    // matches the same user instead of creating a second one.
                    let user = NewUser {
                        name: Some(name.clone()),
                        phone: Some(key.to_string()),
                        external_id: Some(format!("deskline-phone:{key}")),
                        role: Some(UserRole::EndUser),
                        ..NewUser::default()
                    };
                    wait_for_pause(state, queue).await?;
                    let (user, _created) = state
                        .zendesk
                        .create_or_update_user(&user)
                        .await
                        .map_err(|e| zendesk_failure(state, &e))?;
                    user.id
                }
            }
        }
        RequesterPlan::Shared(shared) => {
            wait_for_pause(state, queue).await?;
            let user = NewUser {
                name: Some(shared.name.clone()),
                email: Some(shared.email.clone()),
                role: Some(UserRole::EndUser),
                skip_verify_email: Some(true),
                ..NewUser::default()
            };
            let (user, _) = state
                .zendesk
                .create_or_update_user(&user)
                .await
                .map_err(|e| zendesk_failure(state, &e))?;
            user.id
        }
    };
    remember(state, kind, key, id).await?;
    Ok(id)
}
