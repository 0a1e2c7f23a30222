//! Twilio status callbacks: parsing (numbers E.164 or recognised) and `X-Twilio-Signature`
//! (a form body signed with one auth token verifies with it and with no other; a JSON body's
//! `bodySHA256` URL is checked the same way; a garbage signature never verifies).
#![no_main]

use deskline_core::sources::{twilio, Inbound, VerifyError};
use deskline_fuzz::{check_events, parts, Meta};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn with_signature(headers: &[(String, String)], signature: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k != twilio::SIGNATURE_HEADER)
        .cloned()
        .collect();
    out.push((twilio::SIGNATURE_HEADER.to_string(), signature.to_string()));
    out
}

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let meta = Meta::read(p[0]);
    let body = p[1];
    let inbound = Inbound {
        body,
        headers: &meta.headers,
        url: &meta.url,
    };
    if let Ok(events) = twilio::parse(&inbound, &meta.phones()) {
        check_events(&events);
    }

    let (a, b) = meta.secrets();
    // The input's own signature header: it may verify only if it is a real HMAC-SHA1.
    if twilio::verify(&inbound, &a).is_ok() {
        let given = inbound
            .header(twilio::SIGNATURE_HEADER)
            .unwrap_or("")
            .trim();
        assert_eq!(given.len(), 28, "a non-HMAC signature {given:?} verified");
    }
    assert!(
        twilio::verify(&inbound, "").is_err(),
        "an empty token verified"
    );
    let unsigned: Vec<(String, String)> = meta
        .headers
        .iter()
        .filter(|(k, _)| k != twilio::SIGNATURE_HEADER)
        .cloned()
        .collect();
    let none = Inbound {
        headers: &unsigned,
        ..inbound
    };
    assert!(
        matches!(twilio::verify(&none, &a), Err(VerifyError::Missing(_))),
        "an unsigned request verified"
    );

    // A form body posted to a URL without `bodySHA256`.
    if !meta.url.contains("bodySHA256") {
        let headers = with_signature(&meta.headers, &twilio::signature(&a, &meta.url, body));
        let signed = Inbound {
            headers: &headers,
            ..inbound
        };
        assert_eq!(
            twilio::verify(&signed, &a),
            Ok(()),
            "signed with A, refused with A"
        );
        assert!(
            twilio::verify(&signed, &b).is_err(),
            "signed with A, accepted with B"
        );
    }

    // A JSON body: the URL carries the body's hash, and the signature covers the URL alone.
    if !meta.url.contains(['?', '#']) {
        let hash: String = Sha256::digest(body)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        let url = format!("{}?bodySHA256={hash}", meta.url);
        let headers = with_signature(&meta.headers, &twilio::signature(&a, &url, b""));
        let signed = Inbound {
            body,
            headers: &headers,
            url: &url,
        };
        assert_eq!(
            twilio::verify(&signed, &a),
            Ok(()),
            "JSON signed with A, refused with A"
        );
        assert!(
            twilio::verify(&signed, &b).is_err(),
            "JSON signed with A, accepted with B"
        );
    }
});
