//! An in-memory directory snapshot, for the planner's tests and for callers that load the
//! few entries a plan needs before planning.

use std::collections::HashMap;

use crate::plan::{Directory, DirectoryAgent};

/// Normalises an email for matching: trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A directory held in memory.
#[derive(Clone, Debug, Default)]
pub struct StaticDirectory {
    agents: HashMap<String, DirectoryAgent>,
    groups: HashMap<String, u64>,
    phones: HashMap<String, DirectoryAgent>,
}

impl StaticDirectory {
    /// An empty directory.
    pub fn new() -> StaticDirectory {
        StaticDirectory::default()
    }

    /// Adds an agent.
    pub fn with_agent(mut self, zendesk_id: u64, name: &str, email: &str) -> StaticDirectory {
        self.add_agent(DirectoryAgent {
            zendesk_id,
            name: name.to_string(),
            email: email.to_string(),
        });
        self
    }

    /// Adds an agent reachable by their Zendesk phone (E.164).
    pub fn with_agent_phone(
        mut self,
        zendesk_id: u64,
        name: &str,
        email: &str,
        phone: &str,
    ) -> StaticDirectory {
        self.add_agent_phone(
            phone,
            DirectoryAgent {
                zendesk_id,
                name: name.to_string(),
                email: email.to_string(),
            },
        );
        self
    }

    /// Adds an agent by phone in place.
    pub fn add_agent_phone(&mut self, phone: &str, agent: DirectoryAgent) {
        self.phones.insert(phone.trim().to_string(), agent);
    }

    /// Adds a group.
    pub fn with_group(mut self, id: u64, name: &str) -> StaticDirectory {
        self.add_group(id, name);
        self
    }

    /// Adds an agent in place.
    pub fn add_agent(&mut self, agent: DirectoryAgent) {
        self.agents.insert(normalise_email(&agent.email), agent);
    }

    /// Adds a group in place.
    pub fn add_group(&mut self, id: u64, name: &str) {
        self.groups.insert(name.trim().to_lowercase(), id);
    }
}

impl Directory for StaticDirectory {
    fn agent_by_email(&self, email: &str) -> Option<DirectoryAgent> {
        self.agents.get(&normalise_email(email)).cloned()
    }

    fn group_id_by_name(&self, name: &str) -> Option<u64> {
        self.groups.get(&name.trim().to_lowercase()).copied()
    }

    fn has_group(&self, id: u64) -> bool {
        self.groups.values().any(|g| *g == id)
    }

    fn agent_by_phone(&self, phone: &str) -> Option<DirectoryAgent> {
        self.phones.get(phone.trim()).cloned()
    }
}
