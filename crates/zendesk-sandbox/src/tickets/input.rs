//! Reading and checking single fields of a `ticket` object: strings, ids, enums, tags and
//! custom field values. Problems are collected in an `Invalid` so one response lists them all.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::Invalid;
use crate::model::Account;

/// A string field, or `None` when absent or null.
pub(super) fn str_field<'a>(
    t: &'a Map<String, Value>,
    key: &str,
    bad: &mut Invalid,
) -> Option<&'a str> {
    match t.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            bad.add(
                key,
                "InvalidValue",
                format!("{key}: must be a string, got {other}"),
            );
            None
        }
    }
}

/// An id field, given as a number or a numeric string.
pub(super) fn id_field(t: &Map<String, Value>, key: &str, bad: &mut Invalid) -> Option<u64> {
    match t.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => s.parse().ok(),
        Some(other) => {
            bad.add(
                key,
                "InvalidValue",
                format!("{key}: is not a valid id: {other}"),
            );
            None
        }
    }
}

/// A string field that must be one of `allowed`.
pub(super) fn enum_field(
    t: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    bad: &mut Invalid,
) -> Option<String> {
    let value = str_field(t, key, bad)?;
    if allowed.contains(&value) {
        Some(value.to_string())
    } else {
        bad.add(
            key,
            "InvalidValue",
            format!(
                "{}: {value} is not one of {}",
                capitalised(key),
                allowed.join(", ")
            ),
        );
        None
    }
}

/// `key` with its first letter upper-cased, as Zendesk starts its error descriptions.
pub(super) fn capitalised(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Normalises tags as Zendesk does: lower case, split on spaces, no repeats, order kept.
pub fn normalise_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags
        .into_iter()
        .flat_map(|t| t.split_whitespace())
        .map(str::to_lowercase)
    {
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// A tag list, given as an array of strings or one space-separated string.
pub(super) fn tag_list(
    t: &Map<String, Value>,
    key: &str,
    bad: &mut Invalid,
) -> Option<Vec<String>> {
    match t.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut strings = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) => strings.push(s),
                    None => {
                        bad.add(
                            key,
                            "InvalidValue",
                            format!("{key}: every tag must be a string"),
                        );
                        return None;
                    }
                }
            }
            Some(normalise_tags(strings))
        }
        Some(Value::String(s)) => Some(normalise_tags([s.as_str()])),
        Some(_) => {
            bad.add(
                key,
                "InvalidValue",
                format!("{key}: must be an array of strings"),
            );
            None
        }
    }
}

/// Checks custom field values against the account's field definitions; returns the values
/// to store and the tags drop-down values add.
pub(super) fn custom_fields(
    account: &Account,
    t: &Map<String, Value>,
    bad: &mut Invalid,
) -> (BTreeMap<u64, Value>, Vec<String>) {
    let mut values = BTreeMap::new();
    let mut tags = Vec::new();
    let list = match t.get("custom_fields").or_else(|| t.get("fields")) {
        None | Some(Value::Null) => return (values, tags),
        Some(Value::Array(list)) => list,
        Some(_) => {
            bad.add(
                "custom_fields",
                "InvalidValue",
                "custom_fields: must be an array of {\"id\": …, \"value\": …}",
            );
            return (values, tags);
        }
    };
    for entry in list {
        let id = entry.get("id").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        let Some(id) = id else {
            bad.add(
                "custom_fields",
                "InvalidValue",
                format!("custom_fields: entry without a numeric id: {entry}"),
            );
            continue;
        };
        let Some(field) = account.ticket_fields.get(&id).filter(|f| f.active) else {
            bad.add(
                "custom_fields",
                "InvalidValue",
                format!("custom_fields: ticket field {id} does not exist"),
            );
            continue;
        };
        let value = entry.get("value").cloned().unwrap_or(Value::Null);
        let title = &field.title;
        let stored = match (field.field_type.as_str(), &value) {
            (_, Value::Null) => Ok(Value::Null),
            ("checkbox", Value::Bool(b)) => Ok(Value::Bool(*b)),
            ("checkbox", _) => Err(format!("{title}: must be true or false")),
            ("integer", v) => match v {
                Value::Number(n) if n.is_i64() => Ok(json!(n.to_string())),
                Value::String(s) if s.trim().parse::<i64>().is_ok() => Ok(json!(s.trim())),
                _ => Err(format!("{title}: is not a whole number: {v}")),
            },
            ("decimal", v) => match v {
                Value::Number(n) => Ok(json!(n.to_string())),
                Value::String(s) if s.trim().parse::<f64>().is_ok() => Ok(json!(s.trim())),
                _ => Err(format!("{title}: is not a number: {v}")),
            },
            ("date", Value::String(s))
                if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() =>
            {
                Ok(json!(s))
            }
            ("date", v) => Err(format!("{title}: is not a date (YYYY-MM-DD): {v}")),
            ("tagger", Value::String(s)) => {
                if field.options.iter().any(|o| &o.value == s) {
                    tags.push(s.clone());
                    Ok(json!(s))
                } else {
                    let allowed: Vec<&str> =
                        field.options.iter().map(|o| o.value.as_str()).collect();
                    Err(format!("{title}: {s} is not one of {}", allowed.join(", ")))
                }
            }
            ("tagger", v) => Err(format!(
                "{title}: must be one of the field's option values, got {v}"
            )),
            (_, Value::String(s)) => Ok(json!(s)),
            (_, Value::Number(n)) => Ok(json!(n.to_string())),
            (_, v) => Err(format!("{title}: must be text, got {v}")),
        };
        match stored {
            Ok(v) => {
                values.insert(id, v);
            }
            Err(msg) => bad.add("custom_fields", "InvalidValue", msg),
        }
    }
    (values, tags)
}
