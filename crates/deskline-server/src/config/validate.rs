//! Checks the configuration as a whole and turns it into what the service runs with. Every
//! problem names the key and says how to fix it, and all problems are reported at once.

use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use deskline_core::phone::PhoneParser;
use deskline_core::plan::{CallPlanSettings, SharedRequester};
use deskline_core::template::{Templates, DEFAULT_NOTE, DEFAULT_SUBJECT};

use super::{Config, ConfigError, Problem, SourceKind};

/// Where the Zendesk account is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZendeskTarget {
    /// The in-process sandbox (started by the service).
    Sandbox,
    /// A real or test account at this base URL, with these credentials.
    Remote {
        /// e.g. `https://acme.zendesk.com`.
        base_url: String,
        /// The agent deskline acts as.
        email: String,
        /// The API token.
        api_token: String,
    },
}

/// A source ready to receive events.
#[derive(Debug)]
pub struct ResolvedSource {
    /// The name in `/hooks/{name}`.
    pub name: String,
    /// The provider.
    pub kind: SourceKind,
    /// The shared secret; `None` only until the caller fills in a generated one.
    pub secret: Option<String>,
    /// The header carrying the secret.
    pub secret_header: String,
    /// Phone normalisation for this source's numbers.
    pub phones: PhoneParser,
    /// How its calls become tickets.
    pub plan: CallPlanSettings,
    /// Open the ticket at the first ringing event.
    pub open_ticket_on_ring: bool,
    /// Ticket field for dispositions.
    pub disposition_field: Option<u64>,
    /// The generic source's mapping.
    pub mapping: Option<deskline_core::sources::generic::GenericMapping>,
    /// How calls join tickets.
    pub threading: deskline_core::threading::ThreadingPolicy,
    /// Which recording link tickets get, and how a fresh provider link is fetched.
    pub recordings: super::ResolvedRecordings,
    /// For handoff sources: how handoffs become tickets.
    pub handoff: super::HandoffSettings,
}

/// A checked configuration.
#[derive(Debug)]
pub struct Resolved {
    /// The configuration as read.
    pub config: Config,
    /// Where Zendesk is.
    pub zendesk: ZendeskTarget,
    /// Requests per minute the client may spend.
    pub requests_per_minute: u32,
    /// Ticket updates per minute the client may spend.
    pub ticket_updates_per_minute: u32,
    /// The sources.
    pub sources: Vec<ResolvedSource>,
    /// Where agents' replies are delivered, by channel.
    pub connectors: super::Connectors,
}

impl Resolved {
    /// The key that sets where Zendesk is, for messages about reaching it.
    pub fn zendesk_address_key(&self) -> &'static str {
        let z = &self.config.zendesk;
        if z.sandbox {
            "zendesk.sandbox"
        } else if z.url.is_some() {
            "zendesk.url"
        } else {
            "zendesk.subdomain"
        }
    }
}

fn plan_rate(plan: &str) -> Option<u32> {
    match plan.trim().to_ascii_lowercase().as_str() {
        "team" => Some(200),
        "growth" | "professional" => Some(400),
        "enterprise" => Some(700),
        "high-volume" | "high_volume" => Some(2500),
        _ => None,
    }
}

/// Checks a subdomain and gives the account's base URL.
pub fn subdomain_url(subdomain: &str) -> Result<String, (String, String)> {
    let s = subdomain.trim();
    if s.is_empty() {
        return Err((
            "is empty".into(),
            "set it to your account's subdomain, e.g. \"acme\" for https://acme.zendesk.com".into(),
        ));
    }
    if s.contains("://") || s.contains('/') || s.contains('.') {
        let guess = s
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split(['.', '/'])
            .next()
            .unwrap_or("");
        return Err((
            format!("\"{s}\" looks like a URL or host name, not a subdomain"),
            format!("set zendesk.subdomain = \"{guess}\" (or use zendesk.url for a full base URL)"),
        ));
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err((
            format!("\"{s}\" has characters a subdomain cannot have"),
            "use letters, digits and dashes only".into(),
        ));
    }
    Ok(format!("https://{}.zendesk.com", s.to_ascii_lowercase()))
}

/// Shortest lease: a worker renews every third of it, so a shorter one mostly writes heartbeats.
const MIN_LEASE: Duration = Duration::from_secs(1);
/// Longest lease: past it a dead instance's calls wait longer than anyone would accept.
const MAX_LEASE: Duration = Duration::from_secs(3600);

/// `worker.lease` and `[retention]`.
fn check_leases_and_retention(config: &Config, add: &mut impl FnMut(&str, String, String)) {
    let w = &config.worker;
    if w.rescue_after.is_some() {
        add(
            "worker.rescue_after",
            "is no longer used: running jobs renew a lease, and a job is taken over once its \
             worker stops renewing it"
                .into(),
            "remove it, and set worker.lease instead if the default (20s) does not suit".into(),
        );
    }
    if w.lease < MIN_LEASE || w.lease > MAX_LEASE {
        add(
            "worker.lease",
            format!(
                "{} is out of range",
                humantime_serde::re::humantime::format_duration(w.lease)
            ),
            "use between 1s and 1h (default 20s; a dead instance's jobs are taken over about \
             1.25 leases after its last renewal)"
                .into(),
        );
    }
    let r = &config.retention;
    if r.period < Duration::from_secs(60) {
        add(
            "retention.period",
            format!(
                "{} is shorter than a minute",
                humantime_serde::re::humantime::format_duration(r.period)
            ),
            "use a period such as \"30d\" (the default) or \"7d\"".into(),
        );
    }
    if r.interval.is_zero() {
        add(
            "retention.interval",
            "is 0".into(),
            "use a duration such as \"10m\" (the default)".into(),
        );
    }
    if r.batch == 0 || r.batch > 10_000 {
        add(
            "retention.batch",
            format!("{} is out of range", r.batch),
            "use between 1 and 10000 (default 500)".into(),
        );
    }
}

/// What the configuration is checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Running the service: the Zendesk account and every secret must be configured.
    Serve,
    /// Reading sample payloads (`deskline sources try`): nothing is sent, so neither Zendesk
    /// credentials nor source secrets are needed.
    DryRun,
}

/// Validates `config` for serving, collecting every problem.
pub fn validate(config: Config) -> Result<Resolved, ConfigError> {
    let (resolved, problems) = resolve(config, Purpose::Serve);
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(ConfigError { problems })
    }
}

/// Checks `config` for `purpose`: what could be resolved (a source with a problem that leaves
/// it unusable is left out) and every problem found.
pub fn resolve(config: Config, purpose: Purpose) -> (Resolved, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut add = |key: &str, problem: String, fix: String| {
        problems.push(Problem {
            key: key.to_string(),
            problem,
            fix,
        });
    };
    let z = &config.zendesk;
    let zendesk = match purpose {
        Purpose::Serve => zendesk_target(z, &mut add),
        Purpose::DryRun => zendesk_target(z, &mut |_, _, _| {}),
    };
    let requests_per_minute = match (z.requests_per_minute, plan_rate(&z.plan)) {
        (Some(0), _) => {
            add(
                "zendesk.requests_per_minute",
                "is 0".into(),
                "set a positive number, or remove it to use the plan's".into(),
            );
            1
        }
        (Some(n), _) => n,
        (None, Some(n)) => n,
        (None, None) => {
            add(
                "zendesk.plan",
                format!("\"{}\" is not a plan", z.plan),
                "use team, growth, professional, enterprise or high-volume".into(),
            );
            400
        }
    };
    let ticket_updates_per_minute = match z.ticket_updates_per_minute {
        Some(0) => {
            add(
                "zendesk.ticket_updates_per_minute",
                "is 0".into(),
                "set a positive number (Zendesk allows 100, 300 with the High Volume add-on), or remove it".into(),
            );
            1
        }
        Some(n) => n,
        None if z.plan.trim().eq_ignore_ascii_case("high-volume") => 300,
        None => 100,
    };
    if z.outage_after_failures == 0 {
        add(
            "zendesk.outage_after_failures",
            "is 0".into(),
            "set how many failed requests in a row mean Zendesk is out (default 5)".into(),
        );
    }
    let shortest = std::time::Duration::from_millis(100);
    for (key, value) in [
        ("zendesk.outage_first_probe", z.outage_first_probe),
        ("zendesk.outage_max_probe", z.outage_max_probe),
        ("zendesk.recheck_interval", z.recheck_interval),
    ] {
        if value < shortest {
            add(
                key,
                format!("is {value:?}"),
                "set at least 100ms (the defaults are 5s, 5m and 30s)".into(),
            );
        }
    }
    if z.outage_max_probe < z.outage_first_probe {
        add(
            "zendesk.outage_max_probe",
            "is shorter than zendesk.outage_first_probe".into(),
            "make it at least as long as the first probe".into(),
        );
    }
    if config.server.max_body_bytes < 1024 {
        add(
            "server.max_body_bytes",
            format!(
                "{} is too small for a call event",
                config.server.max_body_bytes
            ),
            "use at least 1024 (default 262144)".into(),
        );
    }
    super::recordings::check_link_key(&config.server, &mut add);
    super::listener::check(&config.server, &mut add);
    for p in super::check_storage(&config.storage) {
        add(&p.key, p.problem, p.fix);
    }
    if config.worker.concurrency == 0 {
        add("worker.concurrency", "is 0".into(), "use at least 1".into());
    }
    check_leases_and_retention(&config, &mut add);
    if config.worker.max_attempts == 0 {
        add(
            "worker.max_attempts",
            "is 0".into(),
            "use at least 1".into(),
        );
    }
    if config.sources.is_empty() {
        add(
            "sources",
            "no source is configured".into(),
            "add a [sources.myoperator] table (see examples/deskline.toml)".into(),
        );
    }
    let mut sources = Vec::new();
    for (name, s) in &config.sources {
        let key = |k: &str| format!("sources.{name}.{k}");
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || name.is_empty()
        {
            add(
                &format!("sources.{name}"),
                "the name is used in the URL /hooks/{name}".into(),
                "use letters, digits, - and _ only".into(),
            );
        }
        if let Some(secret) = &s.secret {
            if secret.trim().len() < 16 {
                add(
                    &key("secret"),
                    "is shorter than 16 characters".into(),
                    "use a long random value, e.g. the output of `openssl rand -hex 24`".into(),
                );
            }
        } else if !z.sandbox && purpose == Purpose::Serve {
            add(&key("secret"), "is missing".into(), format!("set DESKLINE_SOURCES__{}__SECRET to a long random value and add it to the provider's webhook headers", name.to_ascii_uppercase()));
        }
        if s.secret_header.trim().is_empty()
            || !s
                .secret_header
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            add(
                &key("secret_header"),
                format!("\"{}\" is not a header name", s.secret_header),
                "use a name like X-Deskline-Secret".into(),
            );
        }
        let phones = match PhoneParser::new(&s.default_region) {
            Ok(p) => Some(p),
            Err(e) => {
                add(
                    &key("default_region"),
                    e.to_string(),
                    "use an ISO 3166 code such as IN".into(),
                );
                None
            }
        };
        let tz = match Tz::from_str(s.time_zone.trim()) {
            Ok(tz) => Some(tz),
            Err(_) => {
                add(
                    &key("time_zone"),
                    format!("\"{}\" is not an IANA time zone", s.time_zone),
                    "use a name such as Asia/Kolkata or Europe/Berlin".into(),
                );
                None
            }
        };
        let templates = match Templates::new(
            s.subject_template.as_deref().unwrap_or(DEFAULT_SUBJECT),
            s.note_template.as_deref().unwrap_or(DEFAULT_NOTE),
        ) {
            Ok(t) => Some(t),
            Err(e) => {
                add(&key(&format!("{}_template", e.name)), e.reason.clone(), "fix the template (Jinja syntax; variables are listed in docs/configuration.md)".into());
                None
            }
        };
        if !s.shared_requester.email.contains('@') {
            add(
                &key("shared_requester.email"),
                "is not an email".into(),
                "use an address such as unknown-caller@example.com".into(),
            );
        }
        let prefix = |problems: Vec<String>, add: &mut dyn FnMut(&str, String, String)| {
            for p in problems {
                // The core modules word their messages as "key: problem. Fix: …".
                let (k, rest) = p.split_once(": ").unwrap_or(("", p.as_str()));
                let (problem, fix) = rest
                    .split_once(". Fix: ")
                    .unwrap_or((rest, "see docs/configuration.md"));
                add(
                    &format!("sources.{name}.{}", k.trim_start_matches("sources.")),
                    problem.to_string(),
                    fix.trim_end_matches('.').to_string(),
                );
            }
        };
        match (s.kind, &s.mapping) {
            (SourceKind::Generic, None) => add(
                &key("mapping"),
                "is missing for a generic source".into(),
                "add a [sources.NAME.mapping] table (see docs/providers/generic.md)".into(),
            ),
            (SourceKind::Generic, Some(m)) => {
                if let Err(problems) = m.validate() {
                    prefix(problems, &mut add);
                }
            }
            (_, Some(_)) => add(
                &key("mapping"),
                "only applies to kind = \"generic\"".into(),
                "remove it".into(),
            ),
            (_, None) => {}
        }
        let hours = match &s.business_hours {
            Some(h) => match h.validate() {
                Ok(r) => Some(r),
                Err(problems) => {
                    prefix(problems, &mut add);
                    None
                }
            },
            None => None,
        };
        let after_hours = match (&s.after_hours, &hours, &s.business_hours) {
            (Some(rule), Some(h), _) => match rule.validate() {
                Ok(()) => Some((h.clone(), rule.clone())),
                Err(problems) => {
                    prefix(problems, &mut add);
                    None
                }
            },
            (Some(_), None, None) => {
                add(
                    &key("after_hours"),
                    "needs business_hours".into(),
                    "add a [sources.NAME.business_hours] table".into(),
                );
                None
            }
            _ => None,
        };
        if let Err(problems) = s.threading.validate() {
            prefix(problems, &mut add);
        }
        if s.open_ticket_on_ring && s.threading.window().is_some() {
            // A ticket opened at ringing belongs to that call before anyone knows whether it
            // should join the caller's recent ticket.
            add(
                &key("threading"),
                "cannot be combined with open_ticket_on_ring".into(),
                "use threading mode per_call, or set open_ticket_on_ring = false".into(),
            );
        }
        let handoff = match (s.kind, &s.handoff) {
            (SourceKind::Handoff, h) => {
                super::handoff::resolve_handoff(name, &h.clone().unwrap_or_default(), &mut add)
            }
            (_, Some(_)) => {
                add(
                    &key("handoff"),
                    "only applies to kind = \"handoff\"".into(),
                    "remove it".into(),
                );
                super::HandoffSettings::default()
            }
            (_, None) => super::HandoffSettings::default(),
        };
        let recordings =
            super::recordings::resolve(name, s.kind, &s.recordings, &config.server, &mut add);
        if let (Some(phones), Some(time_zone), Some(templates), Some(recordings)) =
            (phones, tz, templates, recordings)
        {
            sources.push(ResolvedSource {
                name: name.clone(),
                kind: s.kind,
                secret: s.secret.clone().map(|x| x.trim().to_string()),
                secret_header: s.secret_header.clone(),
                phones,
                plan: CallPlanSettings {
                    fallback_group: s.fallback_group.clone(),
                    fields: s.fields.clone(),
                    templates,
                    time_zone,
                    talk_partner_edition: s.talk_partner_edition,
                    shared_requester: SharedRequester {
                        email: s.shared_requester.email.clone(),
                        name: s.shared_requester.name.clone(),
                    },
                    public_note: s.public_note,
                    extra_tags: s.tags.clone(),
                    answering_agent: s.answering_agent,
                    agent_numbers: s.agent_numbers.clone(),
                    after_hours,
                },
                mapping: s.mapping.clone(),
                threading: s.threading.clone(),
                open_ticket_on_ring: s.open_ticket_on_ring,
                disposition_field: s.disposition_field,
                recordings,
                handoff,
            });
        }
    }
    let connectors = super::handoff::resolve_connectors(&config.connectors, &mut add);
    let resolved = Resolved {
        config,
        zendesk,
        requests_per_minute,
        ticket_updates_per_minute,
        sources,
        connectors,
    };
    (resolved, problems)
}

/// Where the Zendesk account is, from `[zendesk]`.
fn zendesk_target(
    z: &super::ZendeskConfig,
    add: &mut dyn FnMut(&str, String, String),
) -> ZendeskTarget {
    if z.sandbox {
        ZendeskTarget::Sandbox
    } else {
        let base_url = match (&z.url, &z.subdomain) {
            (Some(url), _) => {
                let url = url.trim().trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    add(
                        "zendesk.url",
                        format!("\"{url}\" is not an http(s) URL"),
                        "write it as https://acme.zendesk.com".into(),
                    );
                }
                url
            }
            (None, Some(sub)) => match subdomain_url(sub) {
                Ok(url) => url,
                Err((problem, fix)) => {
                    add("zendesk.subdomain", problem, fix);
                    String::new()
                }
            },
            (None, None) => {
                add("zendesk.subdomain", "is missing".into(), "set zendesk.subdomain = \"acme\" for https://acme.zendesk.com, or zendesk.sandbox = true to try deskline locally".into());
                String::new()
            }
        };
        let email = z.email.clone().unwrap_or_default();
        if !email.contains('@') {
            add(
                "zendesk.email",
                "is missing or not an email".into(),
                "set it to the email of the Zendesk agent deskline acts as".into(),
            );
        }
        let api_token = z.api_token.clone().unwrap_or_default();
        if api_token.trim().is_empty() {
            add("zendesk.api_token", "is missing".into(), "create a token in Admin Center → Apps and integrations → APIs → Zendesk API and set DESKLINE_ZENDESK__API_TOKEN".into());
        }
        ZendeskTarget::Remote {
            base_url,
            email,
            api_token: api_token.trim().to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
