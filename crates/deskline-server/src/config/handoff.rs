//! `[sources.NAME.handoff]` (how an AI or chat handoff becomes a ticket) and `[connectors.NAME]`
//! (where agents' public replies are sent back to the customer's channel).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use deskline_core::plan::{tag_slug, GroupRef};
use serde::{Deserialize, Serialize};

/// `[sources.NAME.handoff]`, for `kind = "handoff"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffConfig {
    /// Post the transcript as a public comment (it is an internal note by default).
    pub transcript_public: bool,
    /// The agent new handoff tickets are assigned to: a Zendesk user id or an agent's email.
    /// Absent, tickets are unassigned and Zendesk's routing decides.
    pub assignee: Option<String>,
    /// The group new handoff tickets go to (name or id); absent, Zendesk's default.
    pub group: Option<GroupRef>,
}

/// Who a handoff ticket is assigned to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assignee {
    /// A Zendesk user id.
    Id(u64),
    /// An agent's email, matched in the synced directory.
    Email(String),
}

/// A handoff source's settings, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HandoffSettings {
    /// Whether the transcript comment is public.
    pub transcript_public: bool,
    /// The default assignee.
    pub assignee: Option<Assignee>,
    /// The default group.
    pub group: Option<GroupRef>,
}

/// Checks `[sources.NAME.handoff]`.
pub(super) fn resolve_handoff(
    name: &str,
    h: &HandoffConfig,
    add: &mut dyn FnMut(&str, String, String),
) -> HandoffSettings {
    let assignee = match h.assignee.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => match a.parse::<u64>() {
            Ok(id) if id > 0 => Some(Assignee::Id(id)),
            _ if a.contains('@') => Some(Assignee::Email(a.to_lowercase())),
            _ => {
                add(
                    &format!("sources.{name}.handoff.assignee"),
                    format!("\"{a}\" is neither a Zendesk user id nor an email"),
                    "use the agent's Zendesk user id or email, or remove it to let Zendesk route"
                        .into(),
                );
                None
            }
        },
    };
    HandoffSettings {
        transcript_public: h.transcript_public,
        assignee,
        group: h.group.clone(),
    }
}

/// `[connectors.NAME]`: an HTTP endpoint that delivers agents' replies on some channels.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Where replies are POSTed.
    pub url: String,
    /// The Standard Webhooks signing secret, `whsec_` followed by base64 (24 to 64 bytes).
    pub secret: String,
    /// The conversation channels this connector serves (`web`, `whatsapp`, …); `*` serves
    /// every channel no other connector names.
    pub channels: Vec<String>,
    /// Timeout of one delivery.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

// Written by hand so that printing the configuration never prints the secret.
impl fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("channels", &self.channels)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A connector, checked.
#[derive(Clone)]
pub struct Connector {
    /// Its name, for logs and the dead letter.
    pub name: String,
    /// Where replies are POSTed.
    pub url: String,
    /// The signing secret as configured (`whsec_…`).
    pub secret: String,
    /// Timeout of one delivery.
    pub timeout: Duration,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Which connector serves which channel.
#[derive(Clone, Debug, Default)]
pub struct Connectors {
    by_channel: BTreeMap<String, Connector>,
    fallback: Option<Connector>,
}

impl Connectors {
    /// The connector for a conversation's channel: the one naming it, else the `*` one.
    pub fn for_channel(&self, channel: &str) -> Option<&Connector> {
        self.by_channel.get(channel).or(self.fallback.as_ref())
    }

    /// Whether any connector is configured.
    pub fn is_empty(&self) -> bool {
        self.by_channel.is_empty() && self.fallback.is_none()
    }
}

/// Checks `[connectors]`: URLs, secrets, and that no channel has two connectors.
pub(super) fn resolve_connectors(
    connectors: &BTreeMap<String, ConnectorConfig>,
    add: &mut dyn FnMut(&str, String, String),
) -> Connectors {
    let mut out = Connectors::default();
    for (name, c) in connectors {
        let key = |k: &str| format!("connectors.{name}.{k}");
        let url = c.url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            add(
                &key("url"),
                format!("\"{url}\" is not an http(s) URL"),
                "give the full URL replies are POSTed to".into(),
            );
        }
        if let Err(problem) = check_secret(&c.secret) {
            add(
                &key("secret"),
                problem,
                "use whsec_ followed by base64 of 24 to 64 random bytes, e.g. `echo whsec_$(openssl rand -base64 32)`".into(),
            );
        }
        if c.timeout.is_zero() {
            add(&key("timeout"), "is 0".into(), "use e.g. \"10s\"".into());
        }
        if c.channels.is_empty() {
            add(
                &key("channels"),
                "is empty".into(),
                "list the channels it delivers on, e.g. [\"web\", \"whatsapp\"], or [\"*\"]".into(),
            );
        }
        let connector = Connector {
            name: name.clone(),
            url: url.trim_end_matches('/').to_string(),
            secret: c.secret.trim().to_string(),
            timeout: c.timeout,
        };
        for raw in &c.channels {
            if raw.trim() == "*" {
                if let Some(other) = &out.fallback {
                    add(
                        &key("channels"),
                        format!("\"*\" is also claimed by connectors.{}", other.name),
                        "let one connector serve the remaining channels".into(),
                    );
                }
                out.fallback = Some(connector.clone());
                continue;
            }
            let channel = tag_slug(raw);
            if channel.is_empty() {
                add(
                    &key("channels"),
                    format!("\"{raw}\" is not a channel name"),
                    "use names such as web, whatsapp, sms".into(),
                );
                continue;
            }
            if let Some(other) = out.by_channel.get(&channel) {
                add(
                    &key("channels"),
                    format!("\"{channel}\" is also served by connectors.{}", other.name),
                    "give each channel one connector".into(),
                );
            }
            out.by_channel.insert(channel, connector.clone());
        }
    }
    out
}

fn check_secret(secret: &str) -> Result<(), String> {
    use base64::Engine;
    let Some(encoded) = secret.trim().strip_prefix("whsec_") else {
        return Err("does not start with whsec_".into());
    };
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(bytes) if (24..=64).contains(&bytes.len()) => Ok(()),
        Ok(bytes) => Err(format!(
            "decodes to {} bytes; Standard Webhooks secrets are 24 to 64",
            bytes.len()
        )),
        Err(_) => Err("the part after whsec_ is not base64".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn problems(connectors: &BTreeMap<String, ConnectorConfig>) -> (Connectors, Vec<String>) {
        let mut found = Vec::new();
        let c = resolve_connectors(connectors, &mut |k: &str, p: String, _f: String| {
            found.push(format!("{k}: {p}"))
        });
        (c, found)
    }

    fn connector(url: &str, secret: &str, channels: &[&str]) -> ConnectorConfig {
        ConnectorConfig {
            url: url.into(),
            secret: secret.into(),
            channels: channels.iter().map(|c| c.to_string()).collect(),
            timeout: default_timeout(),
        }
    }

    #[test]
    fn channels_pick_their_connector_and_star_takes_the_rest() {
        let mut map = BTreeMap::new();
        map.insert(
            "wa".into(),
            connector("https://wa.example/replies", SECRET, &["WhatsApp"]),
        );
        map.insert(
            "rest".into(),
            connector("https://ai.example/replies/", SECRET, &["*"]),
        );
        let (c, found) = problems(&map);
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            c.for_channel("whatsapp").map(|c| c.name.as_str()),
            Some("wa")
        );
        let rest = c.for_channel("web").expect("the * connector");
        assert_eq!(
            (rest.name.as_str(), rest.url.as_str()),
            ("rest", "https://ai.example/replies")
        );
        assert!(Connectors::default().for_channel("web").is_none());
    }

    #[test]
    fn every_problem_is_named() {
        let mut map = BTreeMap::new();
        map.insert("a".into(), connector("ftp://x", "secret", &["web"]));
        map.insert(
            "b".into(),
            connector("https://b", "whsec_!!", &["web", "*"]),
        );
        map.insert(
            "c".into(),
            connector("https://c", "whsec_c2hvcnQ=", &["*", "  "]),
        );
        map.insert("d".into(), connector("https://d", SECRET, &[]));
        let (_, found) = problems(&map);
        let expect = [
            "connectors.a.url: \"ftp://x\" is not an http(s) URL",
            "connectors.a.secret: does not start with whsec_",
            "connectors.b.secret: the part after whsec_ is not base64",
            "connectors.b.channels: \"web\" is also served by connectors.a",
            "connectors.c.secret: decodes to 5 bytes; Standard Webhooks secrets are 24 to 64",
            "connectors.c.channels: \"*\" is also claimed by connectors.b",
            "connectors.c.channels: \"  \" is not a channel name",
            "connectors.d.channels: is empty",
        ];
        assert_eq!(found, expect);
    }

    #[test]
    fn assignees_are_ids_or_emails() {
        let mut found = Vec::new();
        let mut add = |k: &str, p: String, _f: String| found.push(format!("{k}: {p}"));
        let resolve = |a: &str, add: &mut dyn FnMut(&str, String, String)| {
            resolve_handoff(
                "ai",
                &HandoffConfig {
                    assignee: Some(a.into()),
                    ..HandoffConfig::default()
                },
                add,
            )
            .assignee
        };
        assert_eq!(resolve("30011", &mut add), Some(Assignee::Id(30011)));
        assert_eq!(
            resolve(" Priya@Example.com ", &mut add),
            Some(Assignee::Email("priya@example.com".into()))
        );
        assert_eq!(resolve("", &mut add), None);
        assert_eq!(resolve("priya", &mut add), None);
        assert_eq!(
            found,
            ["sources.ai.handoff.assignee: \"priya\" is neither a Zendesk user id nor an email"]
        );
    }
}
