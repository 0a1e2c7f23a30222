//! The generic source: a mapping as configured (TOML) and a payload read with it. A mapping
//! the configuration check refuses never parses a payload; every parsed number is E.164 or
//! recognised.
//!
//! Input: meta, `\n%%\n`, the mapping's TOML (the `[sources.NAME.mapping]` table's body),
//! `\n%%\n`, the payload.
#![no_main]

use deskline_core::sources::generic::{self, GenericMapping};
use deskline_core::sources::{Inbound, SourceError};
use deskline_fuzz::{check_events, parts, Meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 3);
    let meta = Meta::read(p[0]);
    let Ok(text) = std::str::from_utf8(p[1]) else {
        return;
    };
    let Ok(mapping) = toml::from_str::<GenericMapping>(text) else {
        return;
    };
    let valid = mapping.validate();
    if let Err(problems) = &valid {
        assert!(!problems.is_empty(), "refused without a reason");
    }
    let inbound = Inbound {
        body: p[2],
        headers: &meta.headers,
        url: &meta.url,
    };
    match generic::parse(&inbound, &meta.phones(), &mapping) {
        Ok(events) => {
            assert!(valid.is_ok(), "a refused mapping parsed a payload");
            check_events(&events);
        }
        Err(SourceError::Mapping { .. }) => {}
        Err(e) => assert!(valid.is_ok(), "a refused mapping got as far as {e}"),
    }
});
