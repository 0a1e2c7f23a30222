//! Epoch times as providers send them, and error messages that quote them as sent.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// Above this a number is read as milliseconds: some providers' fields (MyOperator's `_ms`)
/// carry them, and some relays turn Aircall's seconds into milliseconds.
const MILLIS_ABOVE: i64 = 100_000_000_000;

/// Epoch seconds or milliseconds as a time.
pub(crate) fn seconds_or_millis(n: i64) -> Result<DateTime<Utc>, EpochError> {
    let secs = if n > MILLIS_ABOVE { n / 1000 } else { n };
    if secs <= 0 {
        return Err(EpochError::NotATime);
    }
    Utc.timestamp_opt(secs, 0)
        .single()
        .ok_or(EpochError::OutOfRange)
}

/// Why a whole number is not an epoch time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EpochError {
    /// Zero or negative.
    NotATime,
    /// Past the last time chrono can hold.
    OutOfRange,
}

impl EpochError {
    /// The reason for an invalid-field error, quoting the value `sent` (not the number as
    /// read, which may have been scaled from milliseconds or clamped to 64 bits).
    pub(crate) fn reason(self, sent: &Value) -> String {
        let sent = as_sent(sent);
        match self {
            EpochError::NotATime => format!("{sent} is not a time"),
            EpochError::OutOfRange => format!("{sent} is out of range"),
        }
    }
}

/// A value as the provider sent it, for error messages: strings quoted, integers digit for
/// digit (floats in JSON's canonical notation, the same value).
pub(crate) fn as_sent(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
