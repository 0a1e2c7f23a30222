//! What every JSON source reads first: the content type, and a body that must be one JSON
//! object. A body accepted as an object is one; a form content type is never read as JSON.
#![no_main]

use deskline_core::sources::{json_object_body, BodyKind, Inbound, SourceError};
use deskline_fuzz::{parts, Meta};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let inbound = Inbound {
        body: p[1],
        headers: &meta.headers,
        url: &meta.url,
    };
    let kind = BodyKind::from_content_type(inbound.content_type());
    match json_object_body(&inbound, "send JSON", "the webhook") {
        Ok(map) => {
            assert_eq!(
                kind,
                Ok(BodyKind::Json),
                "a non-JSON content type read as JSON"
            );
            let again = serde_json::from_slice::<Value>(p[1]).expect("accepted JSON parses");
            assert_eq!(
                again,
                Value::Object(map),
                "the object differs from the body"
            );
        }
        Err(SourceError::Empty) => {
            assert!(
                p[1].iter().all(u8::is_ascii_whitespace),
                "a body called empty"
            );
        }
        Err(_) => {}
    }
});
