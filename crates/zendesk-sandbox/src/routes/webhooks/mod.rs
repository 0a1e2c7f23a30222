//! `/api/v2/webhooks`, their signing secrets and invocations, and the sandbox's delivery log
//! (`/sandbox/deliveries`).
//!
//! Webhooks belong to Zendesk's newer API, whose errors are `{"errors": [{code, title, detail,
//! status, source}]}` rather than `RecordInvalid`; validation problems are 400s, as in the
//! webhooks API reference. Update and patch answer 204 without a body, as documented.

mod activity;
mod validate;

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Map, Value};

use super::{parse_json, respond, root};
use crate::app::AppState;
use crate::auth::Admin;
use crate::delivery::ulid;
use crate::error::ApiError;
use crate::model::Webhook;
use crate::params::{page, Paging, Params};
use crate::render;
use activity::{attempts, clear_deliveries, invocations, list_deliveries};
use validate::{validate, Input};

/// Webhook endpoints and the delivery log.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/webhooks", get(list).post(create))
        .route(
            "/api/v2/webhooks/{id}",
            get(show).put(replace).patch(patch).delete(remove),
        )
        .route(
            "/api/v2/webhooks/{id}/signing_secret",
            get(show_secret).post(reset_secret),
        )
        .route("/api/v2/webhooks/{id}/invocations", get(invocations))
        .route(
            "/api/v2/webhooks/{id}/invocations/{invocation_id}/attempts",
            get(attempts),
        )
        .route(
            "/sandbox/deliveries",
            get(list_deliveries).delete(clear_deliveries),
        )
}

/// One entry of an `errors` answer.
struct Problem {
    code: &'static str,
    title: &'static str,
    detail: String,
    /// The field, as a dotted path under `webhook` (`authentication.data.token`).
    field: Option<String>,
}

fn invalid(field: &str, detail: impl Into<String>) -> Problem {
    Problem {
        code: "InvalidValue",
        title: "Invalid value",
        detail: detail.into(),
        field: Some(field.to_string()),
    }
}

fn missing(field: &str) -> Problem {
    Problem {
        code: "MissingValue",
        title: "Missing value",
        detail: format!("{field} is required"),
        field: Some(field.to_string()),
    }
}

/// An error answer: `errors` for the webhooks API's own problems, or a common `ApiError`.
enum HookError {
    Problems(StatusCode, Vec<Problem>),
    Api(ApiError),
}

impl IntoResponse for HookError {
    fn into_response(self) -> Response {
        match self {
            HookError::Problems(status, list) => problems(status, list),
            HookError::Api(e) => e.into_response(),
        }
    }
}

fn invalid_request(list: Vec<Problem>) -> HookError {
    HookError::Problems(StatusCode::BAD_REQUEST, list)
}

fn problems(status: StatusCode, list: Vec<Problem>) -> Response {
    let errors: Vec<Value> = list
        .into_iter()
        .map(|p| {
            let source = p
                .field
                .map(|f| json!({"pointer": format!("/webhook/{}", f.replace('.', "/"))}));
            json!({
                "code": p.code,
                "title": p.title,
                "detail": p.detail,
                "status": status.as_u16().to_string(),
                "source": source,
            })
        })
        .collect();
    respond(status, json!({"errors": errors}), None)
}

fn not_found(what: &str, id: &str) -> HookError {
    HookError::Problems(
        StatusCode::NOT_FOUND,
        vec![Problem {
            code: "RecordNotFound",
            title: "Not Found",
            detail: format!("{what} {id} not found"),
            field: None,
        }],
    )
}

/// Malformed JSON and bad paging parameters, in the `errors` shape.
fn bad_request(e: ApiError) -> HookError {
    let detail = match e {
        ApiError::BadRequest(msg) => msg,
        other => return HookError::Api(other),
    };
    invalid_request(vec![Problem {
        code: "InvalidRequest",
        title: "Invalid request",
        detail,
        field: None,
    }])
}

/// The webhooks API pages by cursor only; offset parameters just set the page size.
fn cursor_paging(params: &Params) -> Result<Paging, HookError> {
    Ok(match Paging::from_params(params).map_err(bad_request)? {
        Paging::Offset { per_page, .. } => Paging::Cursor {
            size: per_page,
            after: None,
            before: None,
        },
        cursor => cursor,
    })
}

fn new_secret() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 48)
}

fn store(w: &mut Webhook, input: Input, actor: u64) {
    w.name = input.name;
    w.description = input.description;
    w.endpoint = input.endpoint;
    w.http_method = input.http_method;
    w.request_format = input.request_format;
    w.status = input.status;
    w.subscriptions = input.subscriptions;
    w.authentication = input.authentication;
    w.custom_headers = input.custom_headers;
    w.updated_at = Utc::now();
    w.updated_by = actor;
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, HookError> {
    let value = parse_json(body).map_err(bad_request)?;
    root(&value, "webhook").cloned().map_err(bad_request)
}

async fn create(
    State(state): State<AppState>,
    Admin(actor): Admin,
    body: Bytes,
) -> Result<Response, HookError> {
    let w = body_object(&body)?;
    let input = validate(&w, None).map_err(invalid_request)?;
    let now = Utc::now();
    let mut webhook = Webhook {
        id: ulid(now),
        name: String::new(),
        description: String::new(),
        endpoint: String::new(),
        http_method: String::new(),
        request_format: String::new(),
        status: String::new(),
        subscriptions: Vec::new(),
        authentication: None,
        custom_headers: BTreeMap::new(),
        signing_secret: new_secret(),
        created_at: now,
        updated_at: now,
        created_by: actor.user_id,
        updated_by: actor.user_id,
    };
    store(&mut webhook, input, actor.user_id);
    let out = json!({"webhook": render::webhook(&webhook)});
    let location = state.url_for("webhooks", &webhook.id);
    state
        .change_account()
        .webhooks
        .insert(webhook.id.clone(), webhook);
    Ok(respond(StatusCode::CREATED, out, Some(location)))
}

async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    params: Params,
) -> Result<Response, HookError> {
    let paging = cursor_paging(&params)?;
    let name_contains = params.get("filter[name_contains]").map(str::to_lowercase);
    let status = params.get("filter[status]");
    let account = state.lock_account();
    // Ids are ULIDs, so id order is creation order; cursors wrap the position.
    let items: Vec<(u64, Value)> = account
        .webhooks
        .values()
        .enumerate()
        .filter(|(_, w)| {
            name_contains
                .as_deref()
                .is_none_or(|n| w.name.to_lowercase().contains(n))
        })
        .filter(|(_, w)| status.is_none_or(|s| w.status == s))
        .map(|(i, w)| (i as u64 + 1, render::webhook(w)))
        .collect();
    let keep: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| k.starts_with("filter["))
        .cloned()
        .collect();
    let url = format!("{}/api/v2/webhooks", state.base_url);
    Ok(respond(
        StatusCode::OK,
        page("webhooks", items, paging, &url, &keep),
        None,
    ))
}

async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, HookError> {
    let account = state.lock_account();
    let w = account
        .webhooks
        .get(&id)
        .ok_or_else(|| not_found("webhook", &id))?;
    Ok(respond(
        StatusCode::OK,
        json!({"webhook": render::webhook(w)}),
        None,
    ))
}

fn update_with(
    state: &AppState,
    id: &str,
    actor: u64,
    build: impl FnOnce(&Webhook) -> Map<String, Value>,
) -> Result<Response, HookError> {
    let mut account = state.change_account();
    let existing = account
        .webhooks
        .get(id)
        .ok_or_else(|| not_found("webhook", id))?;
    let candidate = build(existing);
    let input = validate(&candidate, Some(existing)).map_err(invalid_request)?;
    if let Some(w) = account.webhooks.get_mut(id) {
        store(w, input, actor);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn replace(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HookError> {
    let w = body_object(&body)?;
    update_with(&state, &id, actor.user_id, |_| w)
}

/// The stored definition as a JSON object, credentials included, for a patch to merge into.
fn definition(w: &Webhook) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(w.name));
    m.insert("description".into(), json!(w.description));
    m.insert("endpoint".into(), json!(w.endpoint));
    m.insert("http_method".into(), json!(w.http_method));
    m.insert("request_format".into(), json!(w.request_format));
    m.insert("status".into(), json!(w.status));
    m.insert("subscriptions".into(), json!(w.subscriptions));
    m.insert(
        "authentication".into(),
        w.authentication.clone().unwrap_or(Value::Null),
    );
    m.insert("custom_headers".into(), json!(w.custom_headers));
    m
}

async fn patch(
    State(state): State<AppState>,
    Admin(actor): Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HookError> {
    let changes = body_object(&body)?;
    update_with(&state, &id, actor.user_id, |existing| {
        let mut merged = definition(existing);
        // A null clears the property (JSON merge patch).
        for (k, v) in changes {
            merged.insert(k, v);
        }
        merged
    })
}

async fn remove(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, HookError> {
    // Triggers that name the webhook keep their action; it sends nothing from now on.
    match state.change_account().webhooks.remove(&id) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found("webhook", &id)),
    }
}

fn secret_body(secret: &str) -> Value {
    json!({"signing_secret": {"algorithm": "SHA256", "secret": secret}})
}

async fn show_secret(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, HookError> {
    let account = state.lock_account();
    let w = account
        .webhooks
        .get(&id)
        .ok_or_else(|| not_found("webhook", &id))?;
    Ok(respond(
        StatusCode::OK,
        secret_body(&w.signing_secret),
        None,
    ))
}

async fn reset_secret(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, HookError> {
    let mut account = state.change_account();
    let w = account
        .webhooks
        .get_mut(&id)
        .ok_or_else(|| not_found("webhook", &id))?;
    w.signing_secret = new_secret();
    Ok(respond(
        StatusCode::CREATED,
        secret_body(&w.signing_secret),
        None,
    ))
}
