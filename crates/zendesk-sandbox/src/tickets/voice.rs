//! Voice comments, as sent by the Talk Partner Edition endpoint or in `voice_comment`.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::comment::escape_html;
use super::input::{id_field, str_field};
use super::people::staff;
use crate::error::{ApiError, Invalid};
use crate::model::{Account, Comment, Ticket, Via};

/// A voice comment, checked (the Talk Partner Edition endpoint and `voice_comment`).
pub struct VoiceComment {
    data: Value,
    body: String,
    /// The caller's number, used to find or create the requester.
    pub(super) from: Option<String>,
}

/// Checks a `voice_comment` object.
pub fn voice_comment(account: &Account, v: &Value, bad: &mut Invalid) -> Option<VoiceComment> {
    let Some(v) = v.as_object() else {
        bad.add(
            "voice_comment",
            "InvalidValue",
            "voice_comment: must be an object",
        );
        return None;
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut local = Invalid::default();
    for key in [
        "from",
        "to",
        "recording_url",
        "transcription_text",
        "location",
    ] {
        str_field(v, key, &mut local);
    }
    let started_at = text("started_at");
    if let Some(s) = &started_at {
        if DateTime::parse_from_rfc3339(s).is_err() {
            bad.add(
                "voice_comment",
                "InvalidValue",
                format!("voice_comment.started_at: {s} is not an ISO-8601 time"),
            );
        }
    }
    let duration = match v.get("call_duration") {
        None | Some(Value::Null) => None,
        Some(d) => match d
            .as_u64()
            .or_else(|| d.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) => Some(n),
            None => {
                bad.add(
                    "voice_comment",
                    "InvalidValue",
                    format!("voice_comment.call_duration: must be whole seconds, got {d}"),
                );
                None
            }
        },
    };
    let answered_by = id_field(v, "answered_by_id", &mut local);
    if let Err(ApiError::RecordInvalid(details)) = local.finish() {
        for (field, errors) in details {
            for e in errors {
                bad.add(&format!("voice_comment.{field}"), &e.error, e.description);
            }
        }
        return None;
    }
    let agent = match answered_by {
        Some(id) => match staff(account, id) {
            Some(u) => Some(u.name.clone()),
            None => {
                bad.add(
                    "voice_comment",
                    "InvalidValue",
                    format!("voice_comment.answered_by_id: user {id} is not an agent"),
                );
                None
            }
        },
        None => None,
    };
    let mut lines = Vec::new();
    if let Some(f) = text("from") {
        lines.push(format!("Call from: {f}"));
    }
    if let Some(t) = text("to") {
        lines.push(format!("Call to: {t}"));
    }
    if let Some(s) = &started_at {
        lines.push(format!("Time of call: {s}"));
    }
    if let Some(d) = duration {
        lines.push(format!("Length of phone call: {d} seconds"));
    }
    if let Some(a) = agent {
        lines.push(format!("Answered by: {a}"));
    }
    if let Some(l) = text("location") {
        lines.push(format!("Location: {l}"));
    }
    if let Some(r) = text("recording_url") {
        lines.push(format!("Recording: {r}"));
    }
    if let Some(t) = text("transcription_text") {
        lines.push(format!("Transcription: {t}"));
    }
    Some(VoiceComment {
        data: json!({
            "from": text("from"),
            "to": text("to"),
            "recording_url": text("recording_url"),
            "started_at": started_at,
            "call_duration": duration,
            "answered_by_id": answered_by,
            "transcription_text": text("transcription_text"),
            "location": text("location"),
        }),
        body: lines.join("\n"),
        from: text("from"),
    })
}

/// Adds a checked voice comment to `ticket`, as a private comment.
pub(super) fn push_voice_comment(
    account: &mut Account,
    ticket: &mut Ticket,
    voice: VoiceComment,
    author: u64,
    via: Via,
    now: DateTime<Utc>,
) {
    let id = account.allocate_id();
    let audit_id = account.allocate_id();
    ticket.comments.push(Comment {
        id,
        kind: "VoiceComment".into(),
        author_id: author,
        html_body: format!("<p>{}</p>", escape_html(&voice.body).replace('\n', "<br>")),
        plain_body: voice.body.clone(),
        body: voice.body,
        public: false,
        audit_id,
        via,
        data: Some(voice.data),
        created_at: now,
    });
}

/// The via `source` of a ticket created from a call: the numbers called from and to.
pub(super) fn voice_source(voice: Option<&VoiceComment>, _t: &Map<String, Value>) -> Value {
    match voice {
        Some(v) => json!({
            "from": {"phone": v.data.get("from")},
            "to": {"phone": v.data.get("to")},
        }),
        None => json!({}),
    }
}
