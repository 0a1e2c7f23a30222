//! Phone-session registrations (`POST /hooks/{source}/sessions`): an accepted session's caller
//! is E.164 and a fixed point, its id has no control characters, and its email has an `@`.
#![no_main]

use deskline_core::phone::PartyNumber;
use deskline_fuzz::{check_party, is_e164, parts, Meta};
use deskline_server::sessions::parse_session;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let phones = meta.phones();
    let Ok(s) = parse_session(p[1], &phones) else {
        return;
    };
    assert!(is_e164(&s.caller), "caller {:?} is not E.164", s.caller);
    let again = phones.parse(&s.caller);
    assert!(matches!(&again, PartyNumber::Known { phone } if phone.as_str() == s.caller));
    check_party(&again);
    assert!(!s.session_id.is_empty(), "an empty session id");
    assert!(
        !s.session_id.chars().any(char::is_control),
        "control characters in the id"
    );
    if let Some(e) = &s.email {
        assert!(e.contains('@') && !e.contains(' '), "email {e:?}");
    }
});
