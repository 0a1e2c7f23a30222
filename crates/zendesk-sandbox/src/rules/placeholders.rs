//! Zendesk placeholders (`{{ticket.id}}`, `{{current_user.email}}`, ...) in webhook bodies.
//!
//! Only plain placeholders are supported, not Liquid tags (`{% ... %}`) or filters: Liquid
//! passes through unchanged, and an unknown placeholder (a filter makes one unknown) renders
//! as an empty string, as Zendesk renders placeholders it does not know.

use serde_json::Value;

use crate::model::{Account, Comment, Organization, Role, Ticket, User};
use crate::render::timestamp;

/// What placeholders are rendered from.
pub struct Scope<'a> {
    /// The account, for users, groups, organizations and ticket fields.
    pub account: &'a Account,
    /// The ticket as it is after the trigger run.
    pub ticket: &'a Ticket,
    /// The user who made the change (`current_user`).
    pub actor_id: u64,
    /// The sandbox's base URL, standing in for `https://{subdomain}.zendesk.com`.
    pub base_url: &'a str,
}

/// Renders `template`. With `json_escape` (the webhook sends JSON), each placeholder's value
/// is escaped as the inside of a JSON string, without adding quotes, so a comment holding
/// quotes or newlines cannot break the body. This is the sandbox's choice: Zendesk's docs do
/// not say whether it escapes (reference §7, UNVERIFIED), so integrations should not rely on it.
pub fn render(template: &str, scope: &Scope, json_escape: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..];
        let Some(end) = inner.find("}}") else {
            // An unclosed `{{` is text.
            out.push_str(&rest[start..]);
            return out;
        };
        let value = lookup(inner[..end].trim(), scope).unwrap_or_default();
        if json_escape {
            out.push_str(&escape_json(&value));
        } else {
            out.push_str(&value);
        }
        rest = &inner[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `text` escaped for the inside of a JSON string literal.
fn escape_json(text: &str) -> String {
    let quoted = Value::String(text.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// `open` → `Open`: Zendesk shows statuses, priorities and types by their (English) labels.
fn label(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The name Zendesk shows for a via type (UNVERIFIED for the voice ones).
fn via_name(id: u32) -> &'static str {
    match id {
        0 => "Web Form",
        4 => "Mail",
        5 => "Web Service",
        29 => "Chat",
        33 | 44 => "Voicemail",
        34 | 45 => "Phone call (inbound)",
        35 | 46 => "Phone call (outbound)",
        _ => "Web Service",
    }
}

fn user_attr(user: Option<&User>, attr: &str) -> Option<String> {
    let u = user?;
    let mut names = u.name.splitn(2, ' ');
    let first = names.next().unwrap_or_default().to_string();
    let last = names.next().unwrap_or_default().to_string();
    Some(match attr {
        "id" => u.id.to_string(),
        "name" => u.name.clone(),
        "first_name" => first,
        "last_name" => last,
        "email" => u.email.clone().unwrap_or_default(),
        "phone" => u.phone.clone().unwrap_or_default(),
        "external_id" => u.external_id.clone().unwrap_or_default(),
        // The wire names (`agent`, `admin`, `end-user`); Zendesk's rendering is UNVERIFIED.
        "role" => u.role.as_str().to_string(),
        "is_staff" => matches!(u.role, Role::Agent | Role::Admin).to_string(),
        _ => return None,
    })
}

fn comment_text(c: Option<&Comment>) -> String {
    c.map(|c| c.body.clone()).unwrap_or_default()
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn ticket_field(name: &str, scope: &Scope) -> Option<String> {
    let t = scope.ticket;
    if let Some(id) = name.strip_prefix("ticket_field_option_title_") {
        let id: u64 = id.parse().ok()?;
        let stored = field_text(t.custom_fields.get(&id)?);
        let field = scope.account.ticket_fields.get(&id)?;
        return Some(
            field
                .options
                .iter()
                .find(|o| o.value == stored)
                .map_or(stored, |o| o.name.clone()),
        );
    }
    let id: u64 = name.strip_prefix("ticket_field_")?.parse().ok()?;
    Some(t.custom_fields.get(&id).map(field_text).unwrap_or_default())
}

fn organization<'a>(scope: &Scope<'a>) -> Option<&'a Organization> {
    scope
        .ticket
        .organization_id
        .and_then(|o| scope.account.organizations.get(&o))
}

fn lookup(name: &str, scope: &Scope) -> Option<String> {
    let t = scope.ticket;
    let users = &scope.account.users;
    if let Some(attr) = name.strip_prefix("current_user.") {
        return user_attr(users.get(&scope.actor_id), attr);
    }
    if let Some(attr) = name.strip_prefix("ticket.requester.") {
        return user_attr(users.get(&t.requester_id), attr);
    }
    if let Some(attr) = name.strip_prefix("ticket.assignee.") {
        // No assignee renders empty rather than unknown.
        return Some(
            user_attr(t.assignee_id.and_then(|a| users.get(&a)), attr).unwrap_or_default(),
        );
    }
    let host_path = format!("/agent/tickets/{}", t.id);
    let without_scheme = scope
        .base_url
        .split_once("://")
        .map_or(scope.base_url, |(_, rest)| rest);
    Some(match name {
        "ticket.id" => t.id.to_string(),
        "ticket.external_id" => t.external_id.clone().unwrap_or_default(),
        // Zendesk renders the status label ("Open"), not the API value ("open").
        "ticket.status" => label(&t.status),
        "ticket.priority" => t.priority.as_deref().map(label).unwrap_or_default(),
        "ticket.ticket_type" => t.ticket_type.as_deref().map(label).unwrap_or_default(),
        "ticket.title" => t.subject.clone().unwrap_or_default(),
        "ticket.description" => t.description.clone(),
        // As in Zendesk, `ticket.url` has no scheme and `ticket.link` has one.
        "ticket.url" => format!("{without_scheme}{host_path}"),
        "ticket.link" => format!("{}{host_path}", scope.base_url),
        "ticket.via" => via_name(t.via.id).to_string(),
        "ticket.tags" => t.tags.join(" "),
        "ticket.latest_public_comment" => comment_text(t.latest_public_comment()),
        "ticket.latest_comment" => comment_text(t.comments.last()),
        "ticket.created_at_with_timestamp" => timestamp(t.created_at),
        "ticket.updated_at_with_timestamp" => timestamp(t.updated_at),
        "ticket.group.name" => t
            .group_id
            .and_then(|g| scope.account.groups.get(&g))
            .map(|g| g.name.clone())
            .unwrap_or_default(),
        "ticket.organization.name" => organization(scope)
            .map(|o| o.name.clone())
            .unwrap_or_default(),
        "ticket.organization.external_id" => organization(scope)
            .and_then(|o| o.external_id.clone())
            .unwrap_or_default(),
        other => {
            return other
                .strip_prefix("ticket.")
                .and_then(|f| ticket_field(f, scope))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldOption, TicketField};
    use crate::rules::testing::{account, ticket};
    use serde_json::json;

    #[test]
    fn placeholders_render() {
        let mut account = account();
        account.ticket_fields.insert(
            11,
            TicketField {
                id: 11,
                field_type: "tagger".into(),
                title: "Direction".into(),
                description: String::new(),
                active: true,
                required: false,
                options: vec![FieldOption {
                    id: 12,
                    name: "Inbound".into(),
                    value: "inbound".into(),
                }],
                regexp_for_validation: None,
                created_at: chrono::DateTime::UNIX_EPOCH,
                updated_at: chrono::DateTime::UNIX_EPOCH,
            },
        );
        let mut t = ticket();
        t.status = "open".into();
        t.tags = vec!["a".into(), "b".into()];
        t.custom_fields.insert(11, json!("inbound"));
        let mut note = t.comments[0].clone();
        note.id = 101;
        note.public = false;
        note.body = "internal".into();
        t.comments[0].public = true;
        t.comments.push(note);
        let scope = Scope {
            account: &account,
            ticket: &t,
            actor_id: 2,
            base_url: "http://127.0.0.1:9",
        };
        let cases = [
            ("{{ticket.id}}", "1"),
            ("{{ ticket.id }}", "1"),
            ("{{ticket.external_id}}", "ext-1"),
            ("{{ticket.status}}", "Open"),
            ("{{ticket.title}}", "Help"),
            ("{{ticket.url}}", "127.0.0.1:9/agent/tickets/1"),
            ("{{ticket.link}}", "http://127.0.0.1:9/agent/tickets/1"),
            ("{{ticket.via}}", "Web Service"),
            ("{{ticket.latest_public_comment}}", "Hello \"there\"\nbye"),
            ("{{ticket.latest_comment}}", "internal"),
            ("{{ticket.requester.email}}", "cust@example.com"),
            ("{{ticket.requester.name}}", "Cus Tomer"),
            ("{{ticket.requester.first_name}}", "Cus"),
            ("{{ticket.requester.phone}}", "+15550001"),
            ("{{ticket.requester.external_id}}", "crm-9"),
            (
                "{{ticket.created_at_with_timestamp}}",
                "1970-01-01T00:00:00Z",
            ),
            (
                "{{ticket.updated_at_with_timestamp}}",
                "1970-01-01T00:00:00Z",
            ),
            ("{{ticket.tags}}", "a b"),
            ("{{ticket.ticket_field_11}}", "inbound"),
            ("{{ticket.ticket_field_option_title_11}}", "Inbound"),
            ("{{ticket.assignee.name}}", ""),
            ("{{current_user.name}}", "Agent Smith"),
            ("{{current_user.email}}", "agent@example.com"),
            ("{{current_user.id}}", "2"),
            ("{{current_user.role}}", "agent"),
            ("{{current_user.external_id}}", ""),
            ("{{ticket.nonsense}}", ""),
            ("{{ticket.id | upcase}}", ""),
            ("a {{ticket.id}} b {{ticket.id", "a 1 b {{ticket.id"),
            ("{% if x %}", "{% if x %}"),
        ];
        for (template, expected) in cases {
            assert_eq!(render(template, &scope, false), expected, "{template}");
        }
    }

    #[test]
    fn json_escaping_keeps_the_body_valid() {
        let account = account();
        let mut t = ticket();
        t.comments[0].public = true;
        t.comments[0].body = "He said \"hi\"\n\tand \\left".into();
        let scope = Scope {
            account: &account,
            ticket: &t,
            actor_id: 2,
            base_url: "http://s",
        };
        let body = render(
            r#"{"c":"{{ticket.latest_public_comment}}","id":{{ticket.id}}}"#,
            &scope,
            true,
        );
        let parsed: Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(parsed["c"], json!(t.comments[0].body));
        assert_eq!(parsed["id"], json!(1));
        // Without escaping (xml and form bodies) the text goes in as it is.
        let raw = render("{{ticket.latest_public_comment}}", &scope, false);
        assert_eq!(raw, t.comments[0].body);
    }
}
