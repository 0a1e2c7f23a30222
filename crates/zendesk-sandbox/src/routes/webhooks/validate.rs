//! Checking a webhook definition: required fields, the connection method, authentication
//! and custom headers. Every problem is reported at once, each naming its field.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{invalid, missing, Problem};
use crate::model::Webhook;
use crate::rules::{is_conditional, CONDITIONAL_TICKET_EVENTS};

/// Header names a webhook may not set itself: the sandbox sets them (or they are
/// credentials, which belong in `authentication`).
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "content-length",
    "content-type",
    "host",
    "user-agent",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
const FORMATS: &[&str] = &["json", "xml", "form_encoded"];
const STATUSES: &[&str] = &["active", "inactive"];
const EVENT_TYPE_PREFIX: &str = "zen:event-type:";

/// A checked webhook definition.
pub struct Input {
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub http_method: String,
    pub request_format: String,
    pub status: String,
    pub subscriptions: Vec<String>,
    pub authentication: Option<Value>,
    pub custom_headers: BTreeMap<String, String>,
}

fn required_str<'a>(w: &'a Map<String, Value>, key: &str, bad: &mut Vec<Problem>) -> &'a str {
    match w.get(key) {
        None | Some(Value::Null) => {
            bad.push(missing(key));
            ""
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        Some(Value::String(_)) => {
            bad.push(missing(key));
            ""
        }
        Some(other) => {
            bad.push(invalid(key, format!("{key} must be a string, got {other}")));
            ""
        }
    }
}

fn one_of<'a>(
    w: &'a Map<String, Value>,
    key: &str,
    allowed: &[&str],
    bad: &mut Vec<Problem>,
) -> &'a str {
    let value = required_str(w, key, bad);
    if !value.is_empty() && !allowed.contains(&value) {
        bad.push(invalid(
            key,
            format!("{key} {value:?} is not one of {}", allowed.join(", ")),
        ));
    }
    value
}

fn valid_header_name(name: &str) -> bool {
    axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
}

fn reserved_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-zendesk-")
}

fn subscriptions(
    w: &Map<String, Value>,
    existing: Option<&Webhook>,
    bad: &mut Vec<Problem>,
) -> Vec<String> {
    let list = match w.get("subscriptions") {
        // Absent: keep what the webhook had; a new one is connected to triggers, the only
        // connection method webhooks had before event subscriptions existed.
        None | Some(Value::Null) => {
            return existing.map_or_else(
                || vec![CONDITIONAL_TICKET_EVENTS.to_string()],
                |e| e.subscriptions.clone(),
            )
        }
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            let mut list: Vec<String> = Vec::new();
            for s in items.iter().filter_map(Value::as_str) {
                if !list.iter().any(|l| l == s) {
                    list.push(s.to_string());
                }
            }
            list
        }
        Some(other) => {
            bad.push(invalid(
                "subscriptions",
                format!("subscriptions must be an array of strings, got {other}"),
            ));
            return Vec::new();
        }
    };
    let conditional = list.iter().any(|s| s == CONDITIONAL_TICKET_EVENTS);
    if list.is_empty() {
        bad.push(invalid("subscriptions", "subscriptions must not be empty"));
    } else if conditional && list.len() > 1 {
        bad.push(invalid(
            "subscriptions",
            format!("subscriptions is either [\"{CONDITIONAL_TICKET_EVENTS}\"] or a list of event types, not both"),
        ));
    } else if !conditional {
        for s in &list {
            if s.strip_prefix(EVENT_TYPE_PREFIX).is_none_or(str::is_empty) {
                bad.push(invalid(
                    "subscriptions",
                    format!("subscriptions: {s:?} is neither \"{CONDITIONAL_TICKET_EVENTS}\" nor an event type like \"zen:event-type:ticket.created\""),
                ));
            }
        }
    }
    if let Some(e) = existing {
        if !list.is_empty() && conditional != is_conditional(e) {
            bad.push(invalid(
                "subscriptions",
                "subscriptions: a webhook's connection method (triggers or event types) cannot be changed after creation",
            ));
        }
    }
    list
}

/// The credentials each authentication type needs in `data`.
fn auth_fields(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "api_key" => Some(&["name", "value"]),
        "basic_auth" => Some(&["username", "password"]),
        "bearer_token" => Some(&["token"]),
        _ => None,
    }
}

fn authentication(
    w: &Map<String, Value>,
    existing: Option<&Webhook>,
    bad: &mut Vec<Problem>,
) -> Option<Value> {
    let auth = match w.get("authentication") {
        None | Some(Value::Null) => return None,
        Some(Value::Object(a)) => a,
        Some(other) => {
            bad.push(invalid(
                "authentication",
                format!("authentication must be an object, got {other}"),
            ));
            return None;
        }
    };
    let kind = auth.get("type").and_then(Value::as_str).unwrap_or_default();
    let Some(fields) = auth_fields(kind) else {
        bad.push(invalid(
            "authentication.type",
            format!("authentication.type {kind:?} is not one of api_key, basic_auth, bearer_token"),
        ));
        return None;
    };
    let position = auth
        .get("add_position")
        .and_then(Value::as_str)
        .unwrap_or("header");
    if position != "header" {
        bad.push(invalid(
            "authentication.add_position",
            format!("authentication.add_position {position:?} is not supported (use header)"),
        ));
    }
    // Credentials are never shown again, so an update that repeats the type without data
    // keeps the stored credentials.
    let data = match auth.get("data") {
        None | Some(Value::Null) => existing
            .and_then(|e| e.authentication.as_ref())
            .filter(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|a| a.get("data").cloned())
            .unwrap_or_else(|| json!({})),
        Some(d) => d.clone(),
    };
    for f in fields {
        let ok = data
            .get(*f)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty());
        if !ok {
            bad.push(invalid(
                &format!("authentication.data.{f}"),
                format!("authentication.data.{f} is required for {kind}"),
            ));
        }
    }
    if kind == "api_key" {
        let name = data.get("name").and_then(Value::as_str).unwrap_or_default();
        if !name.is_empty() && (!valid_header_name(name) || reserved_header(name)) {
            bad.push(invalid(
                "authentication.data.name",
                format!("authentication.data.name {name:?} cannot be used as a header name"),
            ));
        }
    }
    Some(json!({"type": kind, "data": data, "add_position": "header"}))
}

fn custom_headers(w: &Map<String, Value>, bad: &mut Vec<Problem>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let headers = match w.get("custom_headers") {
        None | Some(Value::Null) => return out,
        Some(Value::Object(h)) => h,
        Some(other) => {
            bad.push(invalid(
                "custom_headers",
                format!("custom_headers must be an object of strings, got {other}"),
            ));
            return out;
        }
    };
    for (name, value) in headers {
        let Some(value) = value.as_str() else {
            bad.push(invalid(
                "custom_headers",
                format!("custom_headers.{name} must be a string"),
            ));
            continue;
        };
        if !valid_header_name(name) || reserved_header(name) {
            bad.push(invalid(
                "custom_headers",
                format!("custom_headers: {name:?} cannot be used as a custom header (credentials belong in authentication)"),
            ));
        } else if axum::http::HeaderValue::from_str(value).is_err() {
            bad.push(invalid(
                "custom_headers",
                format!("custom_headers.{name} has an invalid value"),
            ));
        } else {
            out.insert(name.clone(), value.to_string());
        }
    }
    out
}

/// Checks a full webhook definition; `existing` is the webhook being replaced.
pub fn validate(w: &Map<String, Value>, existing: Option<&Webhook>) -> Result<Input, Vec<Problem>> {
    let mut bad = Vec::new();
    let name = required_str(w, "name", &mut bad).to_string();
    let endpoint = required_str(w, "endpoint", &mut bad).to_string();
    if !endpoint.is_empty() {
        let ok = reqwest::Url::parse(&endpoint)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !ok {
            bad.push(invalid(
                "endpoint",
                format!("endpoint {endpoint:?} is not an http or https URL"),
            ));
        }
    }
    let http_method = one_of(w, "http_method", METHODS, &mut bad).to_string();
    let request_format = one_of(w, "request_format", FORMATS, &mut bad).to_string();
    let status = one_of(w, "status", STATUSES, &mut bad).to_string();
    let subscriptions = subscriptions(w, existing, &mut bad);
    let events =
        !subscriptions.is_empty() && !subscriptions.iter().any(|s| s == CONDITIONAL_TICKET_EVENTS);
    if events && !http_method.is_empty() && http_method != "POST" {
        bad.push(invalid(
            "http_method",
            "http_method must be POST for a webhook subscribed to event types",
        ));
    }
    if events && !request_format.is_empty() && request_format != "json" {
        bad.push(invalid(
            "request_format",
            "request_format must be json for a webhook subscribed to event types",
        ));
    }
    let description = match w.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            bad.push(invalid(
                "description",
                format!("description must be a string, got {other}"),
            ));
            String::new()
        }
    };
    let authentication = authentication(w, existing, &mut bad);
    let custom_headers = custom_headers(w, &mut bad);
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(Input {
        name,
        description,
        endpoint,
        http_method,
        request_format,
        status,
        subscriptions,
        authentication,
        custom_headers,
    })
}
