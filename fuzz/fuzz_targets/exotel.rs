//! Exotel callbacks as forms, JSON or a GET's query string: parsing in the account's time zone
//! (numbers E.164 or recognised), and the `secret` URL parameter (a URL carrying secret A
//! verifies with A and with no other; none never verifies).
#![no_main]

use deskline_core::sources::exotel::{self, ExotelSettings};
use deskline_core::sources::{Inbound, VerifyError};
use deskline_fuzz::{check_events, parts, Meta};
use libfuzzer_sys::fuzz_target;

/// `s` with every byte outside unreserved URL characters percent-encoded.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let settings = meta
        .time_zone
        .as_deref()
        .and_then(|z| ExotelSettings::with_time_zone(z).ok())
        .unwrap_or_default();
    let inbound = Inbound {
        body: p[1],
        headers: &meta.headers,
        url: &meta.url,
    };
    if let Ok(events) = exotel::parse(&inbound, &meta.phones(), &settings) {
        check_events(&events);
    }

    let (a, b) = meta.secrets();
    assert!(
        exotel::verify(&inbound, "").is_err(),
        "an empty secret verified"
    );
    // Append to the input's URL, keeping its fragment out of the query.
    let (base, fragment) = match meta.url.split_once('#') {
        Some((u, f)) => (u.to_string(), format!("#{f}")),
        None => (meta.url.clone(), String::new()),
    };
    let join = if base.contains('?') { '&' } else { '?' };
    let url = format!(
        "{base}{join}{}={}{fragment}",
        exotel::SECRET_PARAM,
        encode(&a)
    );
    let signed = Inbound {
        url: &url,
        ..inbound
    };
    // The input's URL may already name a secret, and the first one counts.
    if !base.contains("secret") {
        assert_eq!(
            exotel::verify(&signed, &a),
            Ok(()),
            "secret A refused with A"
        );
        assert!(
            matches!(exotel::verify(&inbound, &a), Err(VerifyError::Missing(_))),
            "a URL without a secret verified"
        );
    }
    assert!(
        exotel::verify(&signed, &b).is_err(),
        "secret A accepted with B"
    );
});
