//! Shared test support: a real sandbox on a loopback port and a client that speaks to it.
#![allow(dead_code)]

pub mod oas;
pub mod webhooks;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use zendesk_sandbox::{SandboxConfig, SandboxHandle};

/// Admin credentials of the default configuration.
pub const ADMIN: &str = "admin@sandbox.test";
/// API token of the default configuration.
pub const TOKEN: &str = "sandbox-token";

/// A running sandbox and a client for it.
pub struct Sandbox {
    pub handle: SandboxHandle,
    pub base: String,
    pub http: Client,
}

/// Starts a sandbox with the default seed on 127.0.0.1:0.
pub async fn spawn() -> Sandbox {
    spawn_with(SandboxConfig::default()).await
}

/// Starts a sandbox with a custom configuration on 127.0.0.1:0.
pub async fn spawn_with(config: SandboxConfig) -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let handle = zendesk_sandbox::start(config, listener)
        .await
        .expect("sandbox starts");
    let base = handle.base_url.clone();
    Sandbox {
        handle,
        base,
        http: Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client"),
    }
}

impl Sandbox {
    /// A request as the admin through the API token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .basic_auth(format!("{ADMIN}/token"), Some(TOKEN))
    }

    /// A request as a named agent through the API token (via API, id 5).
    pub fn as_agent_api(&self, email: &str, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .basic_auth(format!("{email}/token"), Some(TOKEN))
    }

    /// A request as a named agent in the agent workspace (password, via web, id 0).
    pub fn as_agent_web(&self, email: &str, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .basic_auth(email, Some("agent-password"))
    }

    /// GET as admin, expecting 200, returning the JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.admin(Method::GET, path).send().await.expect("request");
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json body")
    }

    /// POST JSON as admin.
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.admin(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// PUT JSON as admin.
    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.admin(Method::PUT, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Creates a ticket as admin and returns its id.
    pub async fn create_ticket(&self, ticket: Value) -> u64 {
        let r = self
            .post("/api/v2/tickets", &serde_json::json!({ "ticket": ticket }))
            .await;
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 201, "create ticket: {body}");
        body["ticket"]["id"].as_u64().expect("ticket id")
    }

    /// The request log entries after `since`.
    pub async fn requests(&self, since: u64) -> Vec<Value> {
        let v = self
            .get_json(&format!("/sandbox/requests?since={since}"))
            .await;
        v["requests"].as_array().cloned().unwrap_or_default()
    }
}
