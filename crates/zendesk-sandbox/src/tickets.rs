//! Creating and updating tickets with Zendesk's validation rules. Works on the locked account;
//! no IO, so handlers stay thin.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::change::{TicketChange, TicketSnapshot, UpdateType};
use crate::error::{ApiError, Invalid};
use crate::model::{Account, Comment, Role, Ticket, User, Via};

/// Ticket statuses in their natural order (used by `less_than` conditions too).
pub const STATUSES: &[&str] = &["new", "open", "pending", "hold", "solved", "closed"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
const TYPES: &[&str] = &["problem", "incident", "question", "task"];
/// Comment bodies longer than this are cut, silently, as Zendesk does.
const MAX_COMMENT_BYTES: usize = 64 * 1024;
/// A ticket holds at most this many comments.
const MAX_COMMENTS: usize = 5000;

/// Via ids a client may set on create, with the channel and `source.rel` they stand for.
fn via_for(id: u32) -> Option<(&'static str, Option<&'static str>)> {
    Some(match id {
        0 => ("web", None),
        4 => ("email", None),
        5 => ("api", None),
        29 => ("chat", None),
        33 => ("voice", Some("voicemail")),
        34 => ("voice", Some("inbound")),
        35 => ("voice", Some("outbound")),
        44 => ("voice", Some("voicemail")),
        45 => ("voice", Some("inbound")),
        46 => ("voice", Some("outbound")),
        _ => return None,
    })
}

/// The via object for a change made through `via_id`.
pub fn via(via_id: u32, source: Value) -> Via {
    let (channel, rel) = via_for(via_id).unwrap_or(("api", None));
    let mut source = match source {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    source.entry("from").or_insert_with(|| json!({}));
    source.entry("to").or_insert_with(|| json!({}));
    source.insert("rel".into(), rel.map_or(Value::Null, |r| json!(r)));
    Via {
        id: via_id,
        channel: channel.to_string(),
        source: Value::Object(source),
    }
}

/// Who is making a change.
#[derive(Clone, Copy, Debug)]
pub struct Author {
    /// The acting user.
    pub user_id: u64,
    /// 5 for the API, 0 for the agent interface.
    pub via_id: u32,
}

fn str_field<'a>(t: &'a Map<String, Value>, key: &str, bad: &mut Invalid) -> Option<&'a str> {
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

fn id_field(t: &Map<String, Value>, key: &str, bad: &mut Invalid) -> Option<u64> {
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

fn enum_field(
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

fn capitalised(key: &str) -> String {
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

fn tag_list(t: &Map<String, Value>, key: &str, bad: &mut Invalid) -> Option<Vec<String>> {
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

fn staff(account: &Account, id: u64) -> Option<&User> {
    account.users.get(&id).filter(|u| u.role.is_staff())
}

/// Checks custom field values against the account's field definitions; returns the values
/// to store and the tags drop-down values add.
fn custom_fields(
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

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

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
struct CommentInput {
    body: String,
    html_body: String,
    public: bool,
    author_id: Option<u64>,
}

fn comment_input(
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

/// Resolves an inline `requester` object: an existing user by email or phone, or a new end-user.
fn inline_requester(
    account: &mut Account,
    r: &Value,
    now: DateTime<Utc>,
    index_delay: chrono::Duration,
    bad: &mut Invalid,
) -> Option<u64> {
    let Some(r) = r.as_object() else {
        bad.add(
            "requester",
            "InvalidValue",
            "requester: must be an object with name and email or phone",
        );
        return None;
    };
    let email = r
        .get("email")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let phone = r
        .get("phone")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let name = r
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(email) = email {
        if !looks_like_email(email) {
            bad.add(
                "requester",
                "InvalidValue",
                format!("requester.email: {email} is not a valid email address"),
            );
            return None;
        }
        if let Some(u) = account.user_by_email(email) {
            return Some(u.id);
        }
    } else if let Some(phone) = phone {
        if let Some(u) = account
            .users
            .values()
            .find(|u| u.phone.as_deref() == Some(phone) && !u.shared_phone_number)
        {
            return Some(u.id);
        }
    } else {
        bad.add(
            "requester",
            "BlankValue",
            "requester: needs an email or a phone to find or create the user",
        );
        return None;
    }
    let name = name
        .map(str::to_string)
        .or_else(|| email.and_then(|e| e.split('@').next()).map(str::to_string))
        .or_else(|| phone.map(|p| format!("Caller {p}")))
        .unwrap_or_default();
    Some(new_end_user(
        account,
        name,
        email.map(str::to_string),
        phone.map(str::to_string),
        now,
        index_delay,
    ))
}

/// A minimal email check: something@something.tld, no spaces.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// Adds an end-user to the account and returns its id.
pub fn new_end_user(
    account: &mut Account,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    now: DateTime<Utc>,
    index_delay: chrono::Duration,
) -> u64 {
    let id = account.allocate_id();
    account.users.insert(
        id,
        User {
            id,
            name,
            email,
            phone,
            external_id: None,
            role: Role::EndUser,
            organization_id: None,
            default_group_id: None,
            time_zone: "UTC".into(),
            locale: "en-US".into(),
            tags: Vec::new(),
            notes: String::new(),
            details: String::new(),
            user_fields: BTreeMap::new(),
            shared_phone_number: false,
            verified: false,
            active: true,
            suspended: false,
            created_at: now,
            updated_at: now,
            searchable_from: now + index_delay,
        },
    );
    id
}

/// Assignee and group as asked, checked against each other.
fn assignment(
    account: &Account,
    t: &Map<String, Value>,
    bad: &mut Invalid,
) -> (Option<Option<u64>>, Option<Option<u64>>) {
    let mut assignee: Option<Option<u64>> = None;
    if t.get("assignee_id").is_some_and(Value::is_null) {
        assignee = Some(None);
    } else if let Some(id) = id_field(t, "assignee_id", bad) {
        if staff(account, id).is_some() {
            assignee = Some(Some(id));
        } else {
            bad.add(
                "assignee",
                "InvalidValue",
                format!("Assignee: user {id} is not an agent"),
            );
        }
    }
    if let Some(email) = str_field(t, "assignee_email", bad) {
        match account.user_by_email(email).filter(|u| u.role.is_staff()) {
            Some(u) => assignee = Some(Some(u.id)),
            None => bad.add(
                "assignee",
                "InvalidValue",
                format!("Assignee: {email} is not an agent of this account"),
            ),
        }
    }
    let mut group: Option<Option<u64>> = None;
    if t.get("group_id").is_some_and(Value::is_null) {
        group = Some(None);
    } else if let Some(id) = id_field(t, "group_id", bad) {
        if account.groups.contains_key(&id) {
            group = Some(Some(id));
        } else {
            bad.add(
                "group",
                "InvalidValue",
                format!("Group: group {id} does not exist"),
            );
        }
    }
    (assignee, group)
}

fn apply_assignment(
    account: &Account,
    ticket: &mut Ticket,
    assignee: Option<Option<u64>>,
    group: Option<Option<u64>>,
    bad: &mut Invalid,
) {
    if let Some(g) = group {
        ticket.group_id = g;
    }
    if let Some(a) = assignee {
        ticket.assignee_id = a;
        if let (Some(a), None) = (a, group) {
            // Zendesk puts the ticket in the assignee's default group unless one is given.
            let keep = ticket.group_id.is_some_and(|g| account.is_member(a, g));
            if !keep {
                ticket.group_id = account.users.get(&a).and_then(|u| u.default_group_id);
            }
        }
    }
    if let (Some(a), Some(g)) = (ticket.assignee_id, ticket.group_id) {
        if !account.is_member(a, g) {
            let agent = account
                .users
                .get(&a)
                .map_or(String::new(), |u| u.name.clone());
            let group = account
                .groups
                .get(&g)
                .map_or(String::new(), |g| g.name.clone());
            bad.add(
                "assignee",
                "InvalidValue",
                format!("Assignee: {agent} is not a member of the group {group}"),
            );
        }
    }
}

fn make_comment(
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

/// What a create needs besides the `ticket` object.
pub struct CreateContext {
    /// Who is creating.
    pub author: Author,
    /// When.
    pub now: DateTime<Utc>,
    /// Delay before new users are searchable.
    pub index_delay: chrono::Duration,
}

/// A voice comment, checked (the Talk Partner Edition endpoint and `voice_comment`).
pub struct VoiceComment {
    data: Value,
    body: String,
    from: Option<String>,
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

fn push_voice_comment(
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

/// Creates a ticket from a `ticket` object. `voice` is set by the Talk Partner Edition
/// endpoint, which also requires a via id of 44, 45 or 46.
pub fn create(
    account: &mut Account,
    t: &Map<String, Value>,
    ctx: &CreateContext,
    voice_endpoint: bool,
) -> Result<TicketChange, ApiError> {
    let mut bad = Invalid::default();
    let via_id = match t.get("via_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if via_for(n).is_some() => Some(n),
            _ => {
                bad.add(
                    "via_id",
                    "InvalidValue",
                    format!("via_id: {v} is not a via type that can be set through the API"),
                );
                None
            }
        },
    };
    if voice_endpoint && !matches!(via_id, Some(44..=46)) {
        bad.add(
            "via_id",
            "InvalidValue",
            "via_id: must be 44 (voicemail), 45 (inbound call) or 46 (outbound call)",
        );
    }
    let voice = match t.get("voice_comment") {
        None | Some(Value::Null) => {
            if voice_endpoint && via_id == Some(44) {
                bad.add(
                    "voice_comment",
                    "BlankValue",
                    "voice_comment: is required for a voicemail ticket (via_id 44)",
                );
            }
            None
        }
        Some(v) => voice_comment(account, v, &mut bad),
    };
    let comment = comment_input(account, t, voice.is_none(), &mut bad);
    let subject = str_field(t, "subject", &mut bad).map(str::to_string);
    let external_id = match t.get("external_id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => str_field(t, "external_id", &mut bad).map(str::to_string),
    };
    let mut status = enum_field(t, "status", STATUSES, &mut bad);
    let priority = enum_field(t, "priority", PRIORITIES, &mut bad);
    let ticket_type = enum_field(t, "type", TYPES, &mut bad);
    let tags = tag_list(t, "tags", &mut bad).unwrap_or_default();
    let (fields, field_tags) = custom_fields(account, t, &mut bad);
    let (assignee, group) = assignment(account, t, &mut bad);
    let submitter = id_field(t, "submitter_id", &mut bad);
    if let Some(s) = submitter {
        if !account.users.contains_key(&s) {
            bad.add(
                "submitter",
                "InvalidValue",
                format!("Submitter: user {s} does not exist"),
            );
        }
    }
    let requester_id = id_field(t, "requester_id", &mut bad);
    if let Some(r) = requester_id {
        if !account.users.contains_key(&r) {
            bad.add(
                "requester",
                "InvalidValue",
                format!("Requester: user {r} does not exist"),
            );
        }
    }
    if status.as_deref() == Some("closed") {
        bad.add(
            "status",
            "InvalidValue",
            "Status: a ticket cannot be created closed",
        );
        status = None;
    }
    // Everything that does not create records is checked first, so a bad request
    // changes nothing.
    bad.finish()?;
    let mut bad = Invalid::default();
    let mut new_users = Vec::new();
    let requester_id = match (requester_id, t.get("requester")) {
        (Some(id), _) => id,
        (None, Some(r)) if !r.is_null() => {
            let before = account.next_id;
            let id = inline_requester(account, r, ctx.now, ctx.index_delay, &mut bad);
            if account.next_id != before {
                new_users.extend(id);
            }
            id.unwrap_or(ctx.author.user_id)
        }
        _ => match voice.as_ref().and_then(|v| v.from.clone()) {
            Some(phone) => match account
                .users
                .values()
                .find(|u| u.phone.as_deref() == Some(&phone))
            {
                Some(u) => u.id,
                None => {
                    let id = new_end_user(
                        account,
                        format!("Caller {phone}"),
                        None,
                        Some(phone),
                        ctx.now,
                        ctx.index_delay,
                    );
                    new_users.push(id);
                    id
                }
            },
            None => ctx.author.user_id,
        },
    };
    let effective_via = via_id.unwrap_or(ctx.author.via_id);
    let ticket_via = via(effective_via, voice_source(voice.as_ref(), t));
    let id = account.allocate_ticket_id();
    let organization_id = account
        .users
        .get(&requester_id)
        .and_then(|u| u.organization_id);
    let mut ticket = Ticket {
        id,
        subject,
        description: String::new(),
        status: "new".into(),
        priority,
        ticket_type,
        requester_id,
        submitter_id: submitter.unwrap_or(ctx.author.user_id),
        assignee_id: None,
        group_id: None,
        organization_id,
        external_id,
        tags: normalise_tags(tags.iter().chain(field_tags.iter()).map(String::as_str)),
        custom_fields: fields,
        via: ticket_via.clone(),
        comments: Vec::new(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    apply_assignment(account, &mut ticket, assignee, group, &mut bad);
    if let Err(e) = bad.finish() {
        // Undo users created for this request: a rejected request changes nothing.
        for u in new_users {
            account.users.remove(&u);
        }
        account.next_ticket_id -= 1;
        return Err(e);
    }
    ticket.status = match status {
        Some(s) => s,
        None if ticket.assignee_id.is_some() => "open".into(),
        None => "new".into(),
    };
    let mut comment_ids = Vec::new();
    if let Some(c) = comment {
        let comment = make_comment(account, c, ticket.submitter_id, ticket_via.clone(), ctx.now);
        comment_ids.push(comment.id);
        ticket.comments.push(comment);
    }
    if let Some(v) = voice {
        push_voice_comment(
            account,
            &mut ticket,
            v,
            ctx.author.user_id,
            ticket_via,
            ctx.now,
        );
        if let Some(c) = ticket.comments.last() {
            comment_ids.push(c.id);
        }
    }
    ticket.description = ticket
        .comments
        .first()
        .map(|c| c.body.clone())
        .unwrap_or_default();
    account.tickets.insert(id, ticket);
    Ok(TicketChange {
        ticket_id: id,
        update_type: UpdateType::Create,
        actor_id: ctx.author.user_id,
        via_id: effective_via,
        before: None,
        comment_ids,
        at: ctx.now,
    })
}

fn voice_source(voice: Option<&VoiceComment>, _t: &Map<String, Value>) -> Value {
    match voice {
        Some(v) => json!({
            "from": {"phone": v.data.get("from")},
            "to": {"phone": v.data.get("to")},
        }),
        None => json!({}),
    }
}

/// Applies a `PUT /api/v2/tickets/{id}` body.
pub fn update(
    account: &mut Account,
    id: u64,
    t: &Map<String, Value>,
    author: Author,
    now: DateTime<Utc>,
) -> Result<TicketChange, ApiError> {
    let existing = account
        .tickets
        .get(&id)
        .ok_or(ApiError::NotFound("ticket"))?;
    if existing.status == "closed" {
        return Err(ApiError::invalid(
            "status",
            "InvalidValue",
            "Status: closed prevents ticket update",
        ));
    }
    if existing.comments.len() >= MAX_COMMENTS && t.get("comment").is_some_and(|c| !c.is_null()) {
        return Err(ApiError::invalid(
            "base",
            "TooManyComments",
            "Ticket has reached the maximum of 5000 comments",
        ));
    }
    let mut bad = Invalid::default();
    let subject = str_field(t, "subject", &mut bad).map(str::to_string);
    let status = enum_field(t, "status", STATUSES, &mut bad);
    let priority = enum_field(t, "priority", PRIORITIES, &mut bad);
    let ticket_type = enum_field(t, "type", TYPES, &mut bad);
    let tags = tag_list(t, "tags", &mut bad);
    let additional = tag_list(t, "additional_tags", &mut bad);
    let remove = tag_list(t, "remove_tags", &mut bad);
    let has_fields = t.contains_key("custom_fields") || t.contains_key("fields");
    let (fields, field_tags) = custom_fields(account, t, &mut bad);
    let (assignee, group) = assignment(account, t, &mut bad);
    let comment = comment_input(account, t, false, &mut bad);
    let voice = match t.get("voice_comment") {
        None | Some(Value::Null) => None,
        Some(v) => voice_comment(account, v, &mut bad),
    };
    let requester = id_field(t, "requester_id", &mut bad);
    if let Some(r) = requester {
        if !account.users.contains_key(&r) {
            bad.add(
                "requester",
                "InvalidValue",
                format!("Requester: user {r} does not exist"),
            );
        }
    }
    let external_id = match t.get("external_id") {
        Some(Value::Number(n)) => Some(Some(n.to_string())),
        Some(Value::Null) => Some(None),
        _ => str_field(t, "external_id", &mut bad).map(|s| Some(s.to_string())),
    };
    if status.as_deref() == Some("new") && existing.status != "new" {
        bad.add(
            "status",
            "InvalidValue",
            "Status: cannot be set back to new",
        );
    }
    bad.finish()?;

    let mut ticket = existing.clone();
    let before = TicketSnapshot::of(&ticket);
    let mut bad = Invalid::default();
    if let Some(s) = subject {
        ticket.subject = Some(s);
    }
    if let Some(p) = priority {
        ticket.priority = Some(p);
    }
    if let Some(ty) = ticket_type {
        ticket.ticket_type = Some(ty);
    }
    if let Some(r) = requester {
        ticket.requester_id = r;
    }
    if let Some(e) = external_id {
        ticket.external_id = e;
    }
    if let Some(tags) = tags {
        ticket.tags = tags;
    }
    if let Some(add) = additional {
        ticket.tags = normalise_tags(ticket.tags.iter().chain(add.iter()).map(String::as_str));
    }
    if let Some(remove) = remove {
        ticket.tags.retain(|t| !remove.contains(t));
    }
    if has_fields {
        for (field_id, value) in fields {
            ticket.custom_fields.insert(field_id, value);
        }
        ticket.tags = normalise_tags(
            ticket
                .tags
                .iter()
                .chain(field_tags.iter())
                .map(String::as_str),
        );
    }
    apply_assignment(account, &mut ticket, assignee, group, &mut bad);
    if let Some(s) = status {
        if (s == "solved" || s == "closed") && ticket.assignee_id.is_none() {
            // Solving without an assignee assigns the agent who solved it, as in Zendesk.
            let actor_groups_ok = ticket
                .group_id
                .is_none_or(|g| account.is_member(author.user_id, g));
            if actor_groups_ok {
                ticket.assignee_id = Some(author.user_id);
            } else {
                bad.add(
                    "status",
                    "InvalidValue",
                    "Status: solved tickets need an assignee",
                );
            }
        }
        ticket.status = s;
    } else if ticket.status == "new" && ticket.assignee_id.is_some() {
        ticket.status = "open".into();
    }
    bad.finish()?;
    let change_via = via(author.via_id, json!({}));
    let mut comment_ids = Vec::new();
    if let Some(c) = comment {
        let comment = make_comment(account, c, author.user_id, change_via.clone(), now);
        comment_ids.push(comment.id);
        ticket.comments.push(comment);
    }
    if let Some(v) = voice {
        push_voice_comment(account, &mut ticket, v, author.user_id, change_via, now);
        if let Some(c) = ticket.comments.last() {
            comment_ids.push(c.id);
        }
    }
    if ticket.description.is_empty() {
        ticket.description = ticket
            .comments
            .first()
            .map(|c| c.body.clone())
            .unwrap_or_default();
    }
    ticket.updated_at = now;
    account.tickets.insert(id, ticket);
    Ok(TicketChange {
        ticket_id: id,
        update_type: UpdateType::Change,
        actor_id: author.user_id,
        via_id: author.via_id,
        before: Some(before),
        comment_ids,
        at: now,
    })
}

/// The audit Zendesk returns with a create or update: one event per changed property and
/// comment.
pub fn audit(account: &mut Account, change: &TicketChange) -> Value {
    let audit_id = account.allocate_id();
    let Some(t) = account.tickets.get(&change.ticket_id).cloned() else {
        return Value::Null;
    };
    let mut events = Vec::new();
    let mut push = |mut e: Value| {
        if let Some(obj) = e.as_object_mut() {
            obj.insert("id".into(), json!(account.allocate_id()));
        }
        events.push(e);
    };
    for c in t
        .comments
        .iter()
        .filter(|c| change.comment_ids.contains(&c.id))
    {
        push(json!({
            "type": c.kind, "author_id": c.author_id, "body": c.body,
            "html_body": c.html_body, "public": c.public, "attachments": []
        }));
    }
    let kind = if change.update_type == UpdateType::Create {
        "Create"
    } else {
        "Change"
    };
    let before = change.before.as_ref();
    let mut field = |name: &str, now: Value, was: Option<Value>| {
        if was.as_ref() != Some(&now) && !(was.is_none() && now.is_null()) {
            let mut e = json!({"type": kind, "field_name": name, "value": now});
            if let (Some(was), Some(obj)) = (was, e.as_object_mut()) {
                obj.insert("previous_value".into(), was);
            }
            push(e);
        }
    };
    field("status", json!(t.status), before.map(|b| json!(b.status)));
    field(
        "priority",
        json!(t.priority),
        before.map(|b| json!(b.priority)),
    );
    field(
        "assignee_id",
        json!(t.assignee_id),
        before.map(|b| json!(b.assignee_id)),
    );
    field(
        "group_id",
        json!(t.group_id),
        before.map(|b| json!(b.group_id)),
    );
    field("tags", json!(t.tags), before.map(|b| json!(b.tags)));
    json!({
        "id": audit_id,
        "ticket_id": t.id,
        "created_at": crate::render::timestamp(change.at),
        "author_id": change.actor_id,
        "metadata": {"system": {"client": "zendesk-sandbox"}, "custom": {}},
        "via": {"channel": via(change.via_id, json!({})).channel, "source": {"from": {}, "to": {}, "rel": null}},
        "events": events,
    })
}
