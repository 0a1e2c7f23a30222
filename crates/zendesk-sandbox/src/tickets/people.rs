//! The people on a ticket: inline requesters (found or created as end-users) and the
//! assignee and group rules.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::input::{id_field, str_field};
use crate::error::Invalid;
use crate::model::{Account, Role, Ticket, User};

/// The user `id` if they are an agent or admin.
pub(super) fn staff(account: &Account, id: u64) -> Option<&User> {
    account.users.get(&id).filter(|u| u.role.is_staff())
}

/// Resolves an inline `requester` object: an existing user by email or phone, or a new end-user.
pub(super) fn inline_requester(
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
pub(super) fn assignment(
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

/// Sets the asked assignee and group on `ticket`, then checks the assignee is in the group.
pub(super) fn apply_assignment(
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
