//! `/api/v2/users`: list, show, search, create_or_update; and organizations.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::{parse_json, respond, root};
use crate::app::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, Invalid};
use crate::limits::Admission;
use crate::model::{Account, Role, User};
use crate::params::{page, Paging, Params};
use crate::render;
use crate::tickets::{looks_like_email, new_end_user};

/// User and organization endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/users", get(list_users))
        .route("/api/v2/users/me", get(show_me))
        .route("/api/v2/users/search", get(search_users))
        .route("/api/v2/users/create_or_update", post(create_or_update))
        .route("/api/v2/users/{id}", get(show_user))
        .route("/api/v2/organizations", get(list_organizations))
        .route("/api/v2/organizations/{id}", get(show_organization))
}

async fn list_users(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    let paging = Paging::from_params(&params)?;
    let mut roles: Vec<Role> = Vec::new();
    let mut keep = Vec::new();
    for (name, value) in params
        .0
        .iter()
        .filter(|(k, _)| k == "role" || k == "role[]")
    {
        let role = Role::parse(value).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name}: {value:?} is not a role (end-user, agent or admin)"
            ))
        })?;
        roles.push(role);
        keep.push((name.clone(), value.clone()));
    }
    let external_id = params.get("external_id");
    if let Some(e) = external_id {
        keep.push(("external_id".into(), e.to_string()));
    }
    let account = state.lock_account();
    let items: Vec<(u64, Value)> = account
        .users
        .values()
        .filter(|u| roles.is_empty() || roles.contains(&u.role))
        .filter(|u| {
            external_id.is_none_or(|e| {
                u.external_id
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(e))
            })
        })
        .map(|u| (u.id, render::user(&state.base_url, u)))
        .collect();
    let list_url = format!("{}/api/v2/users.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("users", items, paging, &list_url, &keep),
        None,
    ))
}

fn user_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound("user"))
}

async fn show_user(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let account = state.lock_account();
    let user = account.users.get(&id).ok_or(ApiError::NotFound("user"))?;
    Ok(respond(
        StatusCode::OK,
        json!({"user": render::user(&state.base_url, user)}),
        None,
    ))
}

async fn show_me(State(state): State<AppState>, actor: Actor) -> Result<Response, ApiError> {
    let account = state.lock_account();
    let user = account
        .users
        .get(&actor.user_id)
        .ok_or(ApiError::NotFound("user"))?;
    Ok(respond(
        StatusCode::OK,
        json!({"user": render::user(&state.base_url, user)}),
        None,
    ))
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Whether a user matches one search term (Zendesk's `field:value` syntax or a bare word).
fn matches_term(u: &User, term: &str) -> bool {
    let (field, value) = match term.split_once(':') {
        Some((f, v)) if ["email", "phone", "name", "role", "external_id"].contains(&f) => {
            (Some(f), v)
        }
        _ => (None, term),
    };
    let value = value.trim_matches('"');
    let email = || {
        u.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(value))
    };
    let phone = || {
        let wanted = digits(value);
        !wanted.is_empty() && u.phone.as_deref().is_some_and(|p| digits(p) == wanted)
    };
    let name = || u.name.to_lowercase().contains(&value.to_lowercase());
    match field {
        Some("email") => email(),
        Some("phone") => phone(),
        Some("name") => name(),
        Some("role") => u.role.as_str() == value,
        Some("external_id") => u
            .external_id
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(value)),
        _ => email() || phone() || name(),
    }
}

async fn search_users(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    let query = params.get("query").map(str::trim).filter(|q| !q.is_empty());
    let external_id = params.get("external_id");
    if query.is_none() && external_id.is_none() {
        return Err(ApiError::BadRequest(
            "users/search needs a query or an external_id parameter".into(),
        ));
    }
    // Search is offset-paged only, as on Zendesk.
    let per_page = match params.get("per_page") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "per_page must be a number from 1 to 100, got {v:?}"
                ))
            })?,
        None => 100,
    };
    let page_no =
        match params.get("page") {
            Some(v) => v.parse::<usize>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ApiError::BadRequest(format!("page must be 1 or more, got {v:?}"))
            })?,
            None => 1,
        };
    let now = Utc::now();
    let account = state.lock_account();
    let terms: Vec<&str> = query
        .map(|q| q.split_whitespace().collect())
        .unwrap_or_default();
    let items: Vec<(u64, Value)> = account
        .users
        .values()
        .filter(|u| u.searchable_from <= now)
        .filter(|u| terms.iter().all(|t| matches_term(u, t)))
        .filter(|u| {
            external_id.is_none_or(|e| {
                u.external_id
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(e))
            })
        })
        .map(|u| (u.id, render::user(&state.base_url, u)))
        .collect();
    let keep: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| k == "query" || k == "external_id")
        .cloned()
        .collect();
    let list_url = format!("{}/api/v2/users/search.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page(
            "users",
            items,
            Paging::Offset {
                page: page_no,
                per_page,
            },
            &list_url,
            &keep,
        ),
        None,
    ))
}

/// The writable user properties of a `create_or_update` body, checked.
struct UserInput {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
    role: Option<Role>,
    organization_id: Option<u64>,
    user_fields: Option<Map<String, Value>>,
    time_zone: Option<String>,
    notes: Option<String>,
}

fn user_input(account: &Account, u: &Map<String, Value>) -> Result<UserInput, ApiError> {
    let mut bad = Invalid::default();
    let mut text = |key: &str| -> Option<String> {
        match u.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) if key == "external_id" => Some(n.to_string()),
            Some(other) => {
                bad.add(
                    key,
                    "InvalidValue",
                    format!("{key}: must be a string, got {other}"),
                );
                None
            }
        }
    };
    let name = text("name");
    let email = text("email").filter(|e| !e.is_empty());
    let phone = text("phone").filter(|p| !p.is_empty());
    let external_id = text("external_id").filter(|e| !e.is_empty());
    let role_text = text("role");
    let time_zone = text("time_zone");
    let notes = text("notes");
    if let Some(e) = &email {
        if !looks_like_email(e) {
            bad.add(
                "email",
                "InvalidValue",
                format!("Email: {e} is not properly formatted"),
            );
        }
    }
    let role = match role_text.as_deref() {
        None => None,
        Some(r) => match Role::parse(r) {
            Some(role) => Some(role),
            None => {
                bad.add(
                    "role",
                    "InvalidValue",
                    format!("Role: {r} is not end-user, agent or admin"),
                );
                None
            }
        },
    };
    let organization_id = match u.get("organization_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v
            .as_u64()
            .filter(|id| account.organizations.contains_key(id))
        {
            Some(id) => Some(id),
            None => {
                bad.add(
                    "organization_id",
                    "InvalidValue",
                    format!("Organization: {v} does not exist"),
                );
                None
            }
        },
    };
    let user_fields = match u.get("user_fields") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            bad.add(
                "user_fields",
                "InvalidValue",
                "user_fields: must be an object keyed by field key",
            );
            None
        }
    };
    bad.finish()?;
    Ok(UserInput {
        name,
        email,
        phone,
        external_id,
        role,
        organization_id,
        user_fields,
        time_zone,
        notes,
    })
}

fn apply(user: &mut User, input: UserInput) {
    if let Some(n) = input.name.filter(|n| !n.is_empty()) {
        user.name = n;
    }
    if user.email.is_none() {
        user.email = input.email;
    }
    if input.phone.is_some() {
        user.phone = input.phone;
    }
    if let Some(e) = input.external_id {
        // The match is case-insensitive; the case sent wins, as on Zendesk.
        user.external_id = Some(e);
    }
    if let Some(r) = input.role {
        user.role = r;
    }
    if input.organization_id.is_some() {
        user.organization_id = input.organization_id;
    }
    if let Some(fields) = input.user_fields {
        user.user_fields.extend(fields);
    }
    if let Some(tz) = input.time_zone {
        user.time_zone = tz;
    }
    if let Some(n) = input.notes {
        user.notes = n;
    }
}

fn refuse(retry_after: u64, description: &str) -> ApiError {
    ApiError::RateLimited {
        retry_after,
        description: description.to_string(),
    }
}

async fn create_or_update(
    State(state): State<AppState>,
    _actor: Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(&body)?;
    let u = root(&value, "user")?;
    let now = Instant::now();
    if let Admission::Refused { retry_after } = state.limits.create_or_update.admit((), now) {
        return Err(refuse(
            retry_after,
            "create_or_update is limited to 1 request per second per account",
        ));
    }
    let profile_key = ["email", "external_id", "phone", "name"]
        .iter()
        .find_map(|k| u.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Admission::Refused { retry_after } = state
        .limits
        .create_or_update_per_user
        .admit(profile_key, now)
    {
        return Err(refuse(
            retry_after,
            "create_or_update is limited to 5 requests per minute per user",
        ));
    }
    let mut account = state.change_account();
    let input = user_input(&account, u)?;
    let existing = input
        .email
        .as_deref()
        .and_then(|e| account.user_by_email(e))
        .or_else(|| {
            input
                .external_id
                .as_deref()
                .and_then(|e| account.user_by_external_id(e))
        })
        .map(|u| u.id);
    let at = Utc::now();
    let (status, id) = match existing {
        Some(id) => {
            if let Some(user) = account.users.get_mut(&id) {
                apply(user, input);
                user.updated_at = at;
            }
            (StatusCode::OK, id)
        }
        None => {
            let name = match input.name.as_deref().filter(|n| !n.is_empty()) {
                Some(n) => n.to_string(),
                None => {
                    return Err(ApiError::invalid(
                        "name",
                        "BlankValue",
                        "Name: cannot be blank",
                    ))
                }
            };
            let delay =
                chrono::Duration::from_std(state.config.search_index_delay).unwrap_or_default();
            let id = new_end_user(&mut account, name, None, None, at, delay);
            if let Some(user) = account.users.get_mut(&id) {
                apply(user, input);
                user.verified = u.get("verified").and_then(Value::as_bool).unwrap_or(false);
            }
            (StatusCode::CREATED, id)
        }
    };
    let user = account.users.get(&id).ok_or(ApiError::NotFound("user"))?;
    Ok(respond(
        status,
        json!({"user": render::user(&state.base_url, user)}),
        Some(state.url_for("users", id)),
    ))
}

async fn list_organizations(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    let paging = Paging::from_params(&params)?;
    let account = state.lock_account();
    let items = account
        .organizations
        .values()
        .map(|o| (o.id, render::organization(&state.base_url, o)))
        .collect();
    let list_url = format!("{}/api/v2/organizations.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("organizations", items, paging, &list_url, &[]),
        None,
    ))
}

async fn show_organization(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::NotFound("organization"))?;
    let account = state.lock_account();
    let org = account
        .organizations
        .get(&id)
        .ok_or(ApiError::NotFound("organization"))?;
    Ok(respond(
        StatusCode::OK,
        json!({"organization": render::organization(&state.base_url, org)}),
        None,
    ))
}
