//! What a sample payload would become, without sending anything: the events a source's
//! adapter reads from it and, for a finished call, the ticket plan (`deskline sources try`).

use deskline_core::event::{CallEvent, ParsedEvent};
use deskline_core::plan::{plan_call, TicketPlan};
use deskline_core::sources::Inbound;
use deskline_store::Store;
use serde::Serialize;

use crate::config::{ResolvedSource, SourceKind};
use crate::ingress::parse_events;

/// One event read from the sample, with its plan when it is a finished call.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// The event and its dedupe key.
    pub event: ParsedEvent,
    /// The ticket plan, or why there is none (`"ticket": {…}` or `"no_ticket": "why"`).
    #[serde(flatten)]
    pub plan: Planned,
}

/// What an event would do to tickets.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Planned {
    /// The ticket a finished call would become.
    Ticket(Box<TicketPlan>),
    /// Why the event makes no ticket by itself.
    NoTicket(String),
}

/// Parses `body` as `source` would and plans each finished call against the directory in
/// `store` (an empty directory when there is none: agents then show as unmatched).
pub async fn preview(
    source: &ResolvedSource,
    store: Option<&dyn Store>,
    body: &[u8],
    content_type: &str,
    url: &str,
) -> Result<Vec<Preview>, String> {
    let headers = vec![("content-type".to_string(), content_type.to_string())];
    let inbound = Inbound {
        body,
        headers: &headers,
        url,
    };
    let events = parse_events(source, &inbound).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for event in events {
        let plan = match &event.event {
            CallEvent::Ended(call) => {
                let dir = match store {
                    Some(store) => crate::lookup::directory_for(store, source, call)
                        .await
                        .map_err(|e| e.to_string())?,
                    None => placeholder_directory(source),
                };
                match plan_call(&source.name, call, &source.plan, &dir) {
                    Ok(plan) => Planned::Ticket(Box::new(plan)),
                    Err(e) => Planned::NoTicket(e.to_string()),
                }
            }
            other => Planned::NoTicket(format!(
                "a {} event does not create a ticket by itself",
                other.kind()
            )),
        };
        out.push(Preview { event, plan });
    }
    Ok(out)
}

/// Without a synced directory, the groups the source names by name get the id 0, so that the
/// rest of the plan still shows (agents show as unmatched).
fn placeholder_directory(source: &ResolvedSource) -> deskline_core::directory::StaticDirectory {
    let mut directory = deskline_core::directory::StaticDirectory::new();
    let after_hours = source
        .plan
        .after_hours
        .as_ref()
        .and_then(|(_, rule)| rule.group.as_ref());
    for group in [Some(&source.plan.fallback_group), after_hours]
        .into_iter()
        .flatten()
    {
        if let deskline_core::plan::GroupRef::Name(name) = group {
            directory.add_group(0, name);
        }
    }
    directory
}

/// A handoff read from a sample, with what its ticket would get.
#[derive(Debug, Serialize)]
pub struct HandoffPreview {
    /// The handoff as deskline reads it.
    pub handoff: deskline_core::handoff::Handoff,
    /// Its deduplication key.
    pub dedupe_key: String,
    /// The subject, first text, transcript comment, tags and fields.
    pub ticket: HandoffTicketPreview,
}

/// [`deskline_core::handoff::ticket::HandoffTicketPlan`], as shown.
#[derive(Debug, Serialize)]
pub struct HandoffTicketPreview {
    /// Subject of a new ticket.
    pub subject: String,
    /// The first (internal) comment.
    pub summary: String,
    /// The transcript comment.
    pub transcript: Option<String>,
    /// Tags of a new ticket.
    pub tags: Vec<String>,
    /// Custom fields by id.
    pub fields: std::collections::BTreeMap<u64, serde_json::Value>,
}

/// Parses `body` as the handoff source `source` would; `None` when it is not a handoff source.
pub fn preview_handoff(
    source: &ResolvedSource,
    body: &[u8],
    content_type: &str,
) -> Option<Result<HandoffPreview, String>> {
    if source.kind != SourceKind::Handoff {
        return None;
    }
    let headers = vec![("content-type".to_string(), content_type.to_string())];
    let inbound = Inbound {
        body,
        headers: &headers,
        url: "",
    };
    Some(
        deskline_core::handoff::parse(&inbound, &source.phones)
            .map(|handoff| {
                let plan = deskline_core::handoff::ticket::plan(&handoff);
                HandoffPreview {
                    dedupe_key: deskline_core::handoff::dedupe_key(&handoff),
                    ticket: HandoffTicketPreview {
                        subject: plan.subject,
                        summary: plan.summary,
                        transcript: plan.transcript,
                        tags: plan.create_tags,
                        fields: plan.fields,
                    },
                    handoff,
                }
            })
            .map_err(|e| e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{validate, Config, SourceConfig};

    fn sources() -> Vec<ResolvedSource> {
        let mut config = Config::embedded();
        let mut ai = SourceConfig::myoperator(None);
        ai.kind = SourceKind::Handoff;
        config.sources.insert("ai".into(), ai);
        match validate(config) {
            Ok(r) => r.sources,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_handoff_sample_shows_its_ticket_and_call_sources_are_not_handoffs() {
        let sources = sources();
        let ai = sources.iter().find(|s| s.name == "ai").expect("ai");
        let sample = include_bytes!("../../../examples/handoff/web-chat-handoff.json");
        let shown = preview_handoff(ai, sample, "application/json")
            .expect("a handoff source")
            .expect("a valid handoff");
        assert_eq!(
            shown.handoff.session_id,
            "conv_7f3a9c1e-52b4-4d0e-9a61-0c8e2b4d6f10"
        );
        assert!(shown
            .ticket
            .tags
            .contains(&"deskline_ticket_created_on_handoff".to_string()));
        assert_eq!(shown.ticket.fields.len(), 2);
        assert!(shown.dedupe_key.starts_with("handoff:conv_7f3a9c1e"));
        let bad = preview_handoff(ai, b"{\"sessionId\": 1}", "application/json")
            .expect("a handoff source");
        assert!(bad.is_err_and(|e| e.contains("contact")));
        let call = sources.iter().find(|s| s.name == "myoperator").expect("mo");
        assert!(preview_handoff(call, sample, "application/json").is_none());
    }
}
