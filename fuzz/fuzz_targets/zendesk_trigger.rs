//! A verified Zendesk delivery's body, read as `POST /zendesk/webhook` reads it: JSON, else
//! the lenient reading of deskline's trigger body; then its kind, dedupe key and ticket id.
//! A recovered body always names its ticket; every body gets a kind and a dedupe key.
#![no_main]

use deskline_server::zendesk_hook::{classify, lenient_trigger_body, ticket_id_of};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let value = match serde_json::from_slice::<Value>(data) {
        Ok(v) => v,
        Err(_) => match lenient_trigger_body(data) {
            Some(v) => {
                assert!(
                    ticket_id_of(&v).is_some(),
                    "a recovered body without a ticket: {v}"
                );
                v
            }
            None => return,
        },
    };
    let (kind, key) = classify(&value, data);
    assert!(kind.starts_with("zendesk."), "kind {kind:?}");
    assert!(!key.is_empty(), "an empty dedupe key");
    let _ = ticket_id_of(&value);
});
