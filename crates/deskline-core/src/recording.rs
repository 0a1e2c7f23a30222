//! Stable recording links. Providers' own links expire (MyOperator's download links after
//! 24 hours) or need a login (its panel links), so deskline can put a link of its own in the
//! ticket, `{public_url}/recordings/{token}`, which fetches a fresh provider link when opened.
//! The token is signed, so only links deskline made open anything. Pure: the time is passed in.
//!
//! Configured per source:
//!
//! ```toml
//! [sources.myoperator.recordings]
//! link = "deskline"          # "provider" (the default) keeps the provider's link
//! link_lifetime_days = 365   # optional; absent, deskline's link never expires
//! ```
//!
//! The token is `base64url(payload ‖ tag)` without padding, where the payload is
//!
//! ```text
//! 0x01                      format version
//! 0x00 | 0x01               expiry absent | present
//! [i64 big-endian]          expiry, Unix seconds, when present
//! LEB128 length ‖ UTF-8     source name
//! LEB128 length ‖ UTF-8     provider call id
//! ```
//!
//! and the tag is HMAC-SHA256 under the link key over `"deskline recording link\0" ‖ payload`.
//! Links already in tickets must keep working: the format is pinned by a test.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"deskline recording link\0";
const TAG_BYTES: usize = 32;

/// Shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Longest token [`RecordingLinkSigner::verify`] looks at; anything longer is malformed.
pub const MAX_TOKEN_CHARS: usize = 4096;

/// Longest `link_lifetime_days` accepted (100 years).
pub const MAX_LIFETIME_DAYS: u32 = 36_500;

/// `[recordings]`: which link the ticket gets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingSettings {
    /// The provider's link, or deskline's stable one.
    pub link: RecordingLinkMode,
    /// Days deskline's link stays valid after it is made; `None` never expires.
    pub link_lifetime_days: Option<u32>,
}

/// Which link to a recording the ticket gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingLinkMode {
    /// The link the provider sent, as is.
    #[default]
    Provider,
    /// deskline's signed link, which fetches a fresh provider link when opened.
    Deskline,
}

impl RecordingSettings {
    /// Problems with the settings, each naming the key and the fix.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        match self.link_lifetime_days {
            Some(0) => Err(vec![
                "recordings.link_lifetime_days is 0, so every link would be expired; set a \
                 number of days, or remove the key for links that never expire"
                    .to_string(),
            ]),
            Some(days) if days > MAX_LIFETIME_DAYS => Err(vec![format!(
                "recordings.link_lifetime_days is {days}, above {MAX_LIFETIME_DAYS}; \
                 remove the key for links that never expire"
            )]),
            _ => Ok(()),
        }
    }

    /// When a link made at `now` expires; `None` when it never does.
    pub fn expires_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let days = self.link_lifetime_days?;
        now.checked_add_signed(Duration::days(i64::from(days)))
    }
}

/// The call a verified token names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRef {
    /// The configured source name.
    pub source: String,
    /// The provider's call id.
    pub call_id: String,
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token deskline could have made (bad base64, truncated, unknown version).
    #[error("the recording link is malformed")]
    Malformed,
    /// Well-formed, but not signed with this key (altered, or made with another key).
    #[error("the recording link's signature does not match")]
    BadSignature,
    /// Genuine, but past its expiry.
    #[error("the recording link expired at {0}")]
    Expired(DateTime<Utc>),
}

/// Why a key was refused.
#[derive(Debug, thiserror::Error)]
#[error("the recording link key is {0} bytes; it needs at least {MIN_KEY_BYTES}")]
pub struct WeakKey(pub usize);

/// Signs and verifies recording tokens with one secret key.
#[derive(Clone)]
pub struct RecordingLinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for RecordingLinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingLinkSigner")
            .field("key", &"<redacted>")
            .finish()
    }
}

impl RecordingLinkSigner {
    /// A signer for this key (at least [`MIN_KEY_BYTES`] bytes, e.g. a generated secret).
    pub fn new(key: impl Into<Vec<u8>>) -> Result<RecordingLinkSigner, WeakKey> {
        let key = key.into();
        if key.len() < MIN_KEY_BYTES {
            return Err(WeakKey(key.len()));
        }
        Ok(RecordingLinkSigner { key })
    }

    /// A URL-safe token naming this call's recording, valid until `expires_at` (to the
    /// second, rounded down) or for ever.
    pub fn sign(&self, source: &str, call_id: &str, expires_at: Option<DateTime<Utc>>) -> String {
        let mut bytes = vec![VERSION];
        match expires_at {
            Some(at) => {
                bytes.push(1);
                bytes.extend_from_slice(&at.timestamp().to_be_bytes());
            }
            None => bytes.push(0),
        }
        for text in [source, call_id] {
            push_varint(&mut bytes, text.len() as u64);
            bytes.extend_from_slice(text.as_bytes());
        }
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The call a token names, when this key signed it and it has not expired at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<RecordingRef, LinkError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(LinkError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| LinkError::Malformed)?;
        if bytes.len() < 2 + TAG_BYTES {
            return Err(LinkError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        // Constant-time comparison (hmac compares through `subtle`).
        self.mac(payload)
            .verify_slice(tag)
            .map_err(|_| LinkError::BadSignature)?;
        let (expires_at, found) = parse_payload(payload).ok_or(LinkError::Malformed)?;
        match expires_at {
            Some(at) if now >= at => Err(LinkError::Expired(at)),
            _ => Ok(found),
        }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; `new` has already refused short ones.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(DOMAIN);
        mac.update(payload);
        mac
    }
}

/// The stable link for a token: `{base_url}/recordings/{token}`.
pub fn link(base_url: &str, token: &str) -> String {
    format!("{}/recordings/{token}", base_url.trim_end_matches('/'))
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// A cursor over signed bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn text(&mut self) -> Option<String> {
        let len = usize::try_from(self.varint()?).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

fn parse_payload(payload: &[u8]) -> Option<(Option<DateTime<Utc>>, RecordingRef)> {
    let mut r = Reader(payload);
    if r.byte()? != VERSION {
        return None;
    }
    let expires_at = match r.byte()? {
        0 => None,
        1 => {
            let secs = i64::from_be_bytes(r.take(8)?.try_into().ok()?);
            Some(DateTime::from_timestamp(secs, 0)?)
        }
        _ => return None,
    };
    let source = r.text()?;
    let call_id = r.text()?;
    if !r.0.is_empty() {
        return None;
    }
    Some((expires_at, RecordingRef { source, call_id }))
}

#[cfg(test)]
mod tests;
