//! Groups, group memberships and ticket fields.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use super::{parse_json, respond, root};
use crate::app::AppState;
use crate::auth::{Actor, Admin};
use crate::error::{ApiError, Invalid};
use crate::model::{FieldOption, TicketField};
use crate::params::{page, Paging, Params};
use crate::render;
use crate::seed::TICKET_FIELD_TYPES;

/// Directory endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/groups", get(list_groups))
        .route("/api/v2/groups/{id}", get(show_group))
        .route("/api/v2/groups/{id}/memberships", get(group_memberships))
        .route("/api/v2/group_memberships", get(list_memberships))
        .route(
            "/api/v2/users/{id}/group_memberships",
            get(user_memberships),
        )
        .route("/api/v2/ticket_fields", get(list_fields).post(create_field))
        .route("/api/v2/ticket_fields/{id}", get(show_field))
}

fn parse_id(raw: &str, what: &'static str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(what))
}

async fn list_groups(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    let paging = Paging::from_params(&params)?;
    let account = state.lock_account();
    let items = account
        .groups
        .values()
        .map(|g| (g.id, render::group(&state.base_url, g)))
        .collect();
    let url = format!("{}/api/v2/groups.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("groups", items, paging, &url, &[]),
        None,
    ))
}

async fn show_group(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "group")?;
    let account = state.lock_account();
    let g = account.groups.get(&id).ok_or(ApiError::NotFound("group"))?;
    Ok(respond(
        StatusCode::OK,
        json!({"group": render::group(&state.base_url, g)}),
        None,
    ))
}

fn memberships(
    state: &AppState,
    params: &Params,
    url: String,
    keep: impl Fn(&crate::model::GroupMembership) -> bool,
) -> Result<Response, ApiError> {
    let paging = Paging::from_params(params)?;
    let account = state.lock_account();
    let items = account
        .group_memberships
        .values()
        .filter(|m| keep(m))
        .map(|m| (m.id, render::group_membership(&state.base_url, m)))
        .collect();
    Ok(respond(
        StatusCode::OK,
        page("group_memberships", items, paging, &url, &[]),
        None,
    ))
}

async fn list_memberships(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    let url = format!("{}/api/v2/group_memberships.json", state.base_url);
    memberships(&state, &params, url, |_| true)
}

async fn group_memberships(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "group")?;
    if !state.lock_account().groups.contains_key(&id) {
        return Err(ApiError::NotFound("group"));
    }
    let url = format!("{}/api/v2/groups/{id}/memberships.json", state.base_url);
    memberships(&state, &params, url, |m| m.group_id == id)
}

async fn user_memberships(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "user")?;
    if !state.lock_account().users.contains_key(&id) {
        return Err(ApiError::NotFound("user"));
    }
    let url = format!(
        "{}/api/v2/users/{id}/group_memberships.json",
        state.base_url
    );
    memberships(&state, &params, url, |m| m.user_id == id)
}

async fn list_fields(
    State(state): State<AppState>,
    _actor: Actor,
    params: Params,
) -> Result<Response, ApiError> {
    let paging = Paging::from_params(&params)?;
    let account = state.lock_account();
    let items = account
        .ticket_fields
        .values()
        .map(|f| (f.id, render::ticket_field(&state.base_url, f)))
        .collect();
    let url = format!("{}/api/v2/ticket_fields.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("ticket_fields", items, paging, &url, &[]),
        None,
    ))
}

async fn show_field(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "ticket field")?;
    let account = state.lock_account();
    let f = account
        .ticket_fields
        .get(&id)
        .ok_or(ApiError::NotFound("ticket field"))?;
    Ok(respond(
        StatusCode::OK,
        json!({"ticket_field": render::ticket_field(&state.base_url, f)}),
        None,
    ))
}

async fn create_field(
    State(state): State<AppState>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(&body)?;
    let f = root(&value, "ticket_field")?;
    let mut bad = Invalid::default();
    let title = f
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if title.is_empty() {
        bad.add("title", "BlankValue", "Title: cannot be blank");
    }
    let field_type = f.get("type").and_then(Value::as_str).unwrap_or("");
    if !TICKET_FIELD_TYPES.contains(&field_type) {
        bad.add(
            "type",
            "InvalidValue",
            format!(
                "Type: {field_type:?} is not one of {}",
                TICKET_FIELD_TYPES.join(", ")
            ),
        );
    }
    let raw_options = f
        .get("custom_field_options")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut options = Vec::new();
    for o in &raw_options {
        match (
            o.get("name").and_then(Value::as_str),
            o.get("value").and_then(Value::as_str),
        ) {
            (Some(n), Some(v)) if !v.trim().is_empty() => {
                options.push((n.to_string(), v.to_string()))
            }
            _ => bad.add(
                "custom_field_options",
                "InvalidValue",
                format!("custom_field_options: each option needs a name and a value, got {o}"),
            ),
        }
    }
    if matches!(field_type, "tagger" | "multiselect") && options.is_empty() {
        bad.add(
            "custom_field_options",
            "BlankValue",
            "custom_field_options: a drop-down field needs at least one option",
        );
    }
    bad.finish()?;
    let now = Utc::now();
    let mut account = state.change_account();
    let id = account.allocate_id();
    let options = options
        .into_iter()
        .map(|(name, value)| FieldOption {
            id: account.allocate_id(),
            name,
            value,
        })
        .collect();
    let field = TicketField {
        id,
        field_type: field_type.to_string(),
        title: title.to_string(),
        description: f
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        active: f.get("active").and_then(Value::as_bool).unwrap_or(true),
        required: f.get("required").and_then(Value::as_bool).unwrap_or(false),
        options,
        regexp_for_validation: f
            .get("regexp_for_validation")
            .and_then(Value::as_str)
            .map(str::to_string),
        created_at: now,
        updated_at: now,
    };
    let body = json!({"ticket_field": render::ticket_field(&state.base_url, &field)});
    account.ticket_fields.insert(id, field);
    Ok(respond(
        StatusCode::CREATED,
        body,
        Some(state.url_for("ticket_fields", id)),
    ))
}
