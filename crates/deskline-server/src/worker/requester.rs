//! Finds or creates the ticket's requester with as few Zendesk requests as possible: a cached
//! phone → user link first, then a search by phone, and only then a create.

use deskline_core::plan::RequesterPlan;
use deskline_zendesk::{NewUser, UserRole};

use super::{wait_for_pause, zendesk_failure, JobOutcome};
use crate::state::AppState;

/// Link kind: E.164 number → Zendesk user id.
pub const PHONE_USER_LINK: &str = "phone_user";
/// Link kind: shared requester email → Zendesk user id.
pub const SHARED_REQUESTER_LINK: &str = "shared_requester";

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

/// The Zendesk user id for a plan's requester. Jobs of this process resolve one number (or
/// the shared requester) at a time: calls from a first-time caller often arrive together, and
/// each would otherwise search and `create_or_update` the same user, spending requests and
/// that endpoint's per-user limit (a 429 that pauses the whole queue for up to a minute).
pub async fn resolve(
    state: &AppState,
    queue: &str,
    plan: &RequesterPlan,
) -> Result<u64, JobOutcome> {
    match plan {
        RequesterPlan::Phone { phone, name } => {
            let key = phone.as_str();
            if let Some(id) = cached(state, PHONE_USER_LINK, key).await? {
                return Ok(id);
            }
            let _one_at_a_time = state.requester_locks.lock(&format!("phone:{key}")).await;
            // Another job may have resolved the number while this one waited.
            if let Some(id) = cached(state, PHONE_USER_LINK, key).await? {
                return Ok(id);
            }
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
            let id = match best {
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
            };
            remember(state, PHONE_USER_LINK, key, id).await?;
            Ok(id)
        }
        RequesterPlan::Shared(shared) => {
            let key = shared.email.trim().to_lowercase();
            if let Some(id) = cached(state, SHARED_REQUESTER_LINK, &key).await? {
                return Ok(id);
            }
            let _one_at_a_time = state.requester_locks.lock(&format!("shared:{key}")).await;
            if let Some(id) = cached(state, SHARED_REQUESTER_LINK, &key).await? {
                return Ok(id);
            }
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
            remember(state, SHARED_REQUESTER_LINK, &key, user.id).await?;
            Ok(user.id)
        }
    }
}
