//! What went wrong with a Zendesk request, classified the way the job queue acts on it:
//! pause (rate limited), retry later (transient), or dead-letter (permanent).
//!
//! Messages carry Zendesk's own short descriptions and the operation (method and path, never
//! the query string, which can hold phone numbers and emails), but never a credential and never
//! a request or response body: they end up in logs, the dead letter and the dashboard.

use std::error::Error as _;
use std::time::Duration;

use serde_json::Value;

/// Used when a 429 has no (or an unreadable) `Retry-After`, as Zendesk's Ruby client does.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Longest piece of Zendesk-provided text kept in an error message.
const MAX_TEXT: usize = 300;

/// A failed Zendesk request, classified for the job queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZendeskError {
    /// 429: the account or an endpoint limit is exhausted; pause every worker for `retry_after`.
    #[error("Zendesk rate limit reached; retry after {}s", retry_after.as_secs())]
    RateLimited {
        /// From `Retry-After`, or 10 s when absent or unreadable.
        retry_after: Duration,
    },
    /// 503 with `Retry-After` (maintenance or overload); handled like a rate limit.
    #[error("Zendesk is temporarily unavailable (503); retry after {}s", retry_after.as_secs())]
    Unavailable {
        /// From `Retry-After`.
        retry_after: Duration,
    },
    /// 5xx, a timeout, or a connection dropped after it was made: retry with backoff.
    #[error("Zendesk request failed, a retry may succeed: {reason}")]
    Transient {
        /// What happened, without bodies or credentials.
        reason: String,
    },
    /// No connection could be made (refused, unknown host, connect timeout): Zendesk is
    /// unreachable from here, whatever the request was, so it says nothing about the job.
    #[error("cannot reach Zendesk: {reason}")]
    Unreachable {
        /// What happened, without bodies or credentials.
        reason: String,
    },
    /// A request the client did not send because a shared pause (a 429 or a 503 with
    /// `Retry-After` seen by any request, of this or another process) is still in force.
    #[error("not sent: Zendesk asked to wait (rate limit); {}s of the pause left", left.as_secs().max(1))]
    Paused {
        /// Time left in the pause.
        left: Duration,
    },
    /// 401: the credentials were rejected.
    #[error(
        "Zendesk rejected the API token (401 Unauthorized). Create a new token in Zendesk Admin \
         Center → Apps and integrations → APIs → Zendesk API, put it in zendesk.api_token (or \
         its environment variable), check zendesk.email names an active agent or admin, and \
         restart deskline"
    )]
    Unauthorized,
    /// 403: authenticated, but the acting user, plan or add-on does not allow this.
    #[error("Zendesk refused {operation} (403 Forbidden): {description}")]
    Forbidden {
        /// Method and path.
        operation: String,
        /// Zendesk's description, if any.
        description: String,
    },
    /// 404: the record does not exist or is not visible to the acting user.
    #[error("Zendesk found nothing at {operation} (404 Not Found)")]
    NotFound {
        /// Method and path.
        operation: String,
    },
    /// 422 RecordInvalid (or 413): Zendesk's per-field validation messages.
    #[error("Zendesk refused the record as invalid: {details}")]
    Invalid {
        /// One `field: description` per problem, joined with `; `.
        details: String,
    },
    /// 400 IdempotentRequestError: the `Idempotency-Key` was used with a different body.
    #[error(
        "Zendesk refused the request: its Idempotency-Key was already used with a different body \
         (the event's ticket data changed between attempts)"
    )]
    IdempotencyMismatch,
    /// Any other 400 (malformed request, paging past Zendesk's limits), or a request the client
    /// refused to send because it could not be valid.
    #[error("bad Zendesk request: {description}")]
    BadRequest {
        /// Zendesk's (or the client's) description.
        description: String,
    },
    /// 409: concurrent modification of the same record; a retry usually succeeds.
    #[error("Zendesk reported a conflicting update at {operation} (409 Conflict)")]
    Conflict {
        /// Method and path.
        operation: String,
    },
    /// A 2xx answer whose body is not what Zendesk documents.
    #[error("cannot read Zendesk's answer: {reason}")]
    Decode {
        /// The parser's message.
        reason: String,
    },
    /// A list did not end within the client's page cap (a runaway or looping cursor).
    #[error("Zendesk list {operation} did not end within {pages} pages")]
    PageLimit {
        /// Method and path of the list.
        operation: String,
        /// The cap that was reached.
        pages: usize,
    },
}

impl ZendeskError {
    /// Whether retrying the same request cannot help (dead-letter it with this message).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ZendeskError::Unauthorized
                | ZendeskError::Forbidden { .. }
                | ZendeskError::NotFound { .. }
                | ZendeskError::Invalid { .. }
                | ZendeskError::IdempotencyMismatch
                | ZendeskError::BadRequest { .. }
                | ZendeskError::PageLimit { .. }
        )
    }

    /// Whether this says the helpdesk is out rather than anything about the request: no
    /// connection, a timeout, a dropped connection or a 5xx without `Retry-After`.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            ZendeskError::Transient { .. } | ZendeskError::Unreachable { .. }
        )
    }

    /// How long Zendesk asked everyone to wait (429, 503 with `Retry-After`): the queue pauses
    /// for exactly this long and snoozes the job without spending an attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ZendeskError::RateLimited { retry_after }
            | ZendeskError::Unavailable { retry_after } => Some(*retry_after),
            ZendeskError::Paused { left } => Some(*left),
            _ => None,
        }
    }

    /// A short stable name for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ZendeskError::RateLimited { .. } => "rate_limited",
            ZendeskError::Unavailable { .. } => "unavailable",
            ZendeskError::Transient { .. } => "transient",
            ZendeskError::Unreachable { .. } => "unreachable",
            ZendeskError::Paused { .. } => "paused",
            ZendeskError::Unauthorized => "unauthorized",
            ZendeskError::Forbidden { .. } => "forbidden",
            ZendeskError::NotFound { .. } => "not_found",
            ZendeskError::Invalid { .. } => "invalid",
            ZendeskError::IdempotencyMismatch => "idempotency_mismatch",
            ZendeskError::BadRequest { .. } => "bad_request",
            ZendeskError::Conflict { .. } => "conflict",
            ZendeskError::Decode { .. } => "decode",
            ZendeskError::PageLimit { .. } => "page_limit",
        }
    }

    /// Classifies a non-2xx answer. `operation` is "METHOD /path" (no query string);
    /// `retry_after` is the raw `Retry-After` header.
    pub fn from_status(
        status: u16,
        retry_after: Option<&str>,
        body: &[u8],
        operation: &str,
    ) -> ZendeskError {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| -> Option<String> {
            json.as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(clip)
        };
        match status {
            429 => ZendeskError::RateLimited {
                retry_after: parse_retry_after(retry_after),
            },
            503 if retry_after.is_some() => ZendeskError::Unavailable {
                retry_after: parse_retry_after(retry_after),
            },
            401 => ZendeskError::Unauthorized,
            403 => ZendeskError::Forbidden {
                operation: operation.to_string(),
                description: field("description")
                    .or_else(|| field("error"))
                    .or_else(|| json.as_ref().and_then(errors_list))
                    .unwrap_or_else(|| "no reason given".into()),
            },
            404 => ZendeskError::NotFound {
                operation: operation.to_string(),
            },
            409 => ZendeskError::Conflict {
                operation: operation.to_string(),
            },
            413 | 422 => ZendeskError::Invalid {
                details: json
                    .as_ref()
                    .and_then(record_invalid_details)
                    .or_else(|| json.as_ref().and_then(errors_list))
                    .or_else(|| field("description"))
                    .or_else(|| field("error"))
                    .unwrap_or_else(|| format!("HTTP {status} from {operation}")),
            },
            400 if field("error").as_deref() == Some("IdempotentRequestError") => {
                ZendeskError::IdempotencyMismatch
            }
            400..=499 => ZendeskError::BadRequest {
                description: match (
                    field("error"),
                    field("description"),
                    json.as_ref().and_then(errors_list),
                ) {
                    (Some(e), Some(d), _) => format!("{e}: {d} ({operation})"),
                    (Some(x), None, _) | (None, Some(x), _) | (None, None, Some(x)) => {
                        format!("{x} ({operation})")
                    }
                    (None, None, None) => format!("HTTP {status} from {operation}"),
                },
            },
            _ => ZendeskError::Transient {
                reason: format!("HTTP {status} from {operation}"),
            },
        }
    }

    /// Classifies a failure to get an answer at all (timeout, refused or dropped connection).
    pub fn from_transport(err: &reqwest::Error, operation: &str) -> ZendeskError {
        if err.is_builder() {
            return ZendeskError::BadRequest {
                description: format!("cannot build the request for {operation}"),
            };
        }
        let unreachable = err.is_connect();
        let what = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else if err.is_body() || err.is_decode() {
            "the answer was cut off"
        } else {
            "the connection failed"
        };
        // The causes (hyper, io) name what happened without the URL; the top-level message
        // repeats the URL with its query string, which may hold personal data.
        let mut causes = Vec::new();
        let mut source = err.source();
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        let detail = if causes.is_empty() {
            String::new()
        } else {
            format!(": {}", clip(&causes.join(": ")))
        };
        let reason = format!("{operation}: {what}{detail}");
        if unreachable {
            ZendeskError::Unreachable { reason }
        } else {
            ZendeskError::Transient { reason }
        }
    }
}

/// Seconds from a `Retry-After` header; the default when absent, negative or unreadable.
pub fn parse_retry_after(header: Option<&str>) -> Duration {
    let Some(text) = header.map(str::trim) else {
        return DEFAULT_RETRY_AFTER;
    };
    if let Ok(secs) = text.parse::<u64>() {
        return Duration::from_secs(secs);
    }
    match text.parse::<f64>() {
        Ok(secs) if (0.0..86_400.0).contains(&secs) => Duration::from_secs(secs.ceil() as u64),
        _ => DEFAULT_RETRY_AFTER,
    }
}

/// `field: description; …` from a RecordInvalid body's `details`, or None without details.
fn record_invalid_details(body: &Value) -> Option<String> {
    let details = body.get("details")?.as_object()?;
    let mut parts = Vec::new();
    for (field, problems) in details {
        let items: Vec<&Value> = match problems {
            Value::Array(list) => list.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let text = match item {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o
                    .get("description")
                    .or_else(|| o.get("error"))
                    .and_then(Value::as_str),
                _ => None,
            };
            if let Some(text) = text {
                parts.push(format!("{field}: {}", clip(text)));
            }
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("; "))
    }
}

/// `detail; detail` from the newer APIs' `{"errors": [{code, title, detail, ...}]}` answers
/// (webhooks), or None without that list.
fn errors_list(body: &Value) -> Option<String> {
    let parts: Vec<String> = body
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(|e| {
            ["detail", "title", "code"]
                .iter()
                .find_map(|k| e.get(*k).and_then(Value::as_str))
                .map(clip)
        })
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("; "))
    }
}

/// Keeps Zendesk-provided text to a readable length, on a character boundary.
fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_TEXT).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_header() {
        let cases = [
            (None, 10),
            (Some("7"), 7),
            (Some(" 30 "), 30),
            (Some("0"), 0),
            (Some("1.2"), 2),
            (Some("-3"), 10),
            (Some("soon"), 10),
            (Some("Wed, 21 Oct 2015 07:28:00 GMT"), 10),
        ];
        for (header, secs) in cases {
            assert_eq!(
                parse_retry_after(header),
                Duration::from_secs(secs),
                "{header:?}"
            );
        }
    }

    #[test]
    fn record_invalid_details_are_readable() {
        let body = br#"{"error":"RecordInvalid","description":"Record validation errors",
            "details":{"assignee":[{"description":"Assignee: Priya Sharma is not a member of the group Sales","error":"InvalidValue"}],
                       "base":["Comment is required"]}}"#;
        let err = ZendeskError::from_status(422, None, body, "POST /api/v2/tickets");
        assert_eq!(
            err,
            ZendeskError::Invalid {
                details: "assignee: Assignee: Priya Sharma is not a member of the group Sales; \
                          base: Comment is required"
                    .into()
            }
        );
        assert!(err.is_permanent());
    }

    #[test]
    fn newer_apis_errors_lists_are_readable() {
        let body = br#"{"errors":[{"code":"InvalidValue","title":"Invalid value",
            "detail":"endpoint \"x\" is not an http or https URL","status":"400",
            "source":{"pointer":"/webhook/endpoint"}},{"code":"MissingValue","title":"Missing value"}]}"#;
        let err = ZendeskError::from_status(400, None, body, "POST /api/v2/webhooks");
        assert_eq!(
            err,
            ZendeskError::BadRequest {
                description: "endpoint \"x\" is not an http or https URL; Missing value \
                              (POST /api/v2/webhooks)"
                    .into()
            }
        );
        let body = br#"{"errors":[{"code":"Forbidden","detail":"app-owned webhook"}]}"#;
        let err = ZendeskError::from_status(403, None, body, "GET /api/v2/webhooks/1");
        assert!(err.to_string().contains("app-owned webhook"), "{err}");
    }

    #[test]
    fn long_text_is_clipped() {
        let long = "x".repeat(1000);
        let body = serde_json::json!({"error": "InvalidRequest", "description": long}).to_string();
        let err = ZendeskError::from_status(400, None, body.as_bytes(), "GET /api/v2/users");
        assert!(err.to_string().len() < 400, "{err}");
    }
}
