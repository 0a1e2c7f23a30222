//! Zendesk webhook signatures: a delivery signed with secret A verifies with A (within the
//! skew) and never with another secret; a signature that is not A's MAC of this timestamp and
//! body never verifies; the timestamp is checked only as ISO-8601.
//!
//! Input: meta (`secret`, `secret2`, `x-zendesk-webhook-signature-timestamp`,
//! `x-zendesk-webhook-signature`), `\n%%\n`, the raw body.
#![no_main]

use std::time::Duration;

use chrono::DateTime;
use deskline_fuzz::{parts, Meta};
use deskline_zendesk::config::Secret;
use deskline_zendesk::signature::{sign, verify, SignatureError};
use libfuzzer_sys::fuzz_target;

const SKEW: Duration = Duration::from_secs(300);

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let body = p[1];
    let header = |name: &str| {
        meta.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let timestamp = header("x-zendesk-webhook-signature-timestamp");
    let given = header("x-zendesk-webhook-signature");
    let (a, b) = meta.secrets();
    let (a, b) = (Secret::new(a), Secret::new(b));
    let at = DateTime::parse_from_rfc3339(timestamp.trim()).map(|t| t.to_utc());
    let now = at.unwrap_or_default();

    // The input's own signature: accepted only when it is A's MAC, exactly.
    if verify(&a, timestamp, body, given, now, SKEW).is_ok() {
        assert_eq!(
            given.trim(),
            sign(&a, timestamp.trim(), body),
            "a signature other than A's verified"
        );
    }
    assert_eq!(
        verify(&Secret::new(""), timestamp, body, given, now, SKEW),
        Err(SignatureError::EmptySecret)
    );

    let signed = sign(&a, timestamp.trim(), body);
    match at {
        Ok(at) => {
            assert_eq!(
                verify(&a, timestamp, body, &signed, at, SKEW),
                Ok(()),
                "A refused A"
            );
            let late = at + chrono::Duration::seconds(301);
            assert!(
                matches!(
                    verify(&a, timestamp, body, &signed, late, SKEW),
                    Err(SignatureError::Skew { .. })
                ),
                "a replay outside the skew verified"
            );
        }
        Err(_) => assert_eq!(
            verify(&a, timestamp, body, &signed, now, SKEW),
            Err(SignatureError::BadTimestamp)
        ),
    }
    assert!(
        verify(&b, timestamp, body, &signed, now, SKEW).is_err(),
        "A accepted with B"
    );
    assert!(
        verify(&a, timestamp, body, "", now, SKEW).is_err(),
        "no signature verified"
    );
});
