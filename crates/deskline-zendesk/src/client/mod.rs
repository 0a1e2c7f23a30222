//! `ZendeskClient`: one account's connection, its credentials and budget, and the one place a
//! request is sent and its answer classified. The endpoint methods live in the sibling files.

mod directory;
mod pages;
mod rules;
mod tickets;
mod users;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use crate::budget::{Endpoint, RateBudget};
use crate::config::{ConfigError, ZendeskConfig};
use crate::error::ZendeskError;
use crate::gate::{Reach, RequestGate};

/// Most items Zendesk returns per page.
const MAX_PAGE_SIZE: u32 = 100;
/// Pages a list may take before the client gives up (100,000 records at 100 per page): far
/// beyond any real account's staff or a ticket's comments, so only a looping cursor hits it.
const DEFAULT_MAX_PAGES: usize = 1000;
/// Connection set-up gets its own, shorter limit so a dead host fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// deskline's Zendesk Support API client (cheap to clone; clones share connections and budget).
#[derive(Clone)]
pub struct ZendeskClient {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    email: String,
    /// `Basic base64({email}/token:{token})`, marked sensitive so it is never printed.
    auth: HeaderValue,
    budget: RateBudget,
    page_size: u32,
    max_pages: usize,
    /// The shared pause and reachability hook, when the owner keeps one.
    gate: Option<Arc<dyn RequestGate>>,
}

impl std::fmt::Debug for ZendeskClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZendeskClient")
            .field("base_url", &self.inner.base.as_str())
            .field("email", &self.inner.email)
            .finish_non_exhaustive()
    }
}

/// A successful (2xx) answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) operation: String,
}

impl Answer {
    /// The body as `T`, or a `Decode` error naming the operation.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ZendeskError> {
        serde_json::from_slice(&self.body).map_err(|e| ZendeskError::Decode {
            reason: format!("{}: {e}", self.operation),
        })
    }
}

/// A JSON request body, serialised once so a retry sends the same bytes.
pub(crate) fn json_body<T: serde::Serialize>(
    value: &T,
    operation: &str,
) -> Result<Vec<u8>, ZendeskError> {
    serde_json::to_vec(value).map_err(|e| ZendeskError::BadRequest {
        description: format!("not sent: cannot encode the body of {operation}: {e}"),
    })
}

impl ZendeskClient {
    /// A client for the account in `config`; checks the URL and credentials' shape.
    pub fn new(config: &ZendeskConfig) -> Result<Self, ConfigError> {
        let base = parse_base_url(&config.base_url)?;
        let email = config.email.trim();
        if email.is_empty() || !email.contains('@') {
            return Err(ConfigError::Credentials(format!(
                "zendesk.email {email:?} is not an email: set it to the agent or admin the API \
                 token acts as"
            )));
        }
        if config.api_token.is_empty() {
            return Err(ConfigError::Credentials(
                "zendesk.api_token is empty: create one in Admin Center → Apps and integrations \
                 → APIs → Zendesk API"
                    .into(),
            ));
        }
        if config.requests_per_minute == 0 {
            return Err(ConfigError::Budget);
        }
        let credentials = format!("{email}/token:{}", config.api_token.expose());
        let mut auth = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))
            .map_err(|_| {
                ConfigError::Credentials("the email or API token has unusable characters".into())
            })?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(CONNECT_TIMEOUT))
            // Zendesk's API does not redirect; following one could carry the credentials to
            // another host, and usually means an http:// base URL that should be https://.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("deskline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::BaseUrl(format!("cannot set up HTTPS: {e}")))?;
        Ok(ZendeskClient {
            inner: Arc::new(Inner {
                http,
                base,
                email: email.to_string(),
                auth,
                budget: RateBudget::with_ticket_updates(
                    config.requests_per_minute,
                    config.ticket_updates_per_minute,
                ),
                page_size: MAX_PAGE_SIZE,
                max_pages: DEFAULT_MAX_PAGES,
                gate: None,
            }),
        })
    }

    /// The same client asking for `size` items per page (1 to 100); mainly for tests.
    pub fn with_page_size(&self, size: u32) -> Self {
        let mut inner = (*self.inner).clone();
        inner.page_size = size.clamp(1, MAX_PAGE_SIZE);
        ZendeskClient {
            inner: Arc::new(inner),
        }
    }

    /// The same client giving up on a list after `pages` pages.
    pub fn with_max_pages(&self, pages: usize) -> Self {
        let mut inner = (*self.inner).clone();
        inner.max_pages = pages.max(1);
        ZendeskClient {
            inner: Arc::new(inner),
        }
    }

    /// The same client consulting `gate` before each request and reporting each answer to it
    /// (clones made afterwards share it).
    pub fn with_gate(&self, gate: Arc<dyn RequestGate>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.gate = Some(gate);
        ZendeskClient {
            inner: Arc::new(inner),
        }
    }

    /// The account's rate budget (its `snapshot()` feeds metrics).
    pub fn budget(&self) -> &RateBudget {
        &self.inner.budget
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// An API URL for `path` (which starts with `/api/v2/`).
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.inner.base.clone();
        url.set_path(path);
        url
    }

    /// The URL with `page[size]` set, for cursor-paged lists.
    pub(crate) fn cursor_url(&self, path: &str) -> Url {
        let mut url = self.url(path);
        url.query_pairs_mut()
            .append_pair("page[size]", &self.inner.page_size.to_string());
        url
    }

    /// Sends one request after the budget allows it; a non-2xx answer becomes its error.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        endpoint: Endpoint,
        body: Option<Vec<u8>>,
        extra: Option<(HeaderName, HeaderValue)>,
    ) -> Result<Answer, ZendeskError> {
        let operation = format!("{method} {}", url.path());
        self.inner.budget.acquire(endpoint).await;
        if let Some(gate) = &self.inner.gate {
            gate.take_slot(endpoint).await;
        }
        // After the budget's wait, right before sending: a pause recorded meanwhile by another
        // request or process still stops this one.
        if let Some(gate) = &self.inner.gate {
            if let Some(left) = gate.wait().await {
                tracing::debug!(%operation, left_ms = left.as_millis() as u64, "not sent: Zendesk pause in force");
                return Err(ZendeskError::Paused { left });
            }
        }
        let mut request = self
            .inner
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let err = ZendeskError::from_transport(&e, &operation);
                tracing::debug!(%operation, error = %err, "Zendesk request failed");
                self.reached(Reach::NoAnswer);
                return Err(err);
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.inner.budget.observe(status, &headers);
        let body = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                self.reached(Reach::NoAnswer);
                return Err(ZendeskError::from_transport(&e, &operation));
            }
        };
        tracing::debug!(
            %operation,
            status,
            duration_ms = started.elapsed().as_millis() as u64,
            "Zendesk answered"
        );
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        let outage = status >= 500 && !(status == 503 && retry_after.is_some());
        self.reached(if outage {
            Reach::Failed(status)
        } else {
            Reach::Answered(status)
        });
        if (200..300).contains(&status) {
            return Ok(Answer {
                status,
                headers,
                body,
                operation,
            });
        }
        let err = match status {
            300..=399 => ZendeskError::BadRequest {
                description: format!(
                    "{operation} was redirected ({status}); check zendesk.base_url (https://, the \
                     account's own host)"
                ),
            },
            _ => ZendeskError::from_status(status, retry_after, &body, &operation),
        };
        if let (Some(gate), Some(wait)) = (&self.inner.gate, err.retry_after()) {
            gate.pause(wait, err.to_string()).await;
        }
        Err(err)
    }

    fn reached(&self, reach: Reach) {
        if let Some(gate) = &self.inner.gate {
            gate.reached(reach);
        }
    }

    /// Encodes `body` as JSON and sends it to `path`; the answer as it came.
    pub(crate) async fn send_json<B: serde::Serialize>(
        &self,
        method: Method,
        path: &str,
        endpoint: Endpoint,
        body: &B,
    ) -> Result<Answer, ZendeskError> {
        let bytes = json_body(body, path)?;
        self.send(method, self.url(path), endpoint, Some(bytes), None)
            .await
    }

    /// GET and decode.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, ZendeskError> {
        self.send(Method::GET, url, Endpoint::General, None, None)
            .await?
            .json()
    }
}

/// Checks a base URL: absolute http(s), no credentials, path, query or fragment.
fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let raw = raw.trim().trim_end_matches('/');
    let fix = "set zendesk.base_url to e.g. https://acme.zendesk.com (or zendesk.subdomain)";
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::BaseUrl(format!("{raw:?} is not a URL ({e}): {fix}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::BaseUrl(format!(
            "{raw:?} is not an http(s) URL: {fix}"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::BaseUrl(
            "zendesk.base_url must not contain credentials: put them in zendesk.email and \
             zendesk.api_token"
                .into(),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::BaseUrl(format!(
            "{raw:?} has a path or query: give only scheme and host, {fix}"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(base: &str) -> ZendeskConfig {
        ZendeskConfig::new(base, "jdoe@example.com", Secret::new("tok"))
    }

    #[test]
    fn base_urls() {
        for ok in [
            "https://acme.zendesk.com",
            "https://acme.zendesk.com/",
            "http://127.0.0.1:8925",
        ] {
            assert!(ZendeskClient::new(&config(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "acme",
            "acme.zendesk.com",
            "ftp://acme.zendesk.com",
            "https://u:p@acme.zendesk.com",
            "https://acme.zendesk.com/api/v2",
            "https://acme.zendesk.com?x=1",
        ] {
            assert!(ZendeskClient::new(&config(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_are_checked_and_hidden() {
        let mut c = config("https://acme.zendesk.com");
        c.api_token = Secret::new("");
        assert!(matches!(
            ZendeskClient::new(&c),
            Err(ConfigError::Credentials(_))
        ));
        let mut c = config("https://acme.zendesk.com");
        c.email = "acme".into();
        assert!(ZendeskClient::new(&c).is_err());
        let mut c = config("https://acme.zendesk.com");
        c.requests_per_minute = 0;
        assert_eq!(ZendeskClient::new(&c).err(), Some(ConfigError::Budget));

        let client = ZendeskClient::new(&config("https://acme.zendesk.com"));
        let shown = format!("{client:?}");
        assert!(!shown.contains("tok"), "{shown}");
        assert!(!shown.contains(&STANDARD.encode("jdoe@example.com/token:tok")));
    }
}
