//! MyOperator adapter tests: one file per webhook, plus detection and correlation across them.

use serde_json::{json, Value};

use super::*;
use crate::call::{Direction, Outcome};
use crate::event::CallEvent;
use crate::phone::PartyNumber;

mod after_call;
mod detect;
mod disposition;
mod in_call;
mod v2;

const AFTER_CALL_ANSWERED: &str =
    include_str!("../../../../../../examples/myoperator/after-call-answered.json");
const AFTER_CALL_MISSED: &str =
    include_str!("../../../../../../examples/myoperator/after-call-missed.json");
const IN_CALL_RINGING: &str =
    include_str!("../../../../../../examples/myoperator/in-call-ringing.json");
const IN_CALL_ANSWERED: &str =
    include_str!("../../../../../../examples/myoperator/in-call-answered.json");
const DISPOSITION: &str = include_str!("../../../../../../examples/myoperator/disposition.json");
const V2_ANSWERED: &str =
    include_str!("../../../../../../examples/myoperator/v2-call-answered.json");
const V2_SUMMARY: &str = include_str!("../../../../../../examples/myoperator/v2-call-summary.json");
const V2_DISPOSITION: &str =
    include_str!("../../../../../../examples/myoperator/v2-disposition.json");

fn india() -> PhoneParser {
    PhoneParser::new("IN").expect("region")
}

/// Runs [`parse`] on a body with a content type.
fn parse_as(body: &[u8], content_type: Option<&str>) -> Result<Vec<ParsedEvent>, SourceError> {
    let headers: Vec<(String, String)> = content_type
        .map(|ct| vec![("content-type".to_string(), ct.to_string())])
        .unwrap_or_default();
    let inbound = Inbound {
        body,
        headers: &headers,
        url: "https://deskline.test/hooks/myoperator",
    };
    parse(&inbound, &india())
}

/// Runs [`parse`] on a JSON body.
fn events(body: &str) -> Result<Vec<ParsedEvent>, SourceError> {
    parse_as(body.as_bytes(), Some("application/json"))
}

/// Runs [`parse`] on a JSON value.
fn events_of(body: &Value) -> Result<Vec<ParsedEvent>, SourceError> {
    events(&body.to_string())
}

/// The only event of a body that must give exactly one.
fn only(body: &Value) -> ParsedEvent {
    let mut got = events_of(body).expect("parses");
    assert_eq!(got.len(), 1, "{body}: {got:?}");
    got.remove(0)
}

/// A JSON object with `extra`'s keys set (null removes a key).
fn with(base: &Value, extra: &Value) -> Value {
    let mut out = base.clone();
    if let (Some(o), Some(e)) = (out.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if v.is_null() {
                o.remove(k);
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn example(text: &str) -> Value {
    serde_json::from_str(text).expect("example is JSON")
}

fn kinds(events: &[ParsedEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.kind()).collect()
}
