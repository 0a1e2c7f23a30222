//! Checks that the Zendesk account answers, accepts the token, and has the ticket fields and
//! groups the configuration names, so a mistake is reported before any call arrives instead of
//! as a dead-lettered job later. Every problem is reported in one round: `deskline check`
//! prints them all; `deskline serve` runs the checks in the background (see `health`) and
//! pauses the Zendesk queue while a problem lasts, without refusing to start.

use deskline_core::plan::GroupRef;
use deskline_zendesk::{ZendeskClient, ZendeskError};

use crate::config::{Problem, ResolvedSource};

/// Why the account does not fit the configuration.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// Zendesk did not answer (or answered with a server error).
    #[error("cannot reach Zendesk at {url} ({key}): {reason}")]
    Unreachable {
        /// The account's base URL.
        url: String,
        /// The configuration key that set it.
        key: String,
        /// What happened, in a few words.
        reason: String,
        /// How long Zendesk asked to wait, when it was a rate limit or maintenance.
        retry_after: Option<std::time::Duration>,
    },
    /// Zendesk answered, and the account does not fit the configuration.
    #[error("the Zendesk account at {url} does not fit the configuration:\n{}", list(.problems))]
    Mismatch {
        /// The account's base URL.
        url: String,
        /// Each problem, with its key and fix.
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the checks against the account `client` reaches, whose address the configuration key
/// `address_key` set (named when Zendesk cannot be reached).
pub async fn check(
    client: &ZendeskClient,
    address_key: &str,
    sources: &[&ResolvedSource],
) -> Result<(), PreflightError> {
    let url = client.base_url().as_str().trim_end_matches('/').to_string();
    let mut problems: Vec<Problem> = Vec::new();
    match client.me().await {
        Ok(_) => {}
        Err(e) if is_unreachable(&e) => {
            return Err(PreflightError::Unreachable {
                url,
                key: address_key.to_string(),
                reason: reason(&e),
                retry_after: e.retry_after(),
            })
        }
        Err(ZendeskError::Unauthorized) => problems.push(Problem {
            key: "zendesk.api_token".into(),
            problem: "Zendesk rejected the API token (401 Unauthorized)".into(),
            fix:
                "create a token in Admin Center → Apps and integrations → APIs → Zendesk API, set \
             it as zendesk.api_token (DESKLINE_ZENDESK__API_TOKEN), and check that \
             zendesk.email names an active agent or admin"
                    .into(),
        }),
        Err(e) => problems.push(Problem {
            key: address_key.to_string(),
            problem: format!("{url} did not answer as a Zendesk account does: {e}"),
            fix: format!("check {address_key}"),
        }),
    }
    // Without a working token nothing else can be read; what was found so far is the report.
    if !problems.is_empty() {
        return Err(PreflightError::Mismatch { url, problems });
    }
    let (fields, groups) = match (
        client.list_ticket_fields().await,
        client.list_groups().await,
    ) {
        (Ok(f), Ok(g)) => (f, g),
        (f, g) => {
            let errors: Vec<ZendeskError> = [f.err(), g.err()].into_iter().flatten().collect();
            // A rate limit or an outage half-way says nothing about the account's settings.
            if let Some(e) = errors.iter().find(|e| is_unreachable(e)) {
                return Err(PreflightError::Unreachable {
                    url,
                    key: address_key.to_string(),
                    reason: reason(e),
                    retry_after: e.retry_after(),
                });
            }
            for e in errors {
                problems.push(Problem {
 key: "zendesk.email".into(),
 problem: format!("deskline cannot read the account's ticket fields and groups: {e}"),
 fix: "make zendesk.email an admin, or an agent allowed to see ticket fields and groups"
                        .into(),
 });
            }
            return Err(PreflightError::Mismatch { url, problems });
        }
    };
    let field_list = fields
        .iter()
        .filter(|f| f.active)
        .map(|f| format!("{} \"{}\"", f.id, f.title))
        .collect::<Vec<_>>()
        .join(", ");
    let group_list = groups
        .iter()
        .filter(|g| !g.deleted)
        .map(|g| format!("\"{}\"", g.name))
        .collect::<Vec<_>>()
        .join(", ");
    let has = |group: &GroupRef| match group {
        GroupRef::Id(id) => groups.iter().any(|g| g.id == *id && !g.deleted),
        GroupRef::Name(name) => groups
            .iter()
            .any(|g| !g.deleted && g.name.trim().eq_ignore_ascii_case(name.trim())),
    };
    for source in sources {
        let key = |k: &str| format!("sources.{}.{k}", source.name);
        let extra_fields = source
            .disposition_field
            .map(|id| ("disposition_field".to_string(), id));
        let configured = source
            .plan
            .fields
            .configured()
            .into_iter()
            .map(|(k, id)| (format!("fields.{k}"), id));
        for (field, id) in configured.chain(extra_fields) {
            if !fields.iter().any(|f| f.id == id && f.active) {
                problems.push(Problem {
                    key: key(&field),
                    problem: format!("is {id}, but Zendesk has no active ticket field {id}"),
                    fix: if field_list.is_empty() {
                        "create the field in Zendesk, or remove the key".to_string()
                    } else {
                        format!("use one of {field_list}, or remove the key")
                    },
                });
            }
        }
        let after_hours_group = source
            .plan
            .after_hours
            .as_ref()
            .and_then(|(_, rule)| rule.group.as_ref());
        let groups_named = [
            ("fallback_group", Some(&source.plan.fallback_group)),
            ("after_hours.group", after_hours_group),
        ];
        for (field, group) in groups_named {
            if let Some(g) = group.filter(|g| !has(g)) {
                problems.push(Problem {
                    key: key(field),
                    problem: format!("is {}, but Zendesk has no such group", group_text(g)),
                    fix: format!("create it in Zendesk, or use one of {group_list}"),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PreflightError::Mismatch { url, problems })
    }
}

/// A group as written in the configuration.
fn group_text(group: &GroupRef) -> String {
    match group {
        GroupRef::Id(id) => id.to_string(),
        GroupRef::Name(name) => format!("\"{name}\""),
    }
}

/// Errors that mean no answer from Zendesk itself.
fn is_unreachable(e: &ZendeskError) -> bool {
    matches!(
        e,
        ZendeskError::Transient { .. }
            | ZendeskError::Unreachable { .. }
            | ZendeskError::Unavailable { .. }
            | ZendeskError::RateLimited { .. }
            | ZendeskError::Paused { .. }
    )
}

/// The innermost cause of a failed request, in a few words ("connection refused").
fn reason(e: &ZendeskError) -> String {
    match e {
        ZendeskError::Transient { reason } | ZendeskError::Unreachable { reason } => {
            // "GET /api/v2/users/me: could not connect: …: Connection refused (os error 111)"
            let last = reason.rsplit(": ").next().unwrap_or(reason);
            let last = last.split(" (os error").next().unwrap_or(last).trim();
            let mut chars = last.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => reason.clone(),
            }
        }
        other => other.to_string(),
    }
}
