//! The v1 Disposition webhook: the After-Call call log plus `_dsp[]` (the dispositions the
//! agent chose), sent when the agent saves the disposition. Agent comments are the log's
//! `_cn[]` (`_tx` text, `_na`/`_em`/`_ex`/`_nr` author, `_ce` time).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::after_call::correlated_record;
use super::SourceError;
use super::{agent_from, as_text, disposition_names, invalid, short_hash, time_value};
use crate::call::{AgentRef, Provider};
use crate::event::{CallEvent, Disposition, ParsedEvent};
use crate::phone::PhoneParser;
use crate::sources::json_kind;

/// Keys a comment object may hold its text under.
const COMMENT_TEXT_KEYS: &[&str] = &["_tx", "text", "comment"];

/// Disposition → `Ended` (the call log it carries, keyed by `_ai` like the After-Call, so it
/// is a duplicate when the After-Call came first and stands in for it when that was lost),
/// then `Disposition` when there is a disposition or a comment, keyed
/// `<call id>:disposition:<hash of dispositions, comment and agent>`: a redelivery repeats the
/// key, a re-save with other content does not.
pub(super) fn events(
    log: &Map<String, Value>,
    phones: &PhoneParser,
) -> Result<Vec<ParsedEvent>, SourceError> {
    let (record, log_id) = correlated_record(log, phones)?;
    let dispositions = disposition_names("_dsp", log.get("_dsp").unwrap_or(&Value::Null))?;
    let comments = comments_from("_cn", log.get("_cn"), phones)?;
    let call_id = record.call_id.clone();
    let fallback_agent = record.answered_by.clone();
    let fallback_at = record.ended_at.unwrap_or(record.started_at);
    let mut out = vec![ParsedEvent {
        dedupe_key: log_id,
        event: CallEvent::Ended(record),
    }];
    if dispositions.is_empty() && comments.is_empty() {
        return Ok(out);
    }
    let comment = join_comments(&comments);
    // The agent who wrote the last comment, else the one who took the call.
    let agent = comments
        .iter()
        .rev()
        .find_map(|c| c.author.clone())
        .or(fallback_agent);
    // When it was saved: the latest comment's time, else the end of the call.
    let at = comments
        .iter()
        .filter_map(|c| c.at)
        .max()
        .unwrap_or(fallback_at);
    let mut sorted = dispositions.clone();
    sorted.sort();
    sorted.push(String::new());
    sorted.push(comment.clone().unwrap_or_default());
    sorted.push(agent.as_ref().map(AgentRef::label).unwrap_or_default());
    let dedupe_key = format!("{call_id}:disposition:{}", short_hash(&sorted));
    out.push(ParsedEvent {
        dedupe_key,
        event: CallEvent::Disposition(Disposition {
            provider: Provider::MyOperator,
            call_id,
            at,
            dispositions,
            comment,
            agent,
        }),
    });
    Ok(out)
}

/// One agent comment.
pub(super) struct Comment {
    pub(super) text: String,
    pub(super) author: Option<AgentRef>,
    pub(super) at: Option<DateTime<Utc>>,
}

/// Comments in `field` (`_cn` for v1): a list of comment objects (text under `_tx`, `text` or
/// `comment`; the author's keys as for agents; v1's `_ce` time) or strings, or one string.
pub(super) fn comments_from(
    field: &'static str,
    value: Option<&Value>,
    phones: &PhoneParser,
) -> Result<Vec<Comment>, SourceError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::String(_)) => vec![one],
        Some(other) => {
            return Err(invalid(
                field,
                format!("expected a list of comments, got {}", json_kind(other)),
            ))
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let comment = match item {
            Value::String(_) => as_text(item).map(|text| Comment {
                text,
                author: None,
                at: None,
            }),
            Value::Object(map) => match COMMENT_TEXT_KEYS.iter().find_map(|k| map.get(*k)) {
                Some(t) => match as_text(t) {
                    Some(text) => Some(Comment {
                        text,
                        author: agent_from(item, phones),
                        at: map
                            .get("_ce")
                            .map(|v| time_value("_cn._ce", v))
                            .transpose()?
                            .flatten(),
                    }),
                    None => None,
                },
                None => None,
            },
            Value::Null => None,
            other => {
                return Err(invalid(
                    field,
                    format!("element {} is {}, not a comment", i + 1, json_kind(other)),
                ))
            }
        };
        out.extend(comment);
    }
    Ok(out)
}

/// The comments one per line; prefixed with their author when more than one agent wrote.
pub(super) fn join_comments(comments: &[Comment]) -> Option<String> {
    let mut authors: Vec<String> = comments
        .iter()
        .filter_map(|c| c.author.as_ref().map(AgentRef::label))
        .collect();
    authors.sort();
    authors.dedup();
    let lines: Vec<String> = comments
        .iter()
        .map(|c| match (&c.author, authors.len() > 1) {
            (Some(a), true) => format!("{}: {}", a.label(), c.text),
            _ => c.text.clone(),
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
