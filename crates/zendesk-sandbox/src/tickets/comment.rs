//! The `comment` of a create or update: checking it, deriving the plain and HTML bodies from
//! each other, and turning it into a stored comment.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::input::{capitalised, id_field, str_field};
use crate::error::{ApiError, Invalid};
use crate::model::{Account, Comment, Via};

/// Comment bodies longer than this are cut, silently, as Zendesk does.
const MAX_COMMENT_BYTES: usize = 64 * 1024;

/// The plain text of an HTML body, whitespace collapsed.
fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes text for use inside an HTML body.
pub(super) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts `s` to `MAX_COMMENT_BYTES` on a character boundary.
fn truncate(mut s: String) -> String {
    if s.len() > MAX_COMMENT_BYTES {
        let mut cut = MAX_COMMENT_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// A comment as sent in `ticket.comment`, checked.
pub(super) struct CommentInput {
    body: String,
    html_body: String,
    public: bool,
    author_id: Option<u64>,
}

/// Checks `ticket.comment`; `required` makes a missing comment an error (a create's description).
pub(super) fn comment_input(
    account: &Account,
    t: &Map<String, Value>,
    required: bool,
    bad: &mut Invalid,
) -> Option<CommentInput> {
    let c = match t.get("comment") {
        None | Some(Value::Null) => {
            if required {
                bad.add("description", "BlankValue", "Description: cannot be blank");
            }
            return None;
        }
        Some(Value::Object(c)) => c,
        Some(Value::String(s)) => {
            return Some(CommentInput {
                body: truncate(s.clone()),
                html_body: format!("<p>{}</p>", escape_html(s)),
                public: true,
                author_id: None,
            })
        }
        Some(_) => {
            bad.add(
                "comment",
                "InvalidValue",
                "comment: must be an object with body or html_body",
            );
            return None;
        }
    };
    let mut local = Invalid::default();
    let body = str_field(c, "body", &mut local).map(str::to_string);
    let html = str_field(c, "html_body", &mut local).map(str::to_string);
    let public = match c.get("public") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            local.add(
                "comment",
                "InvalidValue",
                format!("comment.public: must be true or false, got {other}"),
            );
            true
        }
    };
    let author_id = id_field(c, "author_id", &mut local);
    if let Err(ApiError::RecordInvalid(details)) = local.finish() {
        for (field, errors) in details {
            for e in errors {
                bad.add(&format!("comment.{field}"), &e.error, e.description);
            }
        }
        return None;
    }
    if let Some(author) = author_id {
        if !account.users.contains_key(&author) {
            bad.add(
                "comment",
                "InvalidValue",
                format!("comment.author_id: user {author} does not exist"),
            );
        }
    }
    let (body, html_body) = match (body, html) {
        (_, Some(h)) if !h.trim().is_empty() => (strip_html(&h), h),
        (Some(b), _) if !b.trim().is_empty() => {
            let collapsed = b
                .split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let html = format!("<p>{}</p>", escape_html(&collapsed).replace('\n', "<br>"));
            (collapsed, html)
        }
        _ => {
            let field = if required { "description" } else { "comment" };
            bad.add(
                field,
                "BlankValue",
                format!("{}: cannot be blank", capitalised(field)),
            );
            return None;
        }
    };
    Some(CommentInput {
        body: truncate(body),
        html_body: truncate(html_body),
        public,
        author_id,
    })
}

/// Stores a checked comment as a new comment, by its own author or `default_author`.
pub(super) fn make_comment(
    account: &mut Account,
    input: CommentInput,
    default_author: u64,
    via: Via,
    now: DateTime<Utc>,
) -> Comment {
    let id = account.allocate_id();
    let audit_id = account.allocate_id();
    Comment {
        id,
        kind: "Comment".into(),
        author_id: input.author_id.unwrap_or(default_author),
        plain_body: input.body.clone(),
        body: input.body,
        html_body: input.html_body,
        public: input.public,
        audit_id,
        via,
        data: None,
        created_at: now,
    }
}
