//! Credential redaction before a body is stored: the named top-level members become
//! `"[redacted]"`, every other member is unchanged, and the result is still the same JSON
//! object; anything but a JSON object gives nothing.
//!
//! Input: member names, one a line, `\n%%\n`, the body.
#![no_main]

use deskline_core::sources::redact::{json_members, REDACTED};
use deskline_fuzz::parts;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let names_text = String::from_utf8_lossy(p[0]);
    let names: Vec<&str> = names_text.lines().collect();
    let body = p[1];
    let out = json_members(body, &names);
    let original = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        // JSON syntax that `Value` cannot hold (`1e999`, a lone `\uDB0D`): redaction reads raw
        // text without evaluating it, so it may take such a body; there is no oracle here.
        Err(_) if serde_json::from_slice::<&RawValue>(body).is_ok() => return,
        _ => {
            assert!(
                out.is_none(),
                "a body that is not a JSON object was redacted"
            );
            return;
        }
    };
    let out = out.expect("a JSON object is redacted");
    let Ok(Value::Object(kept)) = serde_json::from_slice::<Value>(&out) else {
        panic!(
            "redaction broke the JSON: {:?}",
            String::from_utf8_lossy(&out)
        );
    };
    let redacted: Value = serde_json::from_str(REDACTED).expect("REDACTED is JSON");
    assert_eq!(kept.len(), original.len(), "members added or lost");
    for (k, v) in &original {
        let expected = if names.contains(&k.as_str()) {
            &redacted
        } else {
            v
        };
        assert_eq!(kept.get(k), Some(expected), "member {k:?}");
    }
    if names.is_empty() {
        assert_eq!(out, body, "nothing to redact, yet the body changed");
    }
});
