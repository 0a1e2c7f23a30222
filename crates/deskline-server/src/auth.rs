//! Authentication of inbound requests: a source's shared secret (a custom header or the
//! HTTP Basic password) and the admin bearer token. Comparisons are constant-time.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use base64::Engine;
use subtle::ConstantTimeEq;

use deskline_core::sources::{exotel, twilio, Inbound, VerifyError};

use crate::config::SourceKind;
use crate::http_error::HttpError;
use crate::state::Source;

/// Compares two secrets without leaking where they differ through timing.
pub fn secrets_equal(given: &[u8], expected: &[u8]) -> bool {
    // Hashing first would also hide the length; here the expected secret's length is not
    // sensitive (it is configuration, often a fixed-length random value).
    given.ct_eq(expected).into()
}

/// The credentials of the `Authorization` header when its scheme is `scheme`. Schemes are
/// case-insensitive (RFC 7235: `BEARER` and `basic` are as good as `Bearer` and `Basic`).
fn authorization_credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, credentials) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then_some(credentials.trim())
}

fn basic_password(headers: &HeaderMap) -> Option<Vec<u8>> {
    let credentials = authorization_credentials(headers, "basic")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some(decoded[colon + 1..].to_vec())
}

/// Checks a source's secret, sent in `header` or as the Basic auth password.
pub fn check_source_secret(
    headers: &HeaderMap,
    header: &str,
    expected: &str,
) -> Result<(), HttpError> {
    let given = headers
        .get(header)
        .map(|v| v.as_bytes().to_vec())
        .or_else(|| basic_password(headers));
    match given {
        None => Err(HttpError::unauthorized(format!(
            "missing credentials: send the source secret in the {header} header or as the HTTP Basic password"
        ))),
        Some(given) if secrets_equal(trim(&given), expected.as_bytes()) => Ok(()),
        Some(_) => Err(HttpError::unauthorized("the source secret is wrong")),
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// What a source's request still has to prove once its headers and URL are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyProof {
    /// The request is authenticated: its body is read up to `server.max_body_bytes`.
    NotNeeded,
    /// The proof is in the body (Twilio's signature covers it, Aircall's token is in it): the
    /// body is read up to the tighter `server.signed_max_body_bytes` and verified after.
    Pending,
}

/// Authenticates a source's request from what arrives before its body, so a request with a
/// wrong or missing secret is refused without reading (or buffering) its body: the secret
/// header, Basic auth or Exotel's `secret` URL parameter. A Twilio request without its
/// signature header is refused too; its signature itself, and Aircall's token, can only be
/// checked with the body.
pub fn check_source_before_body(
    source: &Source,
    headers: &HeaderMap,
    url: &str,
) -> Result<BodyProof, HttpError> {
    let secret = source.secret.as_str();
    match source.config.kind {
        SourceKind::Myoperator | SourceKind::Generic | SourceKind::Handoff => {
            check_source_secret(headers, &source.config.secret_header, secret)?;
            Ok(BodyProof::NotNeeded)
        }
        SourceKind::Exotel => {
            // Exotel signs nothing: a `secret` URL parameter, the secret header or Basic auth.
            let url_only = Inbound {
                body: &[],
                headers: &[],
                url,
            };
            if exotel::verify(&url_only, secret).is_err() {
                check_source_secret(headers, &source.config.secret_header, secret)?;
            }
            Ok(BodyProof::NotNeeded)
        }
        SourceKind::Twilio => {
            let signed = headers
                .get(twilio::SIGNATURE_HEADER)
                .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty());
            if signed {
                Ok(BodyProof::Pending)
            } else {
                Err(HttpError::unauthorized(format!(
                    "the request's {}",
                    VerifyError::Missing("X-Twilio-Signature header")
                )))
            }
        }
        SourceKind::Aircall => Ok(BodyProof::Pending),
    }
}

/// Checks `Authorization: Bearer <admin token>`.
pub fn check_admin(headers: &HeaderMap, expected: &str) -> Result<(), HttpError> {
    match authorization_credentials(headers, "bearer") {
        None => Err(HttpError::unauthorized(
            "missing credentials: send Authorization: Bearer <admin token>",
        )),
        Some(t) if secrets_equal(t.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(HttpError::unauthorized("the admin token is wrong")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn source_secret_in_a_header_or_basic_auth() {
        let secret = "s3cret-value-0123456789";
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("myoperator:{secret}"))
        );
        let cases: [(HeaderMap, bool); 6] = [
            (headers(&[("x-deskline-secret", secret)]), true),
            (
                headers(&[("x-deskline-secret", " s3cret-value-0123456789 ")]),
                true,
            ),
            (headers(&[("authorization", &basic)]), true),
            (headers(&[("x-deskline-secret", "wrong")]), false),
            (headers(&[("authorization", "Basic !!")]), false),
            (headers(&[]), false),
        ];
        for (h, ok) in cases {
            assert_eq!(
                check_source_secret(&h, "X-Deskline-Secret", secret).is_ok(),
                ok,
                "{h:?}"
            );
        }
        let missing = check_source_secret(&headers(&[]), "X-Deskline-Secret", secret).unwrap_err();
        assert!(missing.message.contains("X-Deskline-Secret"));
        let wrong = check_source_secret(
            &headers(&[("x-deskline-secret", "nope")]),
            "X-Deskline-Secret",
            secret,
        )
        .unwrap_err();
        assert!(
            !wrong.message.contains(secret),
            "the secret is never echoed"
        );
    }

    #[test]
    fn admin_bearer_token() {
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let value = format!("{scheme} t0k");
            assert!(check_admin(&headers(&[("authorization", &value)]), "t0k").is_ok());
        }
        assert!(check_admin(&headers(&[("authorization", "Bearer nope")]), "t0k").is_err());
        assert!(check_admin(&headers(&[("authorization", "Basic dDBr")]), "t0k").is_err());
        assert!(check_admin(&headers(&[]), "t0k").is_err());
    }
}
