use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

fn signer() -> RecordingLinkSigner {
    RecordingLinkSigner::new(*b"0123456789abcdefghijABCDEFGHIJ-_").expect("key")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("time")
}

fn found(source: &str, call_id: &str) -> Result<RecordingRef, LinkError> {
    Ok(RecordingRef {
        source: source.into(),
        call_id: call_id.into(),
    })
}

#[test]
fn the_token_format_is_pinned() {
    // Tokens live in tickets for years: changing this format breaks every link already made.
    let expires = utc(2026, 1, 1, 0, 0, 0);
    assert_eq!(
        signer().sign("myoperator", "c-1", Some(expires)),
        "AQEAAAAAaVW5AApteW9wZXJhdG9yA2MtMaH9YufItwjdoJXn1HOXv3tHViKuJXVQDaOljjcKZLaj"
    );
    assert_eq!(
        signer().sign("myoperator", "c-1", None),
        "AQAKbXlvcGVyYXRvcgNjLTEG70E41DSRpV4b418Fx5SmM6NytYYmp9gjok5Vj7Vi3w"
    );
}

#[test]
fn verify_cases() {
    let s = signer();
    let now = utc(2025, 6, 1, 12, 0, 0);
    let expires = utc(2025, 6, 2, 12, 0, 0);
    let with_expiry = s.sign("myoperator", "c-1", Some(expires));
    let forever = s.sign("twilio", "CA0123", None);
    let other_key = RecordingLinkSigner::new(vec![9u8; 32]).expect("key");
    let foreign = other_key.sign("myoperator", "c-1", Some(expires));
    let too_long = "A".repeat(MAX_TOKEN_CHARS + 1);
    let padded = format!("{with_expiry}=");
    let standard_alphabet = with_expiry.replace('-', "+").replace('_', "/");
    type Case<'a> = (
        &'a str,
        &'a str,
        DateTime<Utc>,
        Result<RecordingRef, LinkError>,
    );
    let cases: Vec<Case> = vec![
        ("valid", &with_expiry, now, found("myoperator", "c-1")),
        (
            "one second before expiry",
            &with_expiry,
            expires - Duration::seconds(1),
            found("myoperator", "c-1"),
        ),
        (
            "at expiry",
            &with_expiry,
            expires,
            Err(LinkError::Expired(expires)),
        ),
        (
            "after expiry",
            &with_expiry,
            expires + Duration::days(400),
            Err(LinkError::Expired(expires)),
        ),
        (
            "no expiry, far future",
            &forever,
            utc(9999, 1, 1, 0, 0, 0),
            found("twilio", "CA0123"),
        ),
        ("another key", &foreign, now, Err(LinkError::BadSignature)),
        ("empty", "", now, Err(LinkError::Malformed)),
        ("not base64", "recording!", now, Err(LinkError::Malformed)),
        ("short", "AQA", now, Err(LinkError::Malformed)),
        ("padding", &padded, now, Err(LinkError::Malformed)),
        ("too long", &too_long, now, Err(LinkError::Malformed)),
        (
            "truncated",
            &with_expiry[..with_expiry.len() - 4],
            now,
            Err(LinkError::BadSignature),
        ),
    ];
    for (name, token, now, expected) in cases {
        assert_eq!(s.verify(token, now), expected, "{name}");
    }
    if standard_alphabet != with_expiry {
        assert_eq!(s.verify(&standard_alphabet, now), Err(LinkError::Malformed));
    }
}

#[test]
fn expiry_is_kept_to_the_second_rounded_down() {
    let s = signer();
    let expires = utc(2025, 6, 2, 12, 0, 0) + Duration::milliseconds(900);
    let token = s.sign("src", "c", Some(expires));
    let floor = utc(2025, 6, 2, 12, 0, 0);
    assert_eq!(
        s.verify(&token, floor - Duration::milliseconds(1)),
        found("src", "c")
    );
    assert_eq!(s.verify(&token, floor), Err(LinkError::Expired(floor)));
}

#[test]
fn signed_junk_payloads_are_malformed_not_panics() {
    // Payloads deskline never makes, correctly signed: parsing must still refuse them.
    let s = signer();
    let with_tag = |payload: &[u8]| {
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&s.mac(payload).finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    };
    let now = utc(2025, 1, 1, 0, 0, 0);
    let junk: &[&[u8]] = &[
        &[2, 0, 1, b'a', 1, b'b'], // unknown version
        &[1, 2, 1, b'a', 1, b'b'], // unknown expiry flag
        &[1, 1, 0, 0, 0],          // truncated expiry
        &[
            1, 1, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, b'a', 1, b'b',
        ], // out of range
        &[1, 0, 5, b'a'],          // length past the end
        &[1, 0, 1, b'a'],          // call id missing
        &[1, 0, 1, 0xff, 1, b'b'], // not UTF-8
        &[1, 0, 1, b'a', 1, b'b', 0], // trailing byte
        &[
            1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ], // varint overflow
    ];
    for payload in junk {
        assert_eq!(
            s.verify(&with_tag(payload), now),
            Err(LinkError::Malformed),
            "{payload:?}"
        );
    }
    assert_eq!(
        s.verify(&with_tag(&[1, 0, 1, b'a', 1, b'b']), now),
        found("a", "b")
    );
}

#[test]
fn keys_links_and_debug() {
    assert_eq!(
        RecordingLinkSigner::new(vec![1u8; 31])
            .unwrap_err()
            .to_string(),
        "the recording link key is 31 bytes; it needs at least 32"
    );
    assert!(!format!("{:?}", signer()).contains("0123456789"));
    assert_eq!(
        link("https://deskline.example.com", "abc_-1"),
        "https://deskline.example.com/recordings/abc_-1"
    );
    assert_eq!(
        link("https://example.com/deskline/", "t"),
        "https://example.com/deskline/recordings/t"
    );
}

#[test]
fn settings() {
    #[derive(Debug, Deserialize)]
    struct Source {
        #[serde(default)]
        recordings: RecordingSettings,
    }
    let parse = |text: &str| toml::from_str::<Source>(text).map(|s| s.recordings);
    assert_eq!(parse("").expect("default"), RecordingSettings::default());
    assert_eq!(
        RecordingSettings::default().link,
        RecordingLinkMode::Provider
    );
    let deskline =
        parse("[recordings]\nlink = \"deskline\"\nlink_lifetime_days = 365").expect("parse");
    assert_eq!(deskline.link, RecordingLinkMode::Deskline);
    let now = utc(2025, 1, 1, 0, 0, 0);
    assert_eq!(deskline.expires_at(now), Some(utc(2026, 1, 1, 0, 0, 0)));
    assert!(deskline.validate().is_ok());
    let forever = parse("[recordings]\nlink = \"deskline\"").expect("parse");
    assert_eq!(forever.expires_at(now), None);
    for (bad, mention) in [
        ("[recordings]\nlink = \"s3\"", "s3"),
        ("[recordings]\nlifetime_days = 3", "lifetime_days"),
    ] {
        let err = parse(bad).expect_err(bad).to_string();
        assert!(err.contains(mention), "{bad:?}: {err}");
    }
    for (days, mention) in [(0, "is 0"), (MAX_LIFETIME_DAYS + 1, "above")] {
        let settings = RecordingSettings {
            link: RecordingLinkMode::Deskline,
            link_lifetime_days: Some(days),
        };
        let errors = settings.validate().unwrap_err();
        assert!(
            errors[0].starts_with("recordings.link_lifetime_days"),
            "{errors:?}"
        );
        assert!(errors[0].contains(mention), "{errors:?}");
    }
    let max = RecordingSettings {
        link: RecordingLinkMode::Deskline,
        link_lifetime_days: Some(u32::MAX),
    };
    assert_eq!(
        max.expires_at(utc(2025, 1, 1, 0, 0, 0)),
        None,
        "overflow never panics"
    );
}

fn expiry() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    // Seconds from 1970 to about 2100.
    proptest::option::of(
        (0i64..4_102_444_800).prop_map(|secs| DateTime::from_timestamp(secs, 0).expect("in range")),
    )
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(
        source in "[a-z0-9_-]{1,24}",
        call_id in any::<String>(),
        expires_at in expiry(),
    ) {
        let s = signer();
        let token = s.sign(&source, &call_id, expires_at);
        prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let before = expires_at.map_or_else(|| utc(2200, 1, 1, 0, 0, 0), |at| at - Duration::seconds(1));
        prop_assert_eq!(
            s.verify(&token, before),
            Ok(RecordingRef { source: source.clone(), call_id: call_id.clone() })
        );
        if let Some(at) = expires_at {
            prop_assert_eq!(s.verify(&token, at), Err(LinkError::Expired(at)));
        }
    }

    #[test]
    fn any_changed_character_is_rejected(
        call_id in ".{0,40}",
        expires_at in expiry(),
        index in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. %"
                .chars()
                .collect::<Vec<char>>(),
        ),
    ) {
        let s = signer();
        let token = s.sign("myoperator", &call_id, expires_at);
        let mut chars: Vec<char> = token.chars().collect();
        let i = index.index(chars.len());
        prop_assume!(chars[i] != replacement);
        chars[i] = replacement;
        let tampered: String = chars.into_iter().collect();
        prop_assert!(s.verify(&tampered, utc(1970, 1, 1, 0, 0, 0)).is_err());
    }

    #[test]
    fn any_changed_byte_is_rejected(
        call_id in ".{0,40}",
        expires_at in expiry(),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let s = signer();
        let mut bytes = URL_SAFE_NO_PAD
            .decode(s.sign("myoperator", &call_id, expires_at))
            .expect("own token decodes");
        let i = index.index(bytes.len());
        bytes[i] ^= flip;
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert_eq!(
            s.verify(&tampered, utc(1970, 1, 1, 0, 0, 0)),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn junk_never_panics_and_never_verifies(text in any::<String>(), bytes in any::<Vec<u8>>()) {
        let s = signer();
        let now = utc(2025, 1, 1, 0, 0, 0);
        prop_assert!(s.verify(&text, now).is_err());
        prop_assert!(s.verify(&URL_SAFE_NO_PAD.encode(&bytes), now).is_err());
    }
}
