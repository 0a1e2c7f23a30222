//! The data an account starts with, read from JSON (see docs/sandbox.md for the format).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{
    Account, FieldOption, Group, GroupMembership, Organization, Role, TicketField, User,
};

const DEFAULT_SEED: &str = include_str!("../seed/default.json");

/// Field types the sandbox accepts for ticket fields.
pub const TICKET_FIELD_TYPES: &[&str] = &[
    "text",
    "textarea",
    "integer",
    "decimal",
    "checkbox",
    "date",
    "tagger",
    "multiselect",
    "regexp",
];

/// A seed file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Groups, created first.
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    /// Organizations.
    #[serde(default)]
    pub organizations: Vec<SeedOrganization>,
    /// Custom ticket field definitions.
    #[serde(default)]
    pub ticket_fields: Vec<SeedTicketField>,
    /// Users of every role.
    #[serde(default)]
    pub users: Vec<SeedUser>,
}

/// A seeded group.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    /// Fixed id, so configuration can refer to it; allocated when absent.
    pub id: Option<u64>,
    /// Unique name.
    pub name: String,
    #[serde(default)]
    /// Free text.
    pub description: String,
    /// Whether this is the account's default group.
    #[serde(default)]
    pub default: bool,
}

/// A seeded organization.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    /// Fixed id; allocated when absent.
    pub id: Option<u64>,
    /// Unique name.
    pub name: String,
    /// External id.
    pub external_id: Option<String>,
    /// Email domains.
    #[serde(default)]
    pub domain_names: Vec<String>,
    /// Custom organization data.
    #[serde(default)]
    pub organization_fields: BTreeMap<String, Value>,
}

/// A seeded ticket field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTicketField {
    /// Fixed id; allocated when absent.
    pub id: Option<u64>,
    /// Display title.
    pub title: String,
    /// One of [`TICKET_FIELD_TYPES`].
    #[serde(rename = "type")]
    pub field_type: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Options of a drop-down field.
    #[serde(default)]
    pub options: Vec<SeedOption>,
    /// Pattern for `regexp` fields (stored, shown, not enforced).
    pub regexp_for_validation: Option<String>,
}

/// One option of a drop-down field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOption {
    /// Display name.
    pub name: String,
    /// The tag-like value tickets carry.
    pub value: String,
}

/// A seeded user.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// Fixed id; allocated when absent.
    pub id: Option<u64>,
    /// Full name.
    pub name: String,
    /// Primary email.
    pub email: Option<String>,
    /// Phone in E.164.
    pub phone: Option<String>,
    /// `end-user`, `agent` or `admin`.
    pub role: String,
    /// External id.
    pub external_id: Option<String>,
    /// Names of the groups an agent belongs to; the first is the default group.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Name of the user's organization.
    pub organization: Option<String>,
    /// Password for acting in the Agent Workspace (see `auth`).
    pub password: Option<String>,
    /// Custom user data.
    #[serde(default)]
    pub user_fields: BTreeMap<String, Value>,
    /// IANA-ish time zone name.
    pub time_zone: Option<String>,
}

/// Why a seed could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Not JSON of the expected shape.
    #[error("seed is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    /// Refers to something that does not exist or repeats a unique value.
    #[error("seed is inconsistent: {0}")]
    Inconsistent(String),
}

impl Seed {
    /// The documented default seed: a dozen agents in three groups, call fields, customers.
    pub fn default_seed() -> Seed {
        // The embedded seed is checked by a unit test, so this cannot fail at run time.
        serde_json::from_str(DEFAULT_SEED).unwrap_or_default()
    }

    /// Parses a seed file's text.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Builds the account, making sure the configured admin exists. Returns the account and
    /// the agent passwords by lower-cased email.
    pub fn build(
        &self,
        admin_email: &str,
        now: DateTime<Utc>,
    ) -> Result<(Account, HashMap<String, String>), SeedError> {
        let mut account = Account::default();
        let fixed_ids = self
            .groups
            .iter()
            .filter_map(|g| g.id)
            .chain(self.organizations.iter().filter_map(|o| o.id))
            .chain(self.ticket_fields.iter().filter_map(|f| f.id))
            .chain(self.users.iter().filter_map(|u| u.id));
        account.next_id = fixed_ids.max().map_or(0, |m| m + 1).max(360_000_000_001);
        let mut passwords = HashMap::new();

        for g in &self.groups {
            if account.group_by_name(&g.name).is_some() {
                return Err(SeedError::Inconsistent(format!("group {:?} twice", g.name)));
            }
            let id = g.id.unwrap_or_else(|| account.allocate_id());
            account.groups.insert(
                id,
                Group {
                    id,
                    name: g.name.clone(),
                    description: g.description.clone(),
                    default: g.default,
                    is_public: true,
                    created_at: now,
                    updated_at: now,
                },
            );
        }
        for o in &self.organizations {
            let id = o.id.unwrap_or_else(|| account.allocate_id());
            account.organizations.insert(
                id,
                Organization {
                    id,
                    name: o.name.clone(),
                    external_id: o.external_id.clone(),
                    domain_names: o.domain_names.clone(),
                    tags: Vec::new(),
                    organization_fields: o.organization_fields.clone(),
                    created_at: now,
                    updated_at: now,
                },
            );
        }
        for f in &self.ticket_fields {
            if !TICKET_FIELD_TYPES.contains(&f.field_type.as_str()) {
                return Err(SeedError::Inconsistent(format!(
                    "ticket field {:?} has unknown type {:?}",
                    f.title, f.field_type
                )));
            }
            let id = f.id.unwrap_or_else(|| account.allocate_id());
            let options = f
                .options
                .iter()
                .map(|o| FieldOption {
                    id: account.allocate_id(),
                    name: o.name.clone(),
                    value: o.value.clone(),
                })
                .collect();
            account.ticket_fields.insert(
                id,
                TicketField {
                    id,
                    field_type: f.field_type.clone(),
                    title: f.title.clone(),
                    description: f.description.clone(),
                    active: true,
                    required: false,
                    options,
                    regexp_for_validation: f.regexp_for_validation.clone(),
                    created_at: now,
                    updated_at: now,
                },
            );
        }
        let mut users = self.users.clone();
        if !users.iter().any(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(admin_email))
        }) {
            users.insert(0, default_admin(admin_email));
        }
        for u in &users {
            let role = Role::parse(&u.role).ok_or_else(|| {
                SeedError::Inconsistent(format!("user {:?} has unknown role {:?}", u.name, u.role))
            })?;
            if let Some(email) = &u.email {
                if account.user_by_email(email).is_some() {
                    return Err(SeedError::Inconsistent(format!("email {email:?} twice")));
                }
            }
            let organization_id = match &u.organization {
                Some(name) => Some(
                    account
                        .organizations
                        .values()
                        .find(|o| o.name.eq_ignore_ascii_case(name))
                        .map(|o| o.id)
                        .ok_or_else(|| {
                            SeedError::Inconsistent(format!(
                                "user {:?} names unknown organization {name:?}",
                                u.name
                            ))
                        })?,
                ),
                None => None,
            };
            let mut group_ids = Vec::new();
            for name in &u.groups {
                let group = account.group_by_name(name).ok_or_else(|| {
                    SeedError::Inconsistent(format!(
                        "user {:?} names unknown group {name:?}",
                        u.name
                    ))
                })?;
                if !role.is_staff() {
                    return Err(SeedError::Inconsistent(format!(
                        "end-user {:?} cannot belong to group {name:?}",
                        u.name
                    )));
                }
                group_ids.push(group.id);
            }
            let id = u.id.unwrap_or_else(|| account.allocate_id());
            account.users.insert(
                id,
                User {
                    id,
                    name: u.name.clone(),
                    email: u.email.clone(),
                    phone: u.phone.clone(),
                    external_id: u.external_id.clone(),
                    role,
                    organization_id,
                    default_group_id: group_ids.first().copied(),
                    time_zone: u.time_zone.clone().unwrap_or_else(|| "UTC".to_string()),
                    locale: "en-US".to_string(),
                    tags: Vec::new(),
                    notes: String::new(),
                    details: String::new(),
                    user_fields: u.user_fields.clone(),
                    shared_phone_number: false,
                    verified: true,
                    active: true,
                    suspended: false,
                    created_at: now,
                    updated_at: now,
                    searchable_from: now,
                },
            );
            for (i, group_id) in group_ids.into_iter().enumerate() {
                let membership_id = account.allocate_id();
                account.group_memberships.insert(
                    membership_id,
                    GroupMembership {
                        id: membership_id,
                        user_id: id,
                        group_id,
                        default: i == 0,
                        created_at: now,
                        updated_at: now,
                    },
                );
            }
            if let (Some(email), Some(password)) = (&u.email, &u.password) {
                passwords.insert(email.trim().to_ascii_lowercase(), password.clone());
            }
        }
        Ok((account, passwords))
    }
}

fn default_admin(email: &str) -> SeedUser {
    SeedUser {
        id: None,
        name: "Sandbox Admin".to_string(),
        email: Some(email.to_string()),
        phone: None,
        role: "admin".to_string(),
        external_id: None,
        groups: Vec::new(),
        organization: None,
        password: None,
        user_fields: BTreeMap::new(),
        time_zone: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_parses_and_is_realistic() {
        let seed: Seed = serde_json::from_str(DEFAULT_SEED).expect("embedded seed parses");
        let (account, passwords) = seed
            .build("admin@sandbox.test", Utc::now())
            .expect("builds");
        let agents = account
            .users
            .values()
            .filter(|u| u.role == Role::Agent)
            .count();
        assert_eq!(agents, 12);
        assert_eq!(account.groups.len(), 3);
        assert!(account.group_by_name("Voice-Missed-Calls").is_some());
        assert_eq!(account.ticket_fields.len(), 5);
        assert!(passwords.contains_key("vikram.rao@sandbox.test"));
    }

    #[test]
    fn a_missing_admin_is_added() {
        let (account, _) = Seed::default()
            .build("ops@example.com", Utc::now())
            .expect("builds");
        let admin = account
            .user_by_email("OPS@example.com")
            .expect("admin exists");
        assert_eq!(admin.role, Role::Admin);
    }

    #[test]
    fn unknown_group_is_named() {
        let seed = Seed::from_json(
            r#"{"users":[{"name":"A","email":"a@x.test","role":"agent","groups":["Nope"]}]}"#,
        )
        .expect("parses");
        let err = seed.build("admin@x.test", Utc::now()).unwrap_err();
        assert!(err.to_string().contains("Nope"), "{err}");
    }
}
