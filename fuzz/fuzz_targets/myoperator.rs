//! MyOperator webhooks (v1 In-Call, Disposition and After-Call; v2 events), JSON or form, any
//! content type: every parsed number is E.164 or recognised as withheld/unrecognised.
#![no_main]

use deskline_core::sources::{myoperator, Inbound};
use deskline_fuzz::{check_events, parts, Meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let inbound = Inbound {
        body: p[1],
        headers: &meta.headers,
        url: &meta.url,
    };
    if let Ok(events) = myoperator::parse(&inbound, &meta.phones()) {
        check_events(&events);
    }
});
