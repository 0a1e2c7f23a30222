//! deskline's stable recording links (`[sources.NAME.recordings] link = "deskline"`).
//!
//! Providers' links go stale: MyOperator's download links expire after 24 hours and its panel
//! links need a login. So when a call ends, [`use_stable_link`] keeps the provider's link and
//! file name in the store and gives the ticket `{public_url}/recordings/{token}` instead, the
//! token signed by `deskline_core::recording`. Opening that link (`GET /recordings/{token}`)
//! verifies the token and redirects (302) to a fresh link: for MyOperator with an API token,
//! one from its pull API (`GET {api_url}/recordings/link?token=…&file=…`); otherwise the link
//! the provider sent.
//!
//! The API token is a credential: it never appears in a log line or an answer (reqwest's
//! errors carry the request URL, which holds it, so they are stripped of it first).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use deskline_core::call::CallRecord;
use deskline_core::recording::{self, RecordingLinkSigner};
use deskline_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{MyOperatorPull, ResolvedSource};
use crate::http_error::HttpError;
use crate::state::AppState;
use crate::worker::call_ticket::call_link_key;

/// Link kind: `{source}:{call id}` → the provider's recording, JSON `{url, file_name}`.
pub const CALL_RECORDING_LINK: &str = "call_recording";
/// Link kind: `{source}:{call id}` → the last fresh link fetched, JSON `{url, file, fetched_at}`.
pub const FRESH_RECORDING_LINK: &str = "call_recording_fresh";

/// A fresh MyOperator link is valid for 24 hours; reusing it for half of that spares the
/// API's small quota (20 requests a minute, 500 a day) and still leaves the listener 12 hours.
const REUSE_FRESH_LINK_HOURS: i64 = 12;
/// One call to the provider's API; the agent is waiting on the redirect.
const API_TIMEOUT: Duration = Duration::from_secs(10);
const API_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An answer holding one link is small; anything bigger is not what we asked for.
const MAX_API_ANSWER_BYTES: usize = 64 * 1024;
/// Keys that may hold the link in MyOperator's answer, whose shape is not documented.
const LINK_KEYS: [&str; 3] = ["url", "link", "download_url"];

/// The signer and the HTTP client behind deskline's recording links.
#[derive(Debug)]
pub struct RecordingLinks {
    signer: RecordingLinkSigner,
    http: reqwest::Client,
}

impl RecordingLinks {
    /// Links signed with `key` (at least 32 bytes).
    pub fn new(key: &str) -> Result<RecordingLinks, String> {
        let signer = RecordingLinkSigner::new(key.as_bytes()).map_err(|e| {
            format!("{e} (server.recording_link_key, or the generated secrets file's key)")
        })?;
        let http = reqwest::Client::builder()
            .timeout(API_TIMEOUT)
            .connect_timeout(API_CONNECT_TIMEOUT)
            // A redirect from the API is taken as the link itself, never followed: following
            // it would download the recording.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("deskline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for recording links: {e}"))?;
        Ok(RecordingLinks { signer, http })
    }

    /// The signer.
    pub fn signer(&self) -> &RecordingLinkSigner {
        &self.signer
    }
}

/// What [`CALL_RECORDING_LINK`] holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredRecording {
    /// The link the provider sent.
    pub url: String,
    /// The provider's file name, which its API needs for a fresh link.
    pub file_name: Option<String>,
}

/// What [`FRESH_RECORDING_LINK`] holds.
#[derive(Debug, Serialize, Deserialize)]
struct FreshLink {
    url: String,
    file: String,
    fetched_at: DateTime<Utc>,
}

/// The recording routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/recordings/{token}", get(open))
}

/// For a source with `link = "deskline"`: stores the call's recording and replaces its URL,
/// and so the one the ticket's field, note and voice comment get, with deskline's stable link.
/// Called by the worker before it plans the ticket.
pub(crate) async fn use_stable_link(
    state: &AppState,
    source: &ResolvedSource,
    call: &mut CallRecord,
) -> Result<(), StoreError> {
    if !source.recordings.deskline_links() {
        return Ok(());
    }
    let Some(rec) = call.recording.as_mut() else {
        return Ok(());
    };
    if rec.url.trim().is_empty() && rec.file_name.as_deref().is_none_or(str::is_empty) {
        return Ok(());
    }
    // Validation requires a public URL and `app::start` a key for deskline links, so neither
    // is missing here; if one were, the provider's link beats a link that cannot work.
    let (Some(links), Some(base)) = (&state.recording_links, &state.public_url) else {
        tracing::warn!(
            source = %source.name,
            "deskline recording links are on but the key or server.public_url is missing; \
             the ticket gets the provider's link"
        );
        return Ok(());
    };
    let now = state.clock.now();
    let stored = json!({"url": rec.url, "file_name": rec.file_name}).to_string();
    let key = call_link_key(&source.name, &call.call_id);
    state
        .store
        .put_link(CALL_RECORDING_LINK, &key, &stored, now)
        .await?;
    let expires_at = source.recordings.settings.expires_at(now);
    let token = links.signer.sign(&source.name, &call.call_id, expires_at);
    rec.url = recording::link(base, &token);
    Ok(())
}

/// The one answer for every link that opens nothing: telling a forged link from an expired
/// one, or from one whose call is unknown, would help only someone guessing links.
fn invalid_link() -> HttpError {
    HttpError::not_found("invalid_link", "invalid or expired link")
}

async fn open(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match fresh_url(&state, &token).await {
        Ok(url) => match HeaderValue::from_str(&url) {
            Ok(location) => {
                let mut response = StatusCode::FOUND.into_response();
                let headers = response.headers_mut();
                headers.insert(LOCATION, location);
                // The target expires, so no cache may keep this redirect.
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(_) => {
                bad_gateway("the provider's recording link is not a valid URL").into_response()
            }
        },
        Err(e) => e.into_response(),
    }
}

fn bad_gateway(message: impl Into<String>) -> HttpError {
    HttpError::new(StatusCode::BAD_GATEWAY, "recording_unavailable", message)
}

fn storage(e: &StoreError) -> HttpError {
    tracing::error!(error = %e, "storage failure while opening a recording link");
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        "the recording could not be looked up; retry later",
    )
}

/// Where the link's recording is now.
async fn fresh_url(state: &AppState, token: &str) -> Result<String, HttpError> {
    let links = state.recording_links.as_ref().ok_or_else(invalid_link)?;
    let found = links.signer.verify(token, state.clock.now()).map_err(|e| {
        tracing::debug!(reason = %e, "recording link refused");
        invalid_link()
    })?;
    let key = call_link_key(&found.source, &found.call_id);
    let link = state
        .store
        .get_link(CALL_RECORDING_LINK, &key)
        .await
        .map_err(|e| storage(&e))?
        .ok_or_else(invalid_link)?;
    let stored: StoredRecording = serde_json::from_str(&link.value).map_err(|e| {
        tracing::error!(link = %key, error = %e, "unreadable stored recording");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unreadable_recording",
            "the recording's stored details are unreadable",
        )
    })?;
    // A source removed since keeps its links working, on the link the provider sent.
    let pull = state
        .sources
        .get(&found.source)
        .and_then(|s| s.config.recordings.pull.as_ref());
    let file = stored
        .file_name
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    match (pull, file) {
        (Some(pull), Some(file)) => fetch_or_reuse(state, links, pull, &key, file).await,
        _ => web_url(&stored.url)
            .ok_or_else(|| bad_gateway("the provider sent no usable link for this recording")),
    }
}

/// A fresh link from the provider's API, or one fetched less than
/// [`REUSE_FRESH_LINK_HOURS`] ago.
async fn fetch_or_reuse(
    state: &AppState,
    links: &RecordingLinks,
    pull: &MyOperatorPull,
    key: &str,
    file: &str,
) -> Result<String, HttpError> {
    let now = state.clock.now();
    // The cache only saves API calls: when it cannot be read, ask the API.
    let cached = match state.store.get_link(FRESH_RECORDING_LINK, key).await {
        Ok(link) => link.and_then(|l| serde_json::from_str::<FreshLink>(&l.value).ok()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the fresh recording link cache");
            None
        }
    };
    if let Some(c) = cached {
        let age = now - c.fetched_at;
        if c.file == file
            && age >= chrono::Duration::zero()
            && age < chrono::Duration::hours(REUSE_FRESH_LINK_HOURS)
        {
            return Ok(c.url);
        }
    }
    let url = fetch_fresh_link(&links.http, pull, file)
        .await
        .map_err(|e| {
            tracing::warn!(link = %key, file, error = %e, "MyOperator's recording API failed");
            bad_gateway(format!(
                "MyOperator did not give a fresh recording link ({e}); try again in a minute"
            ))
        })?;
    let fresh = FreshLink {
        url: url.clone(),
        file: file.to_string(),
        fetched_at: now,
    };
    match serde_json::to_string(&fresh) {
        Ok(value) => {
            if let Err(e) = state
                .store
                .put_link(FRESH_RECORDING_LINK, key, &value, now)
                .await
            {
                tracing::warn!(error = %e, "cannot cache the fresh recording link");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot encode the fresh recording link"),
    }
    Ok(url)
}

/// Why the provider's API gave no link. Its text goes to the log and the 502 answer, so it
/// holds neither the API token nor the provider's own words (which could echo it).
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the request failed: {0}")]
    Transport(reqwest::Error),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("the answer is larger than {MAX_API_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("no link in the answer")]
    NoLink,
}

impl From<reqwest::Error> for FetchError {
    fn from(e: reqwest::Error) -> FetchError {
        // The URL holds the API token.
        FetchError::Transport(e.without_url())
    }
}

/// Asks MyOperator's pull API for a download link to `file`.
async fn fetch_fresh_link(
    http: &reqwest::Client,
    pull: &MyOperatorPull,
    file: &str,
) -> Result<String, FetchError> {
    let mut response = http
        .get(format!("{}/recordings/link", pull.api_url))
        .query(&[("token", pull.api_token.expose()), ("file", file)])
        .send()
        .await?;
    let status = response.status();
    if status.is_redirection() {
        return response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(web_url)
            .ok_or(FetchError::NoLink);
    }
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_API_ANSWER_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    link_in_answer(&body).ok_or(FetchError::NoLink)
}

/// The link in an answer of MyOperator's pull API. Its shape is not documented, so these are
/// accepted: `{"url": …}`, `{"link": …}`, `{"download_url": …}`, the same inside `"data"`
/// (`{"data": {"url": …}}`), `{"data": "…"}`, a JSON string, or the link as plain text.
pub fn link_in_answer(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => link_in_object(&map).or_else(|| match map.get("data") {
            Some(Value::Object(data)) => link_in_object(data),
            Some(Value::String(s)) => web_url(s),
            _ => None,
        }),
        Ok(Value::String(s)) => web_url(&s),
        Ok(_) => None,
        Err(_) => web_url(text),
    }
}

fn link_in_object(map: &serde_json::Map<String, Value>) -> Option<String> {
    LINK_KEYS
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str).and_then(web_url))
}

/// `text` when it is an absolute http(s) URL: deskline redirects browsers only to the web, never
/// to `javascript:` or other schemes a provider's payload could carry.
fn web_url(text: &str) -> Option<String> {
    let text = text.trim();
    let url = reqwest::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    // The text as given when it can travel in a header as it is: a presigned link's signature
    // covers its exact form. Otherwise the parsed form, which percent-encodes what cannot.
    if text.bytes().all(|b| b.is_ascii_graphic()) {
        Some(text.to_string())
    } else {
        Some(url.to_string())
    }
}

/// Shared by `app::start`: the links when a key is available.
pub(crate) fn links_from_key(key: Option<&str>) -> Result<Option<Arc<RecordingLinks>>, String> {
    key.map(|k| RecordingLinks::new(k).map(Arc::new))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::{link_in_answer, web_url};

    const LINK: &str = "https://recordings.myoperator.test/a41f.mp3?X-Sig=ab%2Fcd&exp=1";

    #[test]
    fn every_plausible_answer_shape_gives_the_link() {
        let shapes = [
            format!(r#"{{"url": "{LINK}"}}"#),
            format!(r#"{{"link": "{LINK}"}}"#),
            format!(r#"{{"download_url": "{LINK}"}}"#),
            format!(r#"{{"status": "success", "data": {{"url": "{LINK}"}}}}"#),
            format!(r#"{{"data": {{"link": "{LINK}"}}}}"#),
            format!(r#"{{"data": "{LINK}"}}"#),
            format!(r#""{LINK}""#),
            format!("{LINK}\n"),
            // MyOperator's PHP backend escapes slashes in JSON.
            format!(r#"{{"url": "{}"}}"#, LINK.replace('/', "\\/")),
        ];
        for body in shapes {
            assert_eq!(
                link_in_answer(body.as_bytes()).as_deref(),
                Some(LINK),
                "{body}"
            );
        }
    }

    #[test]
    fn answers_without_a_web_link_give_none() {
        for body in [
            r#"{"status": "error", "message": "Invalid token"}"#,
            r#"{"url": ""}"#,
            r#"{"url": "javascript:alert(1)"}"#,
            r#"{"data": {"url": 42}}"#,
            r#"{"data": null}"#,
            "[]",
            "",
            "Invalid token",
            "https://two words.test/x",
            "see https://a.test/x",
            "\u{0}",
        ] {
            assert_eq!(link_in_answer(body.as_bytes()), None, "{body}");
        }
        assert_eq!(link_in_answer(&[0xff, 0xfe]), None, "not UTF-8");
    }

    #[test]
    fn only_absolute_web_links_are_followed() {
        assert_eq!(
            web_url(" http://a.test/x ").as_deref(),
            Some("http://a.test/x")
        );
        assert_eq!(
            web_url("https://a.test/dir/file name.mp3").as_deref(),
            Some("https://a.test/dir/file%20name.mp3"),
            "encoded, so that it fits a Location header"
        );
        for bad in [
            "/relative",
            "ftp://a.test/x",
            "data:text/html,hi",
            "https://",
        ] {
            assert_eq!(web_url(bad), None, "{bad}");
        }
    }
}
