//! Aircall webhooks: parsing (numbers E.164 or recognised), the envelope token check (a body
//! carrying token A verifies with A and with no other; no token never verifies), and the
//! stored body (the token redacted, every other member unchanged).
#![no_main]

use deskline_core::sources::redact::REDACTED;
use deskline_core::sources::{aircall, Inbound};
use deskline_fuzz::{check_events, parts, Meta};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let body = p[1];
    let inbound = Inbound {
        body,
        headers: &meta.headers,
        url: &meta.url,
    };
    if let Ok(events) = aircall::parse(&inbound, &meta.phones()) {
        check_events(&events);
    }

    let (a, b) = meta.secrets();
    let parsed = serde_json::from_slice::<Value>(body).ok();
    // The input's own token verifies only when it is the secret.
    if aircall::verify(&inbound, &a).is_ok() {
        let token = parsed
            .as_ref()
            .and_then(|v| v.get("token"))
            .and_then(Value::as_str);
        assert_eq!(
            token.map(str::trim),
            Some(a.as_str()),
            "a wrong token verified"
        );
    }
    assert!(
        aircall::verify(&inbound, "").is_err(),
        "an empty token verified"
    );

    let Some(Value::Object(mut envelope)) = parsed else {
        return;
    };
    // Stored: the token redacted, nothing else changed.
    let stored = aircall::stored_body(body);
    let Ok(Value::Object(kept)) = serde_json::from_slice::<Value>(&stored) else {
        panic!("a JSON object was stored as something else: {stored:?}");
    };
    let redacted: Value = serde_json::from_str(REDACTED).expect("REDACTED is JSON");
    for (k, v) in &envelope {
        if k == "token" {
            assert_eq!(kept.get(k), Some(&redacted), "the token was stored");
        } else {
            assert_eq!(kept.get(k), Some(v), "member {k:?} changed in storage");
        }
    }
    assert_eq!(
        kept.len(),
        envelope.len(),
        "members added or lost in storage"
    );

    envelope.insert("token".to_string(), Value::String(a.clone()));
    let signed = serde_json::to_vec(&envelope).expect("serialises");
    let with_token = Inbound {
        body: &signed,
        ..inbound
    };
    assert_eq!(
        aircall::verify(&with_token, &a),
        Ok(()),
        "token A refused with A"
    );
    assert!(
        aircall::verify(&with_token, &b).is_err(),
        "token A accepted with B"
    );
    envelope.remove("token");
    let unsigned = serde_json::to_vec(&envelope).expect("serialises");
    let without = Inbound {
        body: &unsigned,
        ..inbound
    };
    assert!(aircall::verify(&without, &a).is_err(), "no token verified");
});
