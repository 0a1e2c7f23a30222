//! Who is calling: Zendesk's API-token Basic auth, Bearer tokens, and agent passwords.
//!
//! An API token may act as any staff user (the email part picks who). An agent's password
//! stands for that agent working in the Agent Workspace, so their changes come "via web"
//! (id 0) instead of "via API" (id 5): that is how a test posts a reply the way a person would,
//! and how a trigger with `current_via_id is_not 5` can fire in the sandbox.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::ApiError;

/// Via id Zendesk gives changes made through the API (`web_service`).
pub const VIA_API: u32 = 5;
/// Via id of changes made in the agent interface (`web`).
pub const VIA_WEB: u32 = 0;

/// The authenticated user a request acts as.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The acting user's id.
    pub user_id: u64,
    /// How the actor's changes arrive: [`VIA_API`] or [`VIA_WEB`].
    pub via_id: u32,
}

fn secret_matches(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Checks an `Authorization` header value against the account.
pub fn authenticate(state: &AppState, header: Option<&str>) -> Result<Actor, ApiError> {
    let header = header.ok_or(ApiError::Unauthorized)?.trim();
    let (scheme, rest) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
    let account = state.lock_account();
    if scheme.eq_ignore_ascii_case("bearer") {
        // A Bearer (OAuth) token acts as the admin it was issued to.
        if !secret_matches(rest.trim(), &state.config.api_token) {
            return Err(ApiError::Unauthorized);
        }
        let admin = account
            .user_by_email(&state.config.admin_email)
            .ok_or(ApiError::Unauthorized)?;
        return Ok(Actor {
            user_id: admin.id,
            via_id: VIA_API,
        });
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::Unauthorized);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| ApiError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
    let (user_part, secret) = decoded.split_once(':').ok_or(ApiError::Unauthorized)?;
    let (email, via_id, ok) = match user_part.strip_suffix("/token") {
        Some(email) => (
            email,
            VIA_API,
            secret_matches(secret, &state.config.api_token),
        ),
        None => {
            let ok = state
                .passwords
                .get(&user_part.trim().to_ascii_lowercase())
                .is_some_and(|expected| secret_matches(secret, expected));
            (user_part, VIA_WEB, ok)
        }
    };
    if !ok {
        return Err(ApiError::Unauthorized);
    }
    let user = account.user_by_email(email).ok_or(ApiError::Unauthorized)?;
    if !user.active || user.suspended {
        return Err(ApiError::Unauthorized);
    }
    if !user.role.is_staff() {
        return Err(ApiError::Forbidden);
    }
    Ok(Actor {
        user_id: user.id,
        via_id,
    })
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        authenticate(state, header)
    }
}

/// An actor that must be an admin (webhooks, triggers, ticket fields, sandbox controls).
#[derive(Clone, Debug)]
pub struct Admin(pub Actor);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let actor = Actor::from_request_parts(parts, state).await?;
        let is_admin = state
            .lock_account()
            .users
            .get(&actor.user_id)
            .is_some_and(|u| u.role == crate::model::Role::Admin);
        if is_admin {
            Ok(Admin(actor))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}
