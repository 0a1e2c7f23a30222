//! Checks at start that the Zendesk account answers, accepts the token, and has the ticket
//! fields and groups the configuration names, so a mistake is reported before any call
//! arrives instead of as a dead-lettered job later.

use deskline_core::plan::GroupRef;
use deskline_zendesk::ZendeskClient;

use crate::config::ResolvedSource;

/// Why the account does not fit the configuration.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// Zendesk could not be reached or refused the credentials.
    #[error("{0}")]
    Zendesk(#[from] deskline_zendesk::ZendeskError),
    /// Configured ids or names that the account does not have.
    #[error("the Zendesk account does not match the configuration:\n{}", .0.join("\n"))]
    Mismatch(Vec<String>),
}

/// Runs the checks.
pub async fn check(
    client: &ZendeskClient,
    sources: &[ResolvedSource],
) -> Result<(), PreflightError> {
    client.me().await?;
    let fields = client.list_ticket_fields().await?;
    let groups = client.list_groups().await?;
    let mut problems = Vec::new();
    let field_list = || {
        fields
            .iter()
            .map(|f| format!("{} {:?}", f.id, f.title))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for source in sources {
        let extra_fields = source
            .disposition_field
            .map(|id| ("disposition_field".to_string(), id));
        let configured = source
            .plan
            .fields
            .configured()
            .into_iter()
            .map(|(k, id)| (format!("fields.{k}"), id));
        for (key, id) in configured.chain(extra_fields) {
            if !fields.iter().any(|f| f.id == id && f.active) {
                problems.push(format!(
                    "  - sources.{}.{key} = {id}: Zendesk has no active ticket field {id}. Fix: use one of {}",
                    source.name,
                    field_list()
                ));
            }
        }
        let has = |group: &GroupRef| match group {
            GroupRef::Id(id) => groups.iter().any(|g| g.id == *id && !g.deleted),
            GroupRef::Name(name) => groups
                .iter()
                .any(|g| !g.deleted && g.name.trim().eq_ignore_ascii_case(name.trim())),
        };
        if let Some(g) = source
            .plan
            .after_hours
            .as_ref()
            .and_then(|(_, rule)| rule.group.as_ref())
        {
            if !has(g) {
                problems.push(format!(
                    "  - sources.{}.after_hours.group = {g:?}: no such group in Zendesk. Fix: create it or name an existing group",
                    source.name
                ));
            }
        }
        let group_ok = has(&source.plan.fallback_group);
        if !group_ok {
            let names: Vec<String> = groups
                .iter()
                .filter(|g| !g.deleted)
                .map(|g| format!("{:?}", g.name))
                .collect();
            problems.push(format!(
                "  - sources.{}.fallback_group = {:?}: no such group in Zendesk. Fix: create it, or use one of {}",
                source.name,
                source.plan.fallback_group,
                names.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PreflightError::Mismatch(problems))
    }
}
