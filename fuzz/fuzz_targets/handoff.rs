//! AI-agent handoff requests: the contact's number is E.164 or recognised, and the dedupe key
//! is stable and well formed.
#![no_main]

use deskline_core::handoff;
use deskline_core::sources::Inbound;
use deskline_fuzz::{check_party, parts, Meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let inbound = Inbound {
        body: p[1],
        headers: &meta.headers,
        url: &meta.url,
    };
    let Ok(h) = handoff::parse(&inbound, &meta.phones()) else {
        return;
    };
    check_party(&h.contact.phone);
    assert!(!h.session_id.is_empty(), "a handoff without a session id");
    assert!(!h.channel.is_empty(), "a handoff without a channel");
    let key = handoff::dedupe_key(&h);
    assert!(key.starts_with("handoff:"), "dedupe key {key:?}");
    assert_eq!(
        key,
        handoff::dedupe_key(&h.clone()),
        "the dedupe key is not stable"
    );
});
