//! What a sample payload would become, without sending anything: the events a source's
//! adapter reads from it and, for a finished call, the ticket plan (`deskline sources try`).

use deskline_core::event::{CallEvent, ParsedEvent};
use deskline_core::plan::{plan_call, TicketPlan};
use deskline_core::sources::Inbound;
use deskline_store::Store;
use serde::Serialize;

use crate::config::ResolvedSource;
use crate::ingress::parse_events;

/// One event read from the sample, with its plan when it is a finished call.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// The event and its dedupe key.
    pub event: ParsedEvent,
    /// The ticket plan, or why there is none.
    pub plan: Result<TicketPlan, String>,
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
                    None => deskline_core::directory::StaticDirectory::new(),
                };
                plan_call(&source.name, call, &source.plan, &dir).map_err(|e| e.to_string())
            }
            other => Err(format!(
                "a {} event does not create a ticket by itself",
                other.kind()
            )),
        };
        out.push(Preview { event, plan });
    }
    Ok(out)
}
