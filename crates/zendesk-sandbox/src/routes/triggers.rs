//! `/api/v2/triggers`: ticket triggers, checked against what the sandbox can evaluate.
//!
//! Conditions and actions the sandbox does not support are a 422 naming them, never ignored,
//! so a trigger that would behave differently in Zendesk cannot be saved by mistake.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::{parse_json, respond, root};
use crate::app::AppState;
use crate::auth::Admin;
use crate::error::{ApiError, Invalid};
use crate::model::{Account, Action, Condition, Trigger};
use crate::params::{page, Paging, Params};
use crate::render;
use crate::rules::{actions, conditions};

/// Trigger endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/triggers", get(list).post(create))
        .route(
            "/api/v2/triggers/{id}",
            get(show).put(update).delete(remove),
        )
}

fn trigger_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound("trigger"))
}

fn condition_list(
    list: Option<&Value>,
    key: &str,
    account: &Account,
    bad: &mut Invalid,
) -> Vec<Condition> {
    let items = match list {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            bad.add(
                "conditions",
                "InvalidValue",
                format!("Conditions: {key} must be an array, got {other}"),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in items {
        let field = item.get("field").and_then(Value::as_str);
        let Some(field) = field.filter(|f| !f.is_empty()) else {
            bad.add(
                "conditions",
                "InvalidValue",
                format!("Conditions: {key} entry without a field: {item}"),
            );
            continue;
        };
        let condition = Condition {
            field: field.to_string(),
            // Zendesk's own examples leave the operator out of `update_type`; "is" is meant.
            operator: item
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or("is")
                .to_string(),
            value: item.get("value").cloned().unwrap_or(Value::Null),
        };
        match conditions::check(&condition, account) {
            Ok(()) => out.push(condition),
            Err(msg) => bad.add("conditions", "InvalidValue", format!("Conditions: {msg}")),
        }
    }
    out
}

fn conditions_of(
    t: &Map<String, Value>,
    account: &Account,
    bad: &mut Invalid,
) -> (Vec<Condition>, Vec<Condition>) {
    let c = match t.get("conditions") {
        Some(Value::Object(c)) => c,
        None | Some(Value::Null) => {
            bad.add("conditions", "BlankValue", "Conditions: cannot be blank");
            return (Vec::new(), Vec::new());
        }
        Some(other) => {
            bad.add(
                "conditions",
                "InvalidValue",
                format!("Conditions: must be an object with all and any, got {other}"),
            );
            return (Vec::new(), Vec::new());
        }
    };
    let all = condition_list(c.get("all"), "all", account, bad);
    let any = condition_list(c.get("any"), "any", account, bad);
    let given = |k: &str| {
        c.get(k)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    if !given("all") && !given("any") {
        // Sandbox choice: a trigger with no conditions would fire on every update.
        bad.add(
            "conditions",
            "BlankValue",
            "Conditions: a trigger needs at least one condition",
        );
    }
    (all, any)
}

fn actions_of(t: &Map<String, Value>, account: &Account, bad: &mut Invalid) -> Vec<Action> {
    let items = match t.get("actions") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        None | Some(Value::Null) | Some(Value::Array(_)) => {
            bad.add(
                "actions",
                "BlankValue",
                "Trigger must contain at least one action",
            );
            return Vec::new();
        }
        Some(other) => {
            bad.add(
                "actions",
                "InvalidValue",
                format!("Actions: must be an array, got {other}"),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in items {
        let Some(field) = item
            .get("field")
            .and_then(Value::as_str)
            .filter(|f| !f.is_empty())
        else {
            bad.add(
                "actions",
                "InvalidValue",
                format!("Actions: entry without a field: {item}"),
            );
            continue;
        };
        let action = Action {
            field: field.to_string(),
            value: item.get("value").cloned().unwrap_or(Value::Null),
        };
        match actions::parse(&action, account) {
            Ok(_) => out.push(action),
            Err(msg) => bad.add("actions", "InvalidValue", format!("Actions: {msg}")),
        }
    }
    out
}

fn title_of(t: &Map<String, Value>, bad: &mut Invalid) -> String {
    match t.get("title") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            bad.add("title", "BlankValue", "Title: cannot be blank");
            String::new()
        }
        Some(other) => {
            bad.add(
                "title",
                "InvalidValue",
                format!("Title: must be a string, got {other}"),
            );
            String::new()
        }
    }
}

/// The optional properties: active, position, description, category_id.
fn apply_optional(trigger: &mut Trigger, t: &Map<String, Value>, bad: &mut Invalid) {
    match t.get("active") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => trigger.active = *b,
        Some(other) => bad.add(
            "active",
            "InvalidValue",
            format!("Active: must be true or false, got {other}"),
        ),
    }
    match t.get("position") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_u64() {
            Some(p) => trigger.position = p,
            None => bad.add(
                "position",
                "InvalidValue",
                format!("Position: must be a whole number, got {v}"),
            ),
        },
    }
    match t.get("description") {
        None => {}
        Some(Value::Null) => trigger.description.clear(),
        Some(Value::String(s)) => trigger.description = s.clone(),
        Some(other) => bad.add(
            "description",
            "InvalidValue",
            format!("Description: must be a string, got {other}"),
        ),
    }
    match t.get("category_id") {
        None => {}
        Some(Value::Null) => trigger.category_id = None,
        Some(Value::String(s)) => trigger.category_id = Some(s.clone()),
        Some(Value::Number(n)) => trigger.category_id = Some(n.to_string()),
        Some(other) => bad.add(
            "category_id",
            "InvalidValue",
            format!("Category: must be an id, got {other}"),
        ),
    }
}

async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = parse_json(&body)?;
    let t = root(&value, "trigger")?;
    let mut account = state.change_account();
    let mut bad = Invalid::default();
    let title = title_of(t, &mut bad);
    let (all, any) = conditions_of(t, &account, &mut bad);
    let actions = actions_of(t, &account, &mut bad);
    let now = Utc::now();
    // New triggers go last.
    let last = account
        .triggers
        .values()
        .map(|t| t.position)
        .max()
        .unwrap_or(0);
    let mut trigger = Trigger {
        id: 0,
        title,
        description: String::new(),
        active: true,
        position: last + 1,
        category_id: None,
        all,
        any,
        actions,
        created_at: now,
        updated_at: now,
    };
    apply_optional(&mut trigger, t, &mut bad);
    bad.finish()?;
    trigger.id = account.allocate_id();
    let out = json!({"trigger": render::trigger(&state.base_url, &trigger)});
    let location = state.url_for("triggers", trigger.id);
    account.triggers.insert(trigger.id, trigger);
    Ok(respond(StatusCode::CREATED, out, Some(location)))
}

async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Response, ApiError> {
    let paging = Paging::from_params(&params)?;
    let active = match params.get("active") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "active must be true or false, got {other:?}"
            )))
        }
    };
    let account = state.lock_account();
    let mut triggers: Vec<&Trigger> = account
        .triggers
        .values()
        .filter(|t| active.is_none_or(|a| t.active == a))
        .collect();
    triggers.sort_by_key(|t| (t.position, t.id));
    // Listed in execution order; page keys are positions in that order.
    let items: Vec<(u64, Value)> = triggers
        .iter()
        .enumerate()
        .map(|(i, t)| (i as u64 + 1, render::trigger(&state.base_url, t)))
        .collect();
    let keep: Vec<(String, String)> = active
        .map(|a| vec![("active".to_string(), a.to_string())])
        .unwrap_or_default();
    let url = format!("{}/api/v2/triggers.json", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("triggers", items, paging, &url, &keep),
        None,
    ))
}

async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = trigger_id(&id)?;
    let account = state.lock_account();
    let t = account
        .triggers
        .get(&id)
        .ok_or(ApiError::NotFound("trigger"))?;
    Ok(respond(
        StatusCode::OK,
        json!({"trigger": render::trigger(&state.base_url, t)}),
        None,
    ))
}

async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = trigger_id(&id)?;
    let value = parse_json(&body)?;
    let t = root(&value, "trigger")?;
    let mut account = state.change_account();
    let mut trigger = account
        .triggers
        .get(&id)
        .cloned()
        .ok_or(ApiError::NotFound("trigger"))?;
    let mut bad = Invalid::default();
    if t.contains_key("title") {
        trigger.title = title_of(t, &mut bad);
    }
    // As documented for Zendesk: updating conditions or actions replaces both, so the one
    // left out becomes empty (and an update without actions is refused).
    if t.contains_key("conditions") || t.contains_key("actions") {
        (trigger.all, trigger.any) = conditions_of(t, &account, &mut bad);
        trigger.actions = actions_of(t, &account, &mut bad);
    }
    apply_optional(&mut trigger, t, &mut bad);
    bad.finish()?;
    trigger.updated_at = Utc::now();
    let out = json!({"trigger": render::trigger(&state.base_url, &trigger)});
    account.triggers.insert(id, trigger);
    Ok(respond(StatusCode::OK, out, None))
}

async fn remove(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = trigger_id(&id)?;
    match state.change_account().triggers.remove(&id) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ApiError::NotFound("trigger")),
    }
}
