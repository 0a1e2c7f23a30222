//! Subject and note templates (Jinja syntax via minijinja), compiled once at start so a typo
//! is reported before any call arrives.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::call::{AgentRef, CallRecord, Outcome};

/// The subject used when none is configured.
pub const DEFAULT_SUBJECT: &str = "{% if missed %}Missed{% else %}Answered{% endif %} {{ direction }} call {% if direction == 'inbound' %}from{% else %}to{% endif %} {{ customer }}";

/// The private note used when none is configured.
pub const DEFAULT_NOTE: &str = "\
{% if missed %}Missed{% else %}Answered{% endif %} {{ direction }} call
From: {{ from }}
To: {{ to }}
Started: {{ started_local }} ({{ started_utc }})
Duration: {{ duration }}{% if talk %} (talk {{ talk }}){% endif %}
{% if department %}Department: {{ department }}
{% endif %}{% if agent %}Agent: {{ agent }}
{% endif %}{% if location %}Caller location: {{ location }}
{% endif %}{% if recording %}Recording: {{ recording }}
{% endif %}{% if legs|length > 1 %}Legs:
{% for leg in legs %}  {{ loop.index }}. {{ leg }}
{% endfor %}{% endif %}Provider call id: {{ provider }} {{ call_id }}";

/// Why a template was refused.
#[derive(Debug, thiserror::Error)]
#[error("{name} template is invalid: {reason}")]
pub struct TemplateError {
    /// `subject` or `note`.
    pub name: &'static str,
    /// The template engine's explanation, with line numbers.
    pub reason: String,
}

/// The values a template can use.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CallContext {
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// Whether nobody answered.
    pub missed: bool,
    /// The customer's number, or a word for a withheld one.
    pub customer: String,
    /// The calling number.
    pub from: String,
    /// The called number.
    pub to: String,
    /// Start in the configured time zone, e.g. `2024-11-23 17:25:21 IST`.
    pub started_local: String,
    /// Start in UTC, RFC 3339.
    pub started_utc: String,
    /// Total duration, e.g. `2m 08s`.
    pub duration: String,
    /// Talk time, when answered.
    pub talk: Option<String>,
    /// Total duration in seconds.
    pub duration_seconds: u64,
    /// The provider's department.
    pub department: Option<String>,
    /// The answering agent's name or email.
    pub agent: Option<String>,
    /// The caller's location.
    pub location: Option<String>,
    /// The recording link.
    pub recording: Option<String>,
    /// The provider, e.g. `myoperator`.
    pub provider: &'static str,
    /// The provider's call id.
    pub call_id: String,
    /// One line per leg (who it rang, received or not, how long), in order.
    pub legs: Vec<String>,
}

/// Formats seconds the way agents read them: `45s`, `2m 08s`, `1h 02m 03s`.
pub fn human_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

impl CallContext {
    /// The template values for a call answered by `agent` (none when missed), with times
    /// shown in `tz`.
    pub fn new(
        call: &CallRecord,
        agent: Option<&AgentRef>,
        tz: Tz,
        recording: Option<String>,
    ) -> CallContext {
        let local: DateTime<Tz> = call.started_at.with_timezone(&tz);
        let unknown_line = || "our line".to_string();
        CallContext {
            direction: call.direction.as_str(),
            missed: call.outcome == Outcome::Missed,
            customer: call.customer.display(),
            from: call.from().map_or_else(unknown_line, |p| p.display()),
            to: call.to().map_or_else(unknown_line, |p| p.display()),
            started_local: local.format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            started_utc: utc(call.started_at),
            duration: human_duration(call.total_seconds),
            talk: call.talk_seconds.filter(|t| *t > 0).map(human_duration),
            duration_seconds: call.total_seconds,
            department: call.department.clone(),
            agent: agent.map(AgentRef::label),
            location: call.location.clone(),
            recording,
            provider: call.provider.slug(),
            call_id: call.call_id.clone(),
            legs: call.legs.iter().map(leg_line).collect(),
        }
    }
}

fn leg_line(leg: &crate::call::CallLeg) -> String {
    let who: Vec<String> = leg.agents.iter().map(|a| a.label()).collect();
    let who = if who.is_empty() {
        "no agent".to_string()
    } else {
        who.join(", ")
    };
    let outcome = if leg.received {
        "answered"
    } else {
        "not answered"
    };
    match leg.duration_seconds {
        Some(d) => format!("{who}: {outcome}, {}", human_duration(d)),
        None => format!("{who}: {outcome}"),
    }
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The compiled subject and note templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles the two templates, refusing syntax errors with the line and the problem.
    pub fn new(subject: &str, note: &str) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        // A misspelt variable should fail loudly at start, not render as empty text.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template_owned("subject", subject.to_string())
            .map_err(|e| TemplateError {
                name: "subject",
                reason: e.to_string(),
            })?;
        env.add_template_owned("note", note.to_string())
            .map_err(|e| TemplateError {
                name: "note",
                reason: e.to_string(),
            })?;
        let templates = Templates { env };
        // Render against a sample so unknown variables are caught now.
        let sample = CallContext {
            direction: "inbound",
            missed: false,
            customer: "+10000000000".into(),
            from: "+10000000000".into(),
            to: "+10000000001".into(),
            started_local: String::new(),
            started_utc: String::new(),
            duration: "1s".into(),
            talk: Some("1s".into()),
            duration_seconds: 1,
            department: Some("d".into()),
            agent: Some("a".into()),
            location: Some("l".into()),
            recording: Some("r".into()),
            provider: "myoperator",
            call_id: "c".into(),
            legs: vec!["a: answered, 1s".into(), "b: not answered".into()],
        };
        templates.render("subject", &sample)?;
        templates.render("note", &sample)?;
        Ok(templates)
    }

    /// The built-in templates.
    pub fn defaults() -> Templates {
        match Templates::new(DEFAULT_SUBJECT, DEFAULT_NOTE) {
            Ok(t) => t,
            // The defaults are covered by unit tests; this arm cannot be reached.
            Err(e) => unreachable!("built-in templates are invalid: {e}"),
        }
    }

    fn render(&self, name: &'static str, ctx: &CallContext) -> Result<String, TemplateError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(ctx)))
            .map(|s| s.trim().to_string())
            .map_err(|e| TemplateError {
                name,
                reason: e.to_string(),
            })
    }

    /// The ticket subject for a call (one line).
    pub fn subject(&self, ctx: &CallContext) -> Result<String, TemplateError> {
        self.render("subject", ctx)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// The private note for a call.
    pub fn note(&self, ctx: &CallContext) -> Result<String, TemplateError> {
        self.render("note", ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(128), "2m 08s");
        assert_eq!(human_duration(3723), "1h 02m 03s");
    }

    #[test]
    fn typos_are_caught_at_start() {
        let err = Templates::new("Call from {{ custmer }}", DEFAULT_NOTE).unwrap_err();
        assert_eq!(err.name, "subject");
        let err = Templates::new(DEFAULT_SUBJECT, "{% if %}").unwrap_err();
        assert_eq!(err.name, "note");
        assert!(Templates::new(DEFAULT_SUBJECT, DEFAULT_NOTE).is_ok());
    }
}
