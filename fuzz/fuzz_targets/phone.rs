//! Phone-number normalisation: a known number is E.164 and a fixed point (its E.164 reads back
//! as itself in every region); anything else is withheld or kept, trimmed, as sent.
//!
//! Input: the region code, `\n%%\n`, the number as a provider sent it.
#![no_main]

use deskline_core::phone::{PartyNumber, PhoneParser};
use deskline_fuzz::{check_party, parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let region = String::from_utf8_lossy(p[0]);
    let Ok(parser) = PhoneParser::new(&region) else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(p[1]) else {
        return;
    };
    let n = parser.parse(raw);
    check_party(&n);
    if let PartyNumber::Known { phone } = &n {
        assert_eq!(
            parser.parse(phone.as_str()),
            n,
            "not a fixed point in {region}"
        );
    }
    // Parsing does not depend on surrounding spaces.
    assert_eq!(
        parser.parse(&format!("  {raw}\t")),
        n,
        "spaces changed {raw:?}"
    );
});
