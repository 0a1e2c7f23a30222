//! Source adapters: a provider's request body and content type in, a normalised event out.

pub mod aircall;
mod epoch;
pub mod exotel;
pub mod generic;
pub mod myoperator;
pub mod redact;
pub mod twilio;

/// A provider's HTTP request as a source adapter sees it.
#[derive(Clone, Copy, Debug)]
pub struct Inbound<'a> {
    /// The raw body.
    pub body: &'a [u8],
    /// Headers with lower-case names, as received.
    pub headers: &'a [(String, String)],
    /// The full URL the provider called (scheme, host, path and query), as the provider saw
    /// it (behind a proxy: the public URL); signature schemes such as Twilio's sign it.
    pub url: &'a str,
}

impl<'a> Inbound<'a> {
    /// The URL's query string, without the `?`; empty when it has none.
    pub fn query(&self) -> &'a str {
        url_query(self.url)
    }

    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&'a str> {
        self.header("content-type")
    }
}

/// The query string of `url` (without the `?`), empty when it has none. The fragment is cut
/// off first: a `?` inside it (`…#part?x=1`) starts no query.
pub fn url_query(url: &str) -> &str {
    let before_fragment = url.split_once('#').map_or(url, |(u, _)| u);
    before_fragment.split_once('?').map_or("", |(_, q)| q)
}

/// Why a provider-specific signature or token check failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature or token is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// The signature or token does not match.
    #[error("{0} does not match")]
    Mismatch(&'static str),
}

/// Why a provider's request could not be turned into an event. Each message names the
/// problem precisely enough for the provider's operator to fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    /// The body is empty.
    #[error("the request body is empty")]
    Empty,
    /// The body is not JSON where JSON was expected.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The content type is not one the source accepts.
    #[error("unsupported content type {0:?}: send application/json or application/x-www-form-urlencoded")]
    UnsupportedContentType(String),
    /// The body has the wrong overall shape.
    #[error("{0}")]
    Shape(String),
    /// A required field is absent or empty.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field has a value that cannot be used.
    #[error("field {field} is invalid: {reason}")]
    InvalidField {
        /// The provider's field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A configured mapping (the generic source) cannot read this payload: the mapping key,
    /// and what its selector found.
    #[error("mapping.{key}: {reason}")]
    Mapping {
        /// The mapping key (`call_id`, `started_at`, …).
        key: String,
        /// What is wrong, naming the selector.
        reason: String,
    },
}

/// How a request body is encoded, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` (or a `+json` type, or none given).
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl BodyKind {
    /// Reads a `Content-Type` header value; a missing header means JSON.
    pub fn from_content_type(content_type: Option<&str>) -> Result<BodyKind, SourceError> {
        let Some(ct) = content_type else {
            return Ok(BodyKind::Json);
        };
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "" | "application/json" | "text/json" => Ok(BodyKind::Json),
            e if e.ends_with("+json") => Ok(BodyKind::Json),
            "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
            _ => Err(SourceError::UnsupportedContentType(ct.to_string())),
        }
    }
}

/// What a JSON value is (`a string`, `an array`, …), for error messages that say what was
/// expected and what came instead.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON body that must be one object: an empty body, a form body (`form_refusal` says
/// what is expected instead), malformed JSON or another JSON value (`what` names it, e.g.
/// "the webhook") are each their own error.
pub fn json_object_body(
    inbound: &Inbound<'_>,
    form_refusal: &str,
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, SourceError> {
    if inbound.body.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty);
    }
    if BodyKind::from_content_type(inbound.content_type())? == BodyKind::Form {
        return Err(SourceError::Shape(form_refusal.to_string()));
    }
    match serde_json::from_slice(inbound.body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(SourceError::Shape(format!(
            "expected {what} as a JSON object, got {}",
            json_kind(&other)
        ))),
        Err(e) => Err(SourceError::MalformedJson(e.to_string())),
    }
}
