//! Records as Zendesk shows them on the wire (field names, nulls, `url`s, timestamps).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::model::{
    Comment, Group, GroupMembership, Organization, Ticket, TicketField, Trigger, User, Via, Webhook,
};

/// Zendesk's timestamp format: UTC, whole seconds, `Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn via(v: &Via) -> Value {
    json!({"channel": v.channel, "source": v.source})
}

/// A ticket (`TicketObject`).
pub fn ticket(base_url: &str, t: &Ticket) -> Value {
    let custom_fields: Vec<Value> = t
        .custom_fields
        .iter()
        .map(|(id, value)| json!({"id": id, "value": value}))
        .collect();
    json!({
        "url": format!("{base_url}/api/v2/tickets/{}.json", t.id),
        "id": t.id,
        "external_id": t.external_id,
        "via": via(&t.via),
        "created_at": timestamp(t.created_at),
        "updated_at": timestamp(t.updated_at),
        "generated_timestamp": t.updated_at.timestamp(),
        "type": t.ticket_type,
        "subject": t.subject,
        "raw_subject": t.subject,
        "description": t.description,
        "priority": t.priority,
        "status": t.status,
        "recipient": null,
        "requester_id": t.requester_id,
        "submitter_id": t.submitter_id,
        "assignee_id": t.assignee_id,
        "organization_id": t.organization_id,
        "group_id": t.group_id,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": null,
        "problem_id": null,
        "has_incidents": false,
        "is_public": t.comments.iter().any(|c| c.public),
        "due_at": null,
        "tags": t.tags,
        "custom_fields": custom_fields,
        "fields": custom_fields,
        "satisfaction_rating": null,
        "sharing_agreement_ids": [],
        "followup_ids": [],
        "brand_id": 1,
        "allow_channelback": false,
        "allow_attachments": true,
        "from_messaging_channel": false,
    })
}

/// A comment (`TicketCommentObject`).
pub fn comment(c: &Comment) -> Value {
    let mut v = json!({
        "id": c.id,
        "type": c.kind,
        "author_id": c.author_id,
        "body": c.body,
        "html_body": c.html_body,
        "plain_body": c.plain_body,
        "public": c.public,
        "attachments": [],
        "audit_id": c.audit_id,
        "via": via(&c.via),
        "created_at": timestamp(c.created_at),
        "metadata": {"system": {"client": "zendesk-sandbox"}, "custom": {}},
    });
    if let (Some(data), Some(obj)) = (&c.data, v.as_object_mut()) {
        obj.insert("data".into(), data.clone());
    }
    v
}

/// A user (`UserObject`, as an admin sees it).
pub fn user(base_url: &str, u: &User) -> Value {
    json!({
        "id": u.id,
        "url": format!("{base_url}/api/v2/users/{}.json", u.id),
        "name": u.name,
        "email": u.email,
        "created_at": timestamp(u.created_at),
        "updated_at": timestamp(u.updated_at),
        "time_zone": u.time_zone,
        "iana_time_zone": u.time_zone,
        "phone": u.phone,
        "shared_phone_number": u.shared_phone_number,
        "photo": null,
        "locale_id": 1,
        "locale": u.locale,
        "organization_id": u.organization_id,
        "role": u.role.as_str(),
        "verified": u.verified,
        "external_id": u.external_id,
        "tags": u.tags,
        "alias": "",
        "active": u.active,
        "shared": false,
        "shared_agent": false,
        "last_login_at": null,
        "two_factor_auth_enabled": false,
        "signature": "",
        "details": u.details,
        "notes": u.notes,
        "role_type": null,
        "custom_role_id": null,
        "moderator": u.role.is_staff(),
        "ticket_restriction": if u.role.is_staff() { Value::Null } else { json!("requested") },
        "only_private_comments": false,
        "restricted_agent": false,
        "suspended": u.suspended,
        "default_group_id": u.default_group_id,
        "report_csv": false,
        "user_fields": u.user_fields,
    })
}

/// An organization.
pub fn organization(base_url: &str, o: &Organization) -> Value {
    json!({
        "id": o.id,
        "url": format!("{base_url}/api/v2/organizations/{}.json", o.id),
        "name": o.name,
        "external_id": o.external_id,
        "domain_names": o.domain_names,
        "details": "",
        "notes": "",
        "group_id": null,
        "shared_tickets": false,
        "shared_comments": false,
        "tags": o.tags,
        "organization_fields": o.organization_fields,
        "created_at": timestamp(o.created_at),
        "updated_at": timestamp(o.updated_at),
    })
}

/// A group.
pub fn group(base_url: &str, g: &Group) -> Value {
    json!({
        "id": g.id,
        "url": format!("{base_url}/api/v2/groups/{}.json", g.id),
        "name": g.name,
        "description": g.description,
        "default": g.default,
        "deleted": false,
        "is_public": g.is_public,
        "created_at": timestamp(g.created_at),
        "updated_at": timestamp(g.updated_at),
    })
}

/// A group membership.
pub fn group_membership(base_url: &str, m: &GroupMembership) -> Value {
    json!({
        "id": m.id,
        "url": format!("{base_url}/api/v2/group_memberships/{}.json", m.id),
        "user_id": m.user_id,
        "group_id": m.group_id,
        "default": m.default,
        "created_at": timestamp(m.created_at),
        "updated_at": timestamp(m.updated_at),
    })
}

/// A ticket field definition.
pub fn ticket_field(base_url: &str, f: &TicketField) -> Value {
    let mut v = json!({
        "id": f.id,
        "url": format!("{base_url}/api/v2/ticket_fields/{}.json", f.id),
        "type": f.field_type,
        "title": f.title,
        "raw_title": f.title,
        "description": f.description,
        "raw_description": f.description,
        "position": 0,
        "active": f.active,
        "required": f.required,
        "collapsed_for_agents": false,
        "regexp_for_validation": f.regexp_for_validation,
        "title_in_portal": f.title,
        "raw_title_in_portal": f.title,
        "visible_in_portal": false,
        "editable_in_portal": false,
        "required_in_portal": false,
        "tag": null,
        "removable": true,
        "agent_description": null,
        "created_at": timestamp(f.created_at),
        "updated_at": timestamp(f.updated_at),
    });
    if !f.options.is_empty() {
        let options: Vec<Value> = f
            .options
            .iter()
            .map(|o| json!({"id": o.id, "name": o.name, "raw_name": o.name, "value": o.value, "default": false}))
            .collect();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("custom_field_options".into(), Value::Array(options));
        }
    }
    v
}

/// A webhook; authentication data and the signing secret are never shown.
pub fn webhook(w: &Webhook) -> Value {
    let authentication = w.authentication.as_ref().map(|a| {
        json!({
            "type": a.get("type").cloned().unwrap_or(Value::Null),
            "add_position": a.get("add_position").cloned().unwrap_or(json!("header")),
        })
    });
    json!({
        "id": w.id,
        "name": w.name,
        "description": w.description,
        "endpoint": w.endpoint,
        "http_method": w.http_method,
        "request_format": w.request_format,
        "status": w.status,
        "subscriptions": w.subscriptions,
        "authentication": authentication,
        "custom_headers": w.custom_headers,
        "created_at": timestamp(w.created_at),
        "created_by": w.created_by.to_string(),
        "updated_at": timestamp(w.updated_at),
        "updated_by": w.updated_by.to_string(),
        "signing_secret": null,
    })
}

/// A trigger.
pub fn trigger(base_url: &str, t: &Trigger) -> Value {
    let conditions = |list: &[crate::model::Condition]| -> Vec<Value> {
        list.iter()
            .map(|c| json!({"field": c.field, "operator": c.operator, "value": c.value}))
            .collect()
    };
    let actions: Vec<Value> = t
        .actions
        .iter()
        .map(|a| json!({"field": a.field, "value": a.value}))
        .collect();
    json!({
        "url": format!("{base_url}/api/v2/triggers/{}.json", t.id),
        "id": t.id,
        "title": t.title,
        "raw_title": t.title,
        "description": t.description,
        "active": t.active,
        "position": t.position,
        "category_id": t.category_id,
        "conditions": {"all": conditions(&t.all), "any": conditions(&t.any)},
        "actions": actions,
        "default": false,
        "created_at": timestamp(t.created_at),
        "updated_at": timestamp(t.updated_at),
    })
}
