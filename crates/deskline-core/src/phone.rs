//! Phone numbers as they arrive from providers, normalised to E.164.

use std::fmt;
use std::str::FromStr;

use rlibphonenumber::{PhoneNumber, PhoneNumberFormat, Region};
use serde::{Deserialize, Serialize};

/// A phone number in E.164 (`+919876543210`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// The E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a provider told us about one end of a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PartyNumber {
    /// A number the phone-number metadata calls valid, in E.164.
    Known {
        /// The number in E.164.
        phone: Phone,
    },
    /// The caller withheld the number, or the network did not pass it on.
    Withheld,
    /// Something that is not a phone number; kept as sent for the note.
    Unparseable {
        /// The text as the provider sent it.
        raw: String,
    },
}

impl PartyNumber {
    /// The E.164 number, when known.
    pub fn phone(&self) -> Option<&Phone> {
        match self {
            PartyNumber::Known { phone } => Some(phone),
            _ => None,
        }
    }

    /// Text for subjects and notes.
    pub fn display(&self) -> String {
        match self {
            PartyNumber::Known { phone } => phone.to_string(),
            PartyNumber::Withheld => "withheld number".to_string(),
            PartyNumber::Unparseable { raw } => format!("unrecognised number {raw:?}"),
        }
    }
}

/// Why a default region was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a two-letter region code such as IN, US or GB")]
pub struct UnknownRegion(pub String);

/// Words providers use for a number they will not show.
const WITHHELD_MARKERS: &[&str] = &[
    "anonymous",
    "private",
    "withheld",
    "restricted",
    "unknown",
    "unavailable",
    "blocked",
    "null",
    "none",
    "not available",
    "n/a",
];

/// Normalises numbers with a default region for numbers given without a country code.
#[derive(Clone, Debug)]
pub struct PhoneParser {
    region: Region,
    region_code: String,
}

impl PhoneParser {
    /// A parser for numbers dialled in `region_code` (ISO 3166 alpha-2, e.g. `IN`).
    pub fn new(region_code: &str) -> Result<PhoneParser, UnknownRegion> {
        let code = region_code.trim().to_ascii_uppercase();
        let region = Region::from_str(&code).map_err(|_| UnknownRegion(region_code.to_string()))?;
        Ok(PhoneParser {
            region,
            region_code: code,
        })
    }

    /// The default region's code.
    pub fn region_code(&self) -> &str {
        &self.region_code
    }

    /// Classifies and normalises one number as a provider sent it.
    pub fn parse(&self, raw: &str) -> PartyNumber {
        let trimmed = raw.trim();
        let lowered = trimmed.to_ascii_lowercase();
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        if trimmed.is_empty()
            || WITHHELD_MARKERS.contains(&lowered.as_str())
            || (!digits.is_empty() && digits.chars().all(|c| c == '0') && trimmed.len() < 6)
            || (digits.is_empty() && trimmed.chars().all(|c| "+-() ".contains(c)))
        {
            return PartyNumber::Withheld;
        }
        // "00" is the international prefix in most regions; libphonenumber handles it per
        // region, but some providers send "+00…" which it would not.
        let candidate = trimmed
            .strip_prefix("+00")
            .map_or_else(|| trimmed.to_string(), |rest| format!("+{rest}"));
        match PhoneNumber::parse(&candidate, Some(self.region))
            .ok()
            .and_then(|number| fixed_point(&number))
        {
            Some(phone) => PartyNumber::Known { phone },
            None => PartyNumber::Unparseable {
                raw: trimmed.to_string(),
            },
        }
    }
}

/// The most digits E.164 allows, country code included.
const E164_MAX_DIGITS: usize = 15;

/// The E.164 form of a number, when deskline may use it as an identity.
///
/// Only numbers the library calls valid qualify: a merely possible one (a run of zeros behind
/// a trunk prefix) can lose a digit each time it is read, and then one caller becomes two
/// cache keys and two Zendesk users. The result must also fit E.164 and read back as itself,
/// so whatever deskline stores parses to the same text in any region.
fn fixed_point(number: &PhoneNumber) -> Option<Phone> {
    if !number.is_valid() {
        return None;
    }
    let e164 = number.format_as(PhoneNumberFormat::E164).into_owned();
    if e164.len() > E164_MAX_DIGITS + 1 {
        return None;
    }
    // With a leading "+" the default region plays no part, so any region reads it alike.
    let again = PhoneNumber::parse(&e164, None).ok()?;
    (again.is_valid() && again.format_as(PhoneNumberFormat::E164) == e164).then_some(Phone(e164))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn known(s: &str) -> PartyNumber {
        PartyNumber::Known {
            phone: Phone(s.to_string()),
        }
    }

    #[test]
    fn normalises_the_shapes_providers_send() {
        let india = PhoneParser::new("in").expect("region");
        let cases = [
            ("+919711636496", known("+919711636496")),
            ("9711636496", known("+919711636496")),
            ("09711636496", known("+919711636496")),
            ("+91 97116 36496", known("+919711636496")),
            ("0091-9711636496", known("+919711636496")),
            ("+0091 9711636496", known("+919711636496")),
            ("+14155550100", known("+14155550100")),
            ("", PartyNumber::Withheld),
            ("  ", PartyNumber::Withheld),
            ("Anonymous", PartyNumber::Withheld),
            ("PRIVATE", PartyNumber::Withheld),
            ("withheld", PartyNumber::Withheld),
            ("+", PartyNumber::Withheld),
            ("0", PartyNumber::Withheld),
            ("abc", PartyNumber::Unparseable { raw: "abc".into() }),
            ("12", PartyNumber::Unparseable { raw: "12".into() }),
        ];
        for (raw, expected) in cases {
            assert_eq!(india.parse(raw), expected, "{raw:?}");
        }
        let us = PhoneParser::new("US").expect("region");
        assert_eq!(us.parse("(415) 555-0100"), known("+14155550100"));
    }

    #[test]
    fn numbers_the_library_calls_invalid_are_unparseable() {
        let cases = [
            ("IN", "+15551234567"),
            ("US", "555-123-4567"),
            ("DE", "0000011"),
            ("DE", "+49000011"),
            ("IN", "+9100000000000"),
        ];
        for (region, raw) in cases {
            let parser = PhoneParser::new(region).expect("region");
            assert_eq!(
                parser.parse(raw),
                PartyNumber::Unparseable { raw: raw.into() },
                "{raw:?} in {region}"
            );
        }
    }

    /// Every region the library knows, so a fixed point is checked wherever a caller dials from.
    fn all_regions() -> Vec<PhoneParser> {
        rlibphonenumber::PHONE_NUMBER_UTIL
            .get_supported_regions()
            .map(|region| PhoneParser::new(&region.to_string()).expect("a supported region"))
            .collect()
    }

    fn assert_fixed_point(regions: &[PhoneParser], produced: &Phone) {
        let e164 = produced.as_str();
        let digits = e164.strip_prefix('+').unwrap_or_default();
        assert!(
            (2..=15).contains(&digits.len())
                && digits.chars().all(|c| c.is_ascii_digit())
                && !digits.starts_with('0'),
            "{e164:?} is not E.164"
        );
        for parser in regions {
            assert_eq!(
                parser.parse(e164),
                PartyNumber::Known {
                    phone: produced.clone()
                },
                "{e164:?} read again in {}",
                parser.region_code()
            );
        }
    }

    #[test]
    fn a_number_deskline_produced_reads_back_as_itself() {
        let regions = all_regions();
        let de = PhoneParser::new("DE").expect("region");
        for raw in ["030 1234567", "+49 30 1234567", "0049301234567"] {
            assert_eq!(de.parse(raw), known("+49301234567"), "{raw:?}");
        }
        assert_fixed_point(&regions, &Phone("+49301234567".into()));
        // Once read as +49000011, then +4900011, then +490011: one caller, three keys.
        assert!(de.parse("0000011").phone().is_none());
    }

    /// Text shaped like what providers send: prefixes, separators, and digits of any length.
    fn phone_like() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                Just(""),
                Just("+"),
                Just("00"),
                Just("0"),
                Just("+00"),
                Just("+0")
            ],
            proptest::collection::vec(
                (
                    // Zeros weighted up: runs of them are where trunk and international
                    // prefixes get stripped twice.
                    prop_oneof![2 => Just('0'), 3 => proptest::char::range('0', '9')],
                    prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("-")],
                ),
                0..18,
            ),
        )
            .prop_map(|(prefix, parts)| {
                let mut text = prefix.to_string();
                for (digit, separator) in parts {
                    text.push(digit);
                    text.push_str(separator);
                }
                text
            })
    }

    proptest! {
        #[test]
        fn known_numbers_are_e164_fixed_points(
            raw in prop_oneof![phone_like(), any::<String>()],
            region in prop_oneof![
                Just("IN"), Just("US"), Just("DE"), Just("GB"), Just("IT"), Just("FR"),
                Just("BR"), Just("AU"), Just("SG"), Just("AE"), Just("MX"), Just("CI"),
            ],
        ) {
            let parser = PhoneParser::new(region).expect("region");
            if let PartyNumber::Known { phone } = parser.parse(&raw) {
                let sample: Vec<PhoneParser> = ["IN", "US", "DE", "GB", "IT", "JP", "CI"]
                    .iter()
                    .map(|code| PhoneParser::new(code).expect("region"))
                    .chain(std::iter::once(parser.clone()))
                    .collect();
                assert_fixed_point(&sample, &phone);
            }
        }
    }

    #[test]
    fn unknown_regions_are_named() {
        let err = PhoneParser::new("XX1").unwrap_err();
        assert!(err.to_string().contains("XX1"));
    }
}
