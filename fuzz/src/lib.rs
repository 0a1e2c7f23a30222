//! Shared pieces of deskline's fuzz targets: the input framing and the invariants every
//! parsed call must hold.
//!
//! An input is `meta`, then `\n%%\n`, then the body (some targets take more parts, each after
//! another `\n%%\n`). `meta` is lines of `name: value`: `region`, `url`, `secret`, `secret2`,
//! `time_zone` are settings; every other line is a request header (name lower-cased). Seeds
//! stay readable, and libFuzzer's comparison tracing learns the separator quickly.

use deskline_core::call::{CallRecord, Direction};
use deskline_core::event::{CallEvent, ParsedEvent};
use deskline_core::phone::{PartyNumber, PhoneParser};

/// What separates the parts of an input.
pub const SEPARATOR: &[u8] = b"\n%%\n";

/// Regions the fixed-point check re-reads a number in, and the choices for `region:`.
pub const REGIONS: &[&str] = &["IN", "US", "GB", "DE", "AU", "BR", "AE", "SG", "ZA", "FR"];

/// The first `n - 1` separators cut the input; the last part keeps the rest as it is.
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    while out.len() < n {
        out.push(&[]);
    }
    out
}

/// The settings and headers of an input's first part.
#[derive(Debug, Default)]
pub struct Meta {
    /// `region:`, else `IN`.
    pub region: String,
    /// `url:`, else a plausible webhook URL.
    pub url: String,
    /// `secret:` (the secret a request is signed with).
    pub secret: String,
    /// `secret2:` (the other secret a request is checked with).
    pub secret2: String,
    /// `time_zone:`.
    pub time_zone: Option<String>,
    /// Every other line, as a header with a lower-case name.
    pub headers: Vec<(String, String)>,
}

impl Meta {
    /// Reads `name: value` lines; lines without a colon are ignored.
    pub fn read(bytes: &[u8]) -> Meta {
        let text = String::from_utf8_lossy(bytes);
        let mut meta = Meta {
            region: "IN".to_string(),
            url: "https://deskline.example.com/hooks/source".to_string(),
            ..Meta::default()
        };
        for line in text.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.strip_prefix(' ').unwrap_or(value).to_string();
            match name.as_str() {
                "region" => meta.region = value,
                "url" => meta.url = value,
                "secret" => meta.secret = value,
                "secret2" => meta.secret2 = value,
                "time_zone" => meta.time_zone = Some(value),
                _ => meta.headers.push((name, value)),
            }
        }
        meta
    }

    /// The parser for `region:`; an unknown region falls back to India (the parser's own
    /// region check is not what these targets are about).
    pub fn phones(&self) -> PhoneParser {
        PhoneParser::new(&self.region)
            .or_else(|_| PhoneParser::new("IN"))
            .expect("IN is a region")
    }

    /// Two different secrets as an operator would configure them: `secret:` and `secret2:`
    /// reduced to printable ASCII without spaces (secrets come from environment variables
    /// and TOML strings, and the verifiers trim what the request carries), never empty, and
    /// never equal.
    pub fn secrets(&self) -> (String, String) {
        let clean = |s: &str, fallback: &str| {
            let c: String = s
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(80)
                .collect();
            if c.is_empty() {
                fallback.to_string()
            } else {
                c
            }
        };
        let a = clean(&self.secret, "secret-a");
        let mut b = clean(&self.secret2, "secret-b");
        if b == a {
            b.push('x');
        }
        (a, b)
    }
}

/// Checks one end of a call: a known number is E.164 (`+`, then 1–15 digits, the first not 0)
/// and reads back as itself in every region; an unrecognised one is kept trimmed and non-empty.
pub fn check_party(n: &PartyNumber) {
    match n {
        PartyNumber::Known { phone } => {
            let s = phone.as_str();
            assert!(is_e164(s), "a known number is not E.164: {s:?}");
            for region in REGIONS {
                let again = PhoneParser::new(region).expect("region").parse(s);
                assert_eq!(
                    &again, n,
                    "{s:?} is not a fixed point: read in {region} it is {again:?}"
                );
            }
        }
        PartyNumber::Withheld => {}
        PartyNumber::Unparseable { raw } => {
            assert!(!raw.is_empty(), "an unrecognised number is empty");
            assert_eq!(raw.trim(), raw, "an unrecognised number is not trimmed");
        }
    }
}

/// `+`, then 1 to 15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (1..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Checks a finished call: its numbers, its id, and who is the customer by direction.
pub fn check_record(r: &CallRecord) {
    check_party(&r.customer);
    if let Some(line) = &r.line {
        check_party(line);
    }
    assert!(!r.call_id.is_empty(), "a call without an id");
    // `from`/`to` pick from the same two numbers by direction.
    match r.direction {
        Direction::Inbound => assert_eq!(r.from(), Some(&r.customer)),
        Direction::Outbound => assert_eq!(r.to(), Some(&r.customer)),
    }
}

/// Checks every event a source returned.
pub fn check_events(events: &[ParsedEvent]) {
    for e in events {
        assert!(!e.dedupe_key.is_empty(), "an event without a dedupe key");
        assert!(!e.event.call_id().is_empty(), "an event without a call id");
        match &e.event {
            CallEvent::Started(s) => {
                check_party(&s.customer);
                if let Some(line) = &s.line {
                    check_party(line);
                }
            }
            CallEvent::Answered(_) | CallEvent::Disposition(_) => {}
            CallEvent::Ended(r) => check_record(r),
        }
        // Events are stored as JSON and read back by the worker.
        let json = serde_json::to_string(&e).expect("an event serialises");
        let back: ParsedEvent = serde_json::from_str(&json).expect("an event reads back");
        assert_eq!(&back, e, "an event does not survive storage");
    }
}
