//! How the client reaches one Zendesk account: base URL, credentials, budget and timeout.

use std::fmt;
use std::time::Duration;

/// A secret string (API token, webhook signing secret) that never prints itself.
///
/// `Debug` and `Display` both show `***`, so a config struct can be logged or put in an
/// error without leaking the value; [`Secret::expose`] is the one way to read it.
// No PartialEq: comparing secrets with `==` leaks timing; compare in constant time instead.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; call it only where the value is sent or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (an unset token or signing secret).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Everything the client needs to talk to one Zendesk account.
#[derive(Clone, Debug)]
pub struct ZendeskConfig {
    /// Scheme and host without a path, e.g. `https://acme.zendesk.com` or
    /// `http://127.0.0.1:8925` for the sandbox.
    pub base_url: String,
    /// The user the API token acts as; every write is attributed to this user.
    pub email: String,
    /// The API token (Admin Center → Apps and integrations → APIs → Zendesk API).
    pub api_token: Secret,
    /// The account's plan budget in requests per minute (Team 200, Growth/Professional 400,
    /// Enterprise 700, High Volume 2,500); the client stays under it on its own.
    pub requests_per_minute: u32,
    /// Zendesk's separate limit on ticket updates (`PUT /api/v2/tickets/{id}`) per account:
    /// 100 a minute, 300 with the High Volume add-on.
    pub ticket_updates_per_minute: u32,
    /// Whole-request timeout; a timed-out request is a transient error.
    pub timeout: Duration,
}

impl ZendeskConfig {
    /// A config with the Enterprise plan's budget (700/min, 100 ticket updates/min) and a 30 s
    /// timeout.
    pub fn new(base_url: impl Into<String>, email: impl Into<String>, token: Secret) -> Self {
        ZendeskConfig {
            base_url: base_url.into(),
            email: email.into(),
            api_token: token,
            requests_per_minute: 700,
            ticket_updates_per_minute: 100,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a configuration value cannot be used; each message says how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The subdomain setting holds a URL or host name, or characters a subdomain cannot have.
    #[error("{0}")]
    Subdomain(String),
    /// The base URL is not an absolute http(s) URL without a path.
    #[error("{0}")]
    BaseUrl(String),
    /// A credential is missing or unusable.
    #[error("{0}")]
    Credentials(String),
    /// The request budget is zero.
    #[error("zendesk.requests_per_minute must be at least 1 (your plan's limit, e.g. 700)")]
    Budget,
}

/// `https://{sub}.zendesk.com` for a bare subdomain such as `acme`.
///
/// People paste the whole host or URL into a "subdomain" setting; the error names the value
/// they should have written instead of only saying it is wrong.
pub fn base_url_for_subdomain(subdomain: &str) -> Result<String, ConfigError> {
    let sub = subdomain.trim();
    if sub.is_empty() {
        return Err(ConfigError::Subdomain(
            "zendesk.subdomain is empty: set it to the first part of your Zendesk address, \
             e.g. \"acme\" for https://acme.zendesk.com"
                .into(),
        ));
    }
    if sub.contains("://") || sub.contains('/') || sub.contains('.') {
        let host = sub
            .split("://")
            .last()
            .unwrap_or(sub)
            .split('/')
            .next()
            .unwrap_or(sub);
        let guess = host.split('.').next().unwrap_or(host);
        let kind = if sub.contains("://") || sub.contains('/') {
            "a URL"
        } else {
            "a host name"
        };
        return Err(ConfigError::Subdomain(format!(
            "{sub:?} looks like {kind}: set zendesk.subdomain = {guess:?}"
        )));
    }
    let valid = sub.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !sub.starts_with('-')
        && !sub.ends_with('-')
        && sub.len() <= 63;
    if !valid {
        return Err(ConfigError::Subdomain(format!(
            "{sub:?} is not a Zendesk subdomain: use only letters, digits and inner hyphens, \
             e.g. \"acme\" for https://acme.zendesk.com"
        )));
    }
    Ok(format!("https://{}.zendesk.com", sub.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        let cfg = ZendeskConfig::new("https://acme.zendesk.com", "a@b.c", s.clone());
        assert!(!format!("{cfg:?}").contains(s.expose()));
    }

    #[test]
    fn subdomains() {
        assert_eq!(
            base_url_for_subdomain("acme").as_deref(),
            Ok("https://acme.zendesk.com")
        );
        assert_eq!(
            base_url_for_subdomain(" Acme-2 ").as_deref(),
            Ok("https://acme-2.zendesk.com")
        );
        let cases = [
            (
                "acme.zendesk.com",
                "\"acme.zendesk.com\" looks like a host name: set zendesk.subdomain = \"acme\"",
            ),
            (
                "https://acme.zendesk.com",
                "\"https://acme.zendesk.com\" looks like a URL: set zendesk.subdomain = \"acme\"",
            ),
            (
                "https://acme.zendesk.com/agent",
                "\"https://acme.zendesk.com/agent\" looks like a URL: set zendesk.subdomain = \"acme\"",
            ),
            (
                "acme/",
                "\"acme/\" looks like a URL: set zendesk.subdomain = \"acme\"",
            ),
        ];
        for (input, message) in cases {
            let err = base_url_for_subdomain(input).expect_err(input);
            assert_eq!(err.to_string(), message);
        }
        for bad in ["", "  ", "ac me", "-acme", "acme_1"] {
            assert!(base_url_for_subdomain(bad).is_err(), "{bad:?}");
        }
    }
}
