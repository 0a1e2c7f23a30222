//! Walking a list to its end: cursor pages (`meta.has_more` + `links.next`) and, where an
//! endpoint only offers them, offset pages (`next_page`).

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ZendeskClient;
use crate::budget::Endpoint;
use crate::error::ZendeskError;

/// Where the next page is, read from one page's envelope.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// The list is complete.
    Done,
    /// Fetch this link next.
    Link(String),
    /// Cursor paging said "more" without a link: ask for the page after this cursor.
    After(String),
}

/// Reads the envelope: cursor paging when `meta.has_more` is present, else offset `next_page`.
pub(crate) fn next_of(page: &Map<String, Value>) -> Next {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    if let Some(has_more) = page
        .get("meta")
        .and_then(|m| m.get("has_more"))
        .and_then(Value::as_bool)
    {
        if !has_more {
            return Next::Done;
        }
        if let Some(link) = text(page.get("links").and_then(|l| l.get("next"))) {
            return Next::Link(link);
        }
        return match text(page.get("meta").and_then(|m| m.get("after_cursor"))) {
            Some(cursor) => Next::After(cursor),
            None => Next::Done,
        };
    }
    match text(page.get("next_page")) {
        Some(link) => Next::Link(link),
        None => Next::Done,
    }
}

impl ZendeskClient {
    /// Every item of a list under `key`, following pages from `first` to the end.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        first: Url,
        key: &str,
    ) -> Result<Vec<T>, ZendeskError> {
        let operation = format!("GET {}", first.path());
        let mut url = first;
        let mut out = Vec::new();
        for _ in 0..self.inner.max_pages {
            let answer = self
                .send(Method::GET, url.clone(), Endpoint::General, None, None)
                .await?;
            let mut page: Map<String, Value> = answer.json()?;
            match page.remove(key) {
                None | Some(Value::Null) => {}
                Some(items) => {
                    let items: Vec<T> =
                        serde_json::from_value(items).map_err(|e| ZendeskError::Decode {
                            reason: format!("{operation}: `{key}`: {e}"),
                        })?;
                    out.extend(items);
                }
            }
            url = match next_of(&page) {
                Next::Done => return Ok(out),
                Next::Link(link) => self.same_account(&link, &operation)?,
                Next::After(cursor) => {
                    let mut next = url.clone();
                    let kept: Vec<(String, String)> = next
                        .query_pairs()
                        .filter(|(k, _)| k != "page[after]" && k != "page[before]")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    next.query_pairs_mut()
                        .clear()
                        .extend_pairs(kept)
                        .append_pair("page[after]", &cursor);
                    next
                }
            };
        }
        Err(ZendeskError::PageLimit {
            operation,
            pages: self.inner.max_pages,
        })
    }

    /// A page link, refused unless it points at the configured account: the credentials go
    /// with every request, so a link elsewhere is never followed.
    fn same_account(&self, link: &str, operation: &str) -> Result<Url, ZendeskError> {
        let base = &self.inner.base;
        let url = base.join(link).map_err(|_| ZendeskError::Decode {
            reason: format!("{operation}: the next-page link is not a URL"),
        })?;
        let same = url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default();
        if !same {
            return Err(ZendeskError::Decode {
                reason: format!(
                    "{operation}: the next-page link points to another host ({}); not following \
                     it with the account's credentials",
                    url.host_str().unwrap_or("none")
                ),
            });
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn envelopes() {
        let cases = [
            (
                json!({"meta": {"has_more": true, "after_cursor": "a"}, "links": {"next": "https://x/n"}}),
                Next::Link("https://x/n".into()),
            ),
            (
                json!({"meta": {"has_more": false}, "links": {"next": "https://x/n"}}),
                Next::Done,
            ),
            (
                json!({"meta": {"has_more": true, "after_cursor": "abc"}, "links": {"next": null}}),
                Next::After("abc".into()),
            ),
            (json!({"meta": {"has_more": true}}), Next::Done),
            (
                json!({"next_page": "https://x/p2", "count": 250}),
                Next::Link("https://x/p2".into()),
            ),
            (json!({"next_page": null, "count": 2}), Next::Done),
            (json!({}), Next::Done),
        ];
        for (page, want) in cases {
            assert_eq!(next_of(&map(page.clone())), want, "{page}");
        }
    }
}
