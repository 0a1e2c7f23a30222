//! Zendesk webhook signatures (`X-Zendesk-Webhook-Signature` and
//! `X-Zendesk-Webhook-Signature-Timestamp`):
//! `signature = base64(HMAC-SHA256(key = signing secret, message = timestamp + raw body))`,
//! plain concatenation, the raw bytes of the body (empty when there is none).
//!
//! The timestamp is signed too, so refusing one outside a bounded skew stops replays of an
//! old, genuinely signed delivery.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook delivery is not accepted as coming from Zendesk. Messages never contain the
/// secret or the signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signing secret is configured; nothing could be verified.
    #[error(
        "no Zendesk webhook signing secret is configured: copy it from the webhook's page in \
         Admin Center (or GET /api/v2/webhooks/{{id}}/signing_secret) into the config"
    )]
    EmptySecret,
    /// The timestamp header is missing or not an ISO-8601 time.
    #[error("the webhook timestamp is not an ISO-8601 time")]
    BadTimestamp,
    /// The signature header is missing or not base64 of a SHA-256 MAC.
    #[error("the webhook signature is not a base64 HMAC-SHA256")]
    BadSignature,
    /// The signature does not match the secret, timestamp and body.
    #[error("the webhook signature does not match")]
    Mismatch,
    /// Correctly signed, but the timestamp is too far from now (a replay or a wrong clock).
    #[error("the webhook timestamp is {skew_secs}s away from now (at most {max_secs}s allowed)")]
    Skew {
        /// How far the timestamp is from now, in seconds.
        skew_secs: i64,
        /// The allowed skew, in seconds.
        max_secs: u64,
    },
}

/// The signature Zendesk would send for this timestamp and body (for tests and tools).
pub fn sign(secret: &Secret, timestamp: &str, raw_body: &[u8]) -> String {
    STANDARD.encode(mac(secret, timestamp, raw_body))
}

/// Checks a delivery's signature and timestamp against the signing secret.
pub fn verify(
    secret: &Secret,
    timestamp_header: &str,
    raw_body: &[u8],
    signature_header: &str,
    now: DateTime<Utc>,
    max_skew: Duration,
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let timestamp = timestamp_header.trim();
    let at = DateTime::parse_from_rfc3339(timestamp)
        .map_err(|_| SignatureError::BadTimestamp)?
        .with_timezone(&Utc);
    let given = STANDARD
        .decode(signature_header.trim())
        .map_err(|_| SignatureError::BadSignature)?;
    if given.len() != 32 {
        return Err(SignatureError::BadSignature);
    }
    // The header's exact text is what Zendesk signed, so the MAC uses it, not a reformatting.
    let expected = mac(secret, timestamp, raw_body);
    if !bool::from(expected.as_slice().ct_eq(given.as_slice())) {
        return Err(SignatureError::Mismatch);
    }
    let skew = (now - at).num_seconds();
    let max_secs = max_skew.as_secs();
    if skew.unsigned_abs() > max_secs {
        return Err(SignatureError::Skew {
            skew_secs: skew,
            max_secs,
        });
    }
    Ok(())
}

fn mac(secret: &Secret, timestamp: &str, raw_body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail; an empty key still yields a MAC
    // (verify refuses an empty secret before getting here).
    let mut m = match HmacSha256::new_from_slice(secret.expose().as_bytes()) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(timestamp.as_bytes());
    m.update(raw_body);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SKEW: Duration = Duration::from_secs(300);

    fn at(ts: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(ts)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn known_vector() {
        // Independent computation: printf '%s' '2021-03-25T05:09:27Z{"a":1}' |
        //   openssl dgst -sha256 -hmac 'dGVzdA' -binary | base64
        let secret = Secret::new("dGVzdA");
        let sig = sign(&secret, "2021-03-25T05:09:27Z", br#"{"a":1}"#);
        assert_eq!(sig, "LvdhhcZpcybuAH1PHe+NmqrsYQzGN9XFe9EGetuWSu4=");
    }

    #[test]
    fn refusals() {
        let secret = Secret::new("s3cret");
        let ts = "2026-05-01T10:00:00Z";
        let body = br#"{"ticket_id":"1"}"#;
        let sig = sign(&secret, ts, body);
        let now = at(ts);
        assert_eq!(verify(&secret, ts, body, &sig, now, SKEW), Ok(()));
        assert_eq!(
            verify(&Secret::new(""), ts, body, &sig, now, SKEW),
            Err(SignatureError::EmptySecret)
        );
        assert_eq!(
            verify(&secret, "1619327367", body, &sig, now, SKEW),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&secret, ts, body, "not base64!", now, SKEW),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify(&secret, ts, body, "", now, SKEW),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify(&Secret::new("other"), ts, body, &sig, now, SKEW),
            Err(SignatureError::Mismatch)
        );
        let later = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify(&secret, ts, body, &sig, later, SKEW),
            Err(SignatureError::Skew {
                skew_secs: 301,
                max_secs: 300
            })
        );
        let earlier = now - chrono::Duration::seconds(301);
        assert!(matches!(
            verify(&secret, ts, body, &sig, earlier, SKEW),
            Err(SignatureError::Skew { .. })
        ));
        let edge = now + chrono::Duration::seconds(300);
        assert_eq!(verify(&secret, ts, body, &sig, edge, SKEW), Ok(()));
        // The message never shows the secret or signature.
        let msg = verify(&secret, ts, b"x", &sig, now, SKEW)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!msg.contains("s3cret") && !msg.contains(&sig));
    }

    fn timestamp() -> impl Strategy<Value = (String, DateTime<Utc>)> {
        (0i64..4_000_000_000).prop_map(|secs| {
            let t = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            (t.format("%Y-%m-%dT%H:%M:%SZ").to_string(), t)
        })
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(
            secret in "[ -~]{1,64}",
            (ts, now) in timestamp(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
            drift in -300i64..=300,
        ) {
            let secret = Secret::new(secret);
            let sig = sign(&secret, &ts, &body);
            let now = now + chrono::Duration::seconds(drift);
            prop_assert_eq!(verify(&secret, &ts, &body, &sig, now, SKEW), Ok(()));
        }

        #[test]
        fn any_bit_flip_fails(
            secret in "[ -~]{1,64}",
            (ts, now) in timestamp(),
            body in proptest::collection::vec(any::<u8>(), 1..256),
            which in 0usize..4,
            pos in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let secret = Secret::new(secret);
            let sig = sign(&secret, &ts, &body);
            let flip = |bytes: &mut Vec<u8>| {
                let i = pos.index(bytes.len());
                bytes[i] ^= 1 << bit;
            };
            let result = match which {
                // The body.
                0 => {
                    let mut b = body.clone();
                    flip(&mut b);
                    verify(&secret, &ts, &b, &sig, now, SKEW)
                }
                // The signature's bytes, re-encoded.
                1 => {
                    let mut raw = STANDARD.decode(&sig).unwrap_or_default();
                    flip(&mut raw);
                    verify(&secret, &ts, &body, &STANDARD.encode(&raw), now, SKEW)
                }
                // The signature header's text.
                2 => {
                    let mut text = sig.clone().into_bytes();
                    flip(&mut text);
                    let text = String::from_utf8_lossy(&text).into_owned();
                    verify(&secret, &ts, &body, &text, now, SKEW)
                }
                // The timestamp header's text.
                _ => {
                    let mut text = ts.clone().into_bytes();
                    flip(&mut text);
                    let text = String::from_utf8_lossy(&text).into_owned();
                    verify(&secret, &text, &body, &sig, now, SKEW)
                }
            };
            prop_assert!(result.is_err());
        }
    }
}
