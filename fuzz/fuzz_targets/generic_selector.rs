//! The generic source's selector language (`call.legs[?status=answered].agent.email`): a
//! selector that parses reads back as itself, and selecting from any JSON never panics.
//!
//! Input: the selector, `\n%%\n`, a JSON document.
#![no_main]

use deskline_core::sources::generic::selector::Selector;
use deskline_fuzz::parts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let Ok(text) = std::str::from_utf8(p[0]) else {
        return;
    };
    let Ok(selector) = Selector::parse(text) else {
        return;
    };
    let again = Selector::parse(selector.as_str()).expect("a parsed selector parses again");
    assert_eq!(again, selector, "{text:?} does not read back as itself");
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(p[1]) {
        let _ = selector.select(&doc);
    }
});
