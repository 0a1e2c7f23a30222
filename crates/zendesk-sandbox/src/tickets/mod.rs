//! Creating and updating tickets with Zendesk's validation rules. Works on the locked account;
//! no IO, so handlers stay thin.
//!
//! The checks on single request fields, comments, people and voice calls live in the
//! submodules; this file puts them together into a create and an update.

mod audit;
mod comment;
mod input;
mod people;
mod voice;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::change::{TicketChange, TicketSnapshot, UpdateType};
use crate::error::{ApiError, Invalid};
use crate::model::{Account, Ticket, Via};

use comment::{comment_input, make_comment};
use input::{custom_fields, enum_field, id_field, str_field, tag_list};
use people::{apply_assignment, assignment, inline_requester};
use voice::{push_voice_comment, voice_source};

pub use audit::audit;
pub use input::normalise_tags;
pub use people::{looks_like_email, new_end_user};
pub use voice::{voice_comment, VoiceComment};

/// Ticket statuses in their natural order (used by `less_than` conditions too).
pub const STATUSES: &[&str] = &["new", "open", "pending", "hold", "solved", "closed"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
const TYPES: &[&str] = &["problem", "incident", "question", "task"];
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

/// What a create needs besides the `ticket` object.
pub struct CreateContext {
    /// Who is creating.
    pub author: Author,
    /// When.
    pub now: DateTime<Utc>,
    /// Delay before new users are searchable.
    pub index_delay: chrono::Duration,
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
    let voice: Option<VoiceComment> = match t.get("voice_comment") {
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
    let voice: Option<VoiceComment> = match t.get("voice_comment") {
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
