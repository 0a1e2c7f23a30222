//! MyOperator's After-Call call log in each envelope (bare object, `{"myoperator": …}`, the
//! form field): the record's numbers are E.164 or recognised, and the log's correlation id is
//! read without panicking.
#![no_main]

use deskline_core::sources::{myoperator, BodyKind, Inbound};
use deskline_fuzz::{check_record, parts, Meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let inbound = Inbound {
        body: p[1],
        headers: &meta.headers,
        url: &meta.url,
    };
    let phones = meta.phones();
    if let Ok(record) = myoperator::parse_after_call(p[1], inbound.content_type(), &phones) {
        check_record(&record);
    }
    for kind in [BodyKind::Json, BodyKind::Form] {
        if let Ok(log) = myoperator::call_log(p[1], kind) {
            if let Some(id) = myoperator::correlation_id(&log) {
                assert!(!id.is_empty(), "an empty correlation id");
            }
            if let Ok(record) = myoperator::record_from_log(&log, &phones) {
                check_record(&record);
            }
        }
    }
});
