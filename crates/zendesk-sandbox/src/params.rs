//! Query strings and cursor pagination.
//!
//! Query strings are parsed by hand from the raw query because Zendesk repeats keys
//! (`role[]=agent&role[]=admin`) and uses bracketed names (`page[size]`), which serde's
//! url-encoded deserializer does not map onto structs.

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::error::ApiError;

/// The decoded query string.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .unwrap_or(RawQuery(None));
        Ok(Params::parse(raw.as_deref()))
    }
}

/// How a list was asked to be paged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// `page[size]` with optional `page[after]` / `page[before]` cursors.
    Cursor {
        /// Items per page (1 to 100).
        size: usize,
        /// Items strictly after this id.
        after: Option<u64>,
        /// Items strictly before this id.
        before: Option<u64>,
    },
    /// Classic `page` / `per_page` offset paging.
    Offset {
        /// 1-based page number.
        page: usize,
        /// Items per page (1 to 100).
        per_page: usize,
    },
}

/// Cursors are opaque to clients; here they wrap the last id seen.
pub fn encode_cursor(id: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(param: &str, cursor: &str) -> Result<u64, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("id:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::BadRequest(format!("{param} is not a valid cursor")))
}

fn parse_size(param: &str, value: &str) -> Result<usize, ApiError> {
    match value.parse::<usize>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "{param} must be a number from 1 to 100, got {value:?}"
        ))),
    }
}

impl Paging {
    /// Reads the paging parameters; cursor paging when `page[size]` or a cursor is present.
    pub fn from_params(params: &Params) -> Result<Paging, ApiError> {
        let after = params.get("page[after]");
        let before = params.get("page[before]");
        if let Some(size) = params.get("page[size]") {
            return Ok(Paging::Cursor {
                size: parse_size("page[size]", size)?,
                after: after.map(|c| decode_cursor("page[after]", c)).transpose()?,
                before: before
                    .map(|c| decode_cursor("page[before]", c))
                    .transpose()?,
            });
        }
        if after.is_some() || before.is_some() {
            return Ok(Paging::Cursor {
                size: 100,
                after: after.map(|c| decode_cursor("page[after]", c)).transpose()?,
                before: before
                    .map(|c| decode_cursor("page[before]", c))
                    .transpose()?,
            });
        }
        let per_page = match params.get("per_page") {
            Some(v) => parse_size("per_page", v)?,
            None => 100,
        };
        let page = match params.get("page") {
            Some(v) => v.parse::<usize>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ApiError::BadRequest(format!("page must be 1 or more, got {v:?}"))
            })?,
            None => 1,
        };
        if page * per_page > 10_000 + per_page {
            return Err(ApiError::BadRequest(
                "Offset pagination is limited to the first 10,000 records; use cursor pagination"
                    .into(),
            ));
        }
        Ok(Paging::Offset { page, per_page })
    }
}

/// Builds a list answer: `{ <collection>: [...], meta, links }` for cursor paging, or
/// `{ <collection>: [...], next_page, previous_page, count }` for offset paging.
///
/// `items` must be sorted by id, ascending. `list_url` is the list's URL without paging
/// parameters; `keep` are the other query parameters to repeat in the links.
pub fn page(
    collection: &str,
    items: Vec<(u64, Value)>,
    paging: Paging,
    list_url: &str,
    keep: &[(String, String)],
) -> Value {
    let mut out = Map::new();
    let link = |extra: &[(&str, String)]| -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in keep {
            ser.append_pair(k, v);
        }
        for (k, v) in extra {
            ser.append_pair(k, v);
        }
        format!("{list_url}?{}", ser.finish())
    };
    match paging {
        Paging::Cursor {
            size,
            after,
            before,
        } => {
            let (slice, has_more): (Vec<(u64, Value)>, bool) = if let Some(before) = before {
                let earlier: Vec<_> = items.into_iter().filter(|(id, _)| *id < before).collect();
                let skip = earlier.len().saturating_sub(size);
                let has_more = skip > 0;
                (earlier.into_iter().skip(skip).collect(), has_more)
            } else {
                let later: Vec<_> = items
                    .into_iter()
                    .filter(|(id, _)| after.is_none_or(|a| *id > a))
                    .collect();
                let has_more = later.len() > size;
                (later.into_iter().take(size).collect(), has_more)
            };
            let first = slice.first().map(|(id, _)| encode_cursor(*id));
            let last = slice.last().map(|(id, _)| encode_cursor(*id));
            let next = match (&last, has_more || before.is_some()) {
                (Some(c), true) => {
                    json!(link(&[
                        ("page[size]", size.to_string()),
                        ("page[after]", c.clone())
                    ]))
                }
                _ => Value::Null,
            };
            let prev = match &first {
                Some(c) => json!(link(&[
                    ("page[size]", size.to_string()),
                    ("page[before]", c.clone())
                ])),
                None => Value::Null,
            };
            out.insert(
                collection.to_string(),
                Value::Array(slice.into_iter().map(|(_, v)| v).collect()),
            );
            out.insert(
                "meta".into(),
                json!({"has_more": has_more, "after_cursor": last, "before_cursor": first}),
            );
            out.insert("links".into(), json!({"next": next, "prev": prev}));
        }
        Paging::Offset { page, per_page } => {
            let count = items.len();
            let start = (page - 1) * per_page;
            let slice: Vec<Value> = items
                .into_iter()
                .skip(start)
                .take(per_page)
                .map(|(_, v)| v)
                .collect();
            let next = if start + per_page < count {
                json!(link(&[
                    ("page", (page + 1).to_string()),
                    ("per_page", per_page.to_string())
                ]))
            } else {
                Value::Null
            };
            let prev = if page > 1 {
                json!(link(&[
                    ("page", (page - 1).to_string()),
                    ("per_page", per_page.to_string())
                ]))
            } else {
                Value::Null
            };
            out.insert(collection.to_string(), Value::Array(slice));
            out.insert("next_page".into(), next);
            out.insert("previous_page".into(), prev);
            out.insert("count".into(), json!(count));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: u64) -> Vec<(u64, Value)> {
        (1..=n).map(|i| (i, json!(i))).collect()
    }

    #[test]
    fn cursor_pages_walk_the_whole_list_once() {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let v = page(
                "xs",
                items(7),
                Paging::Cursor {
                    size: 3,
                    after,
                    before: None,
                },
                "http://s/api/v2/xs.json",
                &[],
            );
            seen.extend(v["xs"].as_array().cloned().unwrap_or_default());
            if !v["meta"]["has_more"].as_bool().unwrap_or(false) {
                break;
            }
            let cursor = v["meta"]["after_cursor"].as_str().unwrap_or_default();
            after = Some(decode_cursor("page[after]", cursor).expect("cursor decodes"));
        }
        assert_eq!(seen, (1..=7).map(|i| json!(i)).collect::<Vec<_>>());
    }

    #[test]
    fn repeated_keys_and_brackets_are_kept() {
        let p = Params::parse(Some("role%5B%5D=agent&role[]=admin&page[size]=2"));
        let roles: Vec<&str> =
            p.0.iter()
                .filter(|(k, _)| k == "role[]")
                .map(|(_, v)| v.as_str())
                .collect();
        assert_eq!(roles, ["agent", "admin"]);
        assert_eq!(
            Paging::from_params(&p).expect("valid"),
            Paging::Cursor {
                size: 2,
                after: None,
                before: None
            }
        );
    }

    #[test]
    fn bad_sizes_and_cursors_are_named() {
        let err = Paging::from_params(&Params::parse(Some("page[size]=500"))).unwrap_err();
        assert!(err.to_string().contains("page[size]"));
        let err =
            Paging::from_params(&Params::parse(Some("page[size]=5&page[after]=zz"))).unwrap_err();
        assert!(err.to_string().contains("page[after]"));
    }
}
