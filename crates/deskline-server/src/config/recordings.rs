//! `[sources.NAME.recordings]`: which recording link a ticket gets, and for MyOperator how
//! deskline fetches a fresh one. The link itself (token, expiry) is
//! `deskline_core::recording`; serving it is `crate::recordings`.

use std::fmt;

use deskline_core::recording::{RecordingLinkMode, RecordingSettings, MIN_KEY_BYTES};
use deskline_zendesk::Secret;
use serde::{Deserialize, Serialize};

use super::{ServerConfig, SourceKind};

/// MyOperator's public API, where `GET /recordings/link` lives.
pub const DEFAULT_MYOPERATOR_API_URL: &str = "https://developers.myoperator.co";

/// `[sources.NAME.recordings]`. One table rather than core's `RecordingSettings` plus a second
/// one: core's struct denies unknown fields, so it cannot be flattened next to the API keys.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingsConfig {
    /// `provider` (the default) or `deskline`.
    pub link: RecordingLinkMode,
    /// Days deskline's link stays valid; absent, it never expires.
    pub link_lifetime_days: Option<u32>,
    /// MyOperator's public API token, to fetch fresh download links (kind = "myoperator").
    pub api_token: Option<String>,
    /// MyOperator's API base URL; [`DEFAULT_MYOPERATOR_API_URL`] when absent.
    pub api_url: Option<String>,
}

// Written by hand so that printing the configuration never prints the API token.
impl fmt::Debug for RecordingsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingsConfig")
            .field("link", &self.link)
            .field("link_lifetime_days", &self.link_lifetime_days)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("api_url", &self.api_url)
            .finish()
    }
}

/// A source's recording links, checked.
#[derive(Clone, Debug, Default)]
pub struct ResolvedRecordings {
    /// Which link the ticket gets, and for how long deskline's stays valid.
    pub settings: RecordingSettings,
    /// Where to fetch a fresh link; `None` redirects to the link the provider sent.
    pub pull: Option<MyOperatorPull>,
}

impl ResolvedRecordings {
    /// Whether tickets get deskline's stable link.
    pub fn deskline_links(&self) -> bool {
        self.settings.link == RecordingLinkMode::Deskline
    }
}

/// MyOperator's pull API: `GET {api_url}/recordings/link?token=…&file=…`.
#[derive(Clone, Debug)]
pub struct MyOperatorPull {
    /// Base URL, without a trailing `/`.
    pub api_url: String,
    /// The public API token (redacted in `Debug`).
    pub api_token: Secret,
}

/// Checks `server.recording_link_key` when it is set.
pub(super) fn check_link_key(server: &ServerConfig, add: &mut dyn FnMut(&str, String, String)) {
    if let Some(key) = &server.recording_link_key {
        // Surrounding spaces (a stray newline in an environment file) are not part of the key.
        let len = key.trim().len();
        if len < MIN_KEY_BYTES {
            add(
                "server.recording_link_key",
                format!("is {len} bytes; a signing key needs at least {MIN_KEY_BYTES}"),
                "use a long random value, e.g. the output of `openssl rand -hex 32`, or remove \
                 it to have one generated"
                    .into(),
            );
        }
    }
}

fn is_web_url(url: &str) -> bool {
    let url = url.trim();
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(char::is_whitespace)
}

/// Checks source `name`'s `[recordings]` table; `None` when it has problems (added to `add`).
pub(super) fn resolve(
    name: &str,
    kind: SourceKind,
    r: &RecordingsConfig,
    server: &ServerConfig,
    add: &mut dyn FnMut(&str, String, String),
) -> Option<ResolvedRecordings> {
    let key = |k: &str| format!("sources.{name}.recordings.{k}");
    let mut ok = true;
    let settings = RecordingSettings {
        link: r.link,
        link_lifetime_days: r.link_lifetime_days,
    };
    if let Err(problems) = settings.validate() {
        ok = false;
        for p in problems {
            // Core words them "recordings.link_lifetime_days <problem>; <fix>".
            let rest = p
                .strip_prefix("recordings.link_lifetime_days ")
                .unwrap_or(&p);
            let (problem, fix) = rest
                .split_once("; ")
                .unwrap_or((rest, "see docs/configuration.md, \"Recordings\""));
            add(
                &key("link_lifetime_days"),
                problem.to_string(),
                fix.to_string(),
            );
        }
    }
    let deskline = r.link == RecordingLinkMode::Deskline;
    if deskline {
        match server.public_url.as_deref().map(str::trim) {
            None | Some("") => {
                ok = false;
                add(
                    "server.public_url",
                    format!(
                        "is missing, and sources.{name}.recordings.link = \"deskline\" puts \
                         links to deskline in tickets"
                    ),
                    "set it to the https URL agents reach deskline at, e.g. \
                     https://deskline.example.com, or use link = \"provider\""
                        .into(),
                );
            }
            Some(url) if !is_web_url(url) => {
                ok = false;
                add(
                    "server.public_url",
                    format!("\"{url}\" is not an http(s) URL, and recording links are built on it"),
                    "write it as https://deskline.example.com".into(),
                );
            }
            Some(_) => {}
        }
    }
    // The first API key set, to name in a problem about both.
    let api_key = [
        ("api_token", r.api_token.is_some()),
        ("api_url", r.api_url.is_some()),
    ]
    .into_iter()
    .find_map(|(k, set)| set.then_some(k));
    if let Some(k) = api_key {
        if kind != SourceKind::Myoperator {
            ok = false;
            add(
                &key(k),
                "only applies to kind = \"myoperator\" (MyOperator's recording API)".into(),
                "remove it".into(),
            );
        } else if !deskline {
            ok = false;
            add(
                &key(k),
                "is only used when link = \"deskline\" (deskline fetches a fresh link when its \
                 own link is opened)"
                    .into(),
                format!("set sources.{name}.recordings.link = \"deskline\", or remove it"),
            );
        }
    }
    let mut pull = None;
    if kind == SourceKind::Myoperator && deskline {
        let api_url = r
            .api_url
            .as_deref()
            .unwrap_or(DEFAULT_MYOPERATOR_API_URL)
            .trim()
            .trim_end_matches('/')
            .to_string();
        if !is_web_url(&api_url) {
            ok = false;
            add(
                &key("api_url"),
                format!("\"{api_url}\" is not an http(s) URL"),
                format!("remove it to use {DEFAULT_MYOPERATOR_API_URL}"),
            );
        }
        match r.api_token.as_deref().map(str::trim) {
            Some("") => {
                ok = false;
                add(
                    &key("api_token"),
                    "is empty".into(),
                    format!(
                        "set DESKLINE_SOURCES__{}__RECORDINGS__API_TOKEN to MyOperator's public \
                         API token (Manage → API integration), or remove it to link to the \
                         recording as MyOperator sent it",
                        name.to_ascii_uppercase()
                    ),
                );
            }
            Some(token) => {
                pull = Some(MyOperatorPull {
                    api_url,
                    api_token: Secret::new(token),
                });
            }
            None if r.api_url.is_some() => {
                ok = false;
                add(
                    &key("api_url"),
                    "is set, but api_token is not, so the API is never called".into(),
                    format!(
                        "set DESKLINE_SOURCES__{}__RECORDINGS__API_TOKEN, or remove api_url",
                        name.to_ascii_uppercase()
                    ),
                );
            }
            // Allowed: deskline's link then redirects to the panel link MyOperator sent.
            None => {}
        }
    }
    ok.then_some(ResolvedRecordings { settings, pull })
}

#[cfg(test)]
mod tests;
