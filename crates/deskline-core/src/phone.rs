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
    /// A number that parsed and has a plausible length.
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
        match PhoneNumber::parse(&candidate, Some(self.region)) {
            Ok(number) if number.is_possible_with_reason().is_ok() => PartyNumber::Known {
                phone: Phone(number.format_as(PhoneNumberFormat::E164).into_owned()),
            },
            _ => PartyNumber::Unparseable {
                raw: trimmed.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            // Lenient on purpose: a plausible length is enough, so test ranges and numbers
            // newer than the metadata still work as identities.
            ("+15551234567", known("+15551234567")),
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
    fn unknown_regions_are_named() {
        let err = PhoneParser::new("XX1").unwrap_err();
        assert!(err.to_string().contains("XX1"));
    }
}
