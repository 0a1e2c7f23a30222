//! Builds the directory snapshot a plan needs from the synced directory in the store: the
//! agents a call names (by email or number), those of the number table, and the groups the
//! source may route to.

use deskline_core::call::{AgentRef, CallRecord};
use deskline_core::directory::StaticDirectory;
use deskline_core::plan::{DirectoryAgent, GroupRef};
use deskline_store::{Store, StoreError};

use crate::config::ResolvedSource;

fn entry(a: deskline_store::DirectoryAgent) -> DirectoryAgent {
    DirectoryAgent {
        zendesk_id: u64::try_from(a.zendesk_id).unwrap_or_default(),
        name: a.name,
        email: a.email,
    }
}

async fn add_by_email(
    store: &dyn Store,
    dir: &mut StaticDirectory,
    email: &str,
) -> Result<(), StoreError> {
    if let Some(a) = store.agent_by_email(email).await? {
        if a.active {
            dir.add_agent(entry(a));
        }
    }
    Ok(())
}

/// The directory entries planning `call` for `source` can need.
pub async fn directory_for(
    store: &dyn Store,
    source: &ResolvedSource,
    call: &CallRecord,
) -> Result<StaticDirectory, StoreError> {
    let agents = call
        .legs
        .iter()
        .flat_map(|l| l.agents.iter())
        .chain(call.answered_by.iter());
    directory_for_agents(store, source, agents).await
}

/// The directory entries for these agents, the number table and the source's groups.
pub async fn directory_for_agents<'a>(
    store: &dyn Store,
    source: &ResolvedSource,
    agents: impl Iterator<Item = &'a AgentRef>,
) -> Result<StaticDirectory, StoreError> {
    let mut dir = StaticDirectory::new();
    for agent in agents {
        if let Some(phone) = agent.phone.as_deref() {
            if let Some(a) = store.agent_by_phone(phone).await? {
                if a.active {
                    dir.add_agent_phone(phone, entry(a));
                }
            }
        }
        if let Some(email) = agent.email() {
            add_by_email(store, &mut dir, email).await?;
        }
    }
    for email in source.plan.agent_numbers.values() {
        add_by_email(store, &mut dir, email).await?;
    }
    let plan = &source.plan;
    let groups = std::iter::once(&plan.fallback_group).chain(
        plan.after_hours
            .as_ref()
            .and_then(|(_, rule)| rule.group.as_ref()),
    );
    for group in groups {
        let found = match group {
            GroupRef::Name(name) => store.group_by_name(name).await?,
            GroupRef::Id(id) => {
                store
                    .group_by_id(i64::try_from(*id).unwrap_or(i64::MAX))
                    .await?
            }
        };
        if let Some(g) = found {
            dir.add_group(u64::try_from(g.zendesk_id).unwrap_or_default(), &g.name);
        }
    }
    Ok(dir)
}
