//! Shared setup for the end-to-end tests: a real Zendesk sandbox and the real deskline service,
//! each on its own loopback port, a SQLite file in a temporary directory, and helpers that
//! drive both over HTTP (deskline's hooks and admin API, the sandbox's API and controls).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskline_core::plan::CallFields;
use deskline_server::app::{self, Runtime, Service, StartError};
use deskline_server::config::{validate, Config, SourceConfig, SourceKind};
use deskline_store::SqliteStore;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::{json, Value};
use tempfile::TempDir;
use zendesk_sandbox::seed::SeedTicketField;
use zendesk_sandbox::{SandboxConfig, SandboxHandle};

/// The source's shared secret.
pub const SECRET: &str = "e2e-source-secret-0123456789";
/// The header the secret travels in.
pub const SECRET_HEADER: &str = "X-Deskline-Secret";
/// deskline's admin bearer token.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789";
/// The configured source.
pub const SOURCE: &str = "myoperator";
/// The sandbox's admin and API token (its defaults).
pub const SANDBOX_ADMIN: &str = "admin@sandbox.test";
pub const SANDBOX_TOKEN: &str = "sandbox-token";
/// Request bodies above this are refused (set small so the 413 test stays small).
pub const MAX_BODY_BYTES: usize = 4096;
/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Seeded ids (docs/sandbox.md, "The default seed").
pub const PRIYA: u64 = 30011;
pub const VOICE_MISSED_CALLS: u64 = 20003;
pub const ANITA: u64 = 50001;
pub const PHONE_ONLY_CALLER: u64 = 50003;
pub const FIELD_CALL_ID: u64 = 10001;
pub const FIELD_DIRECTION: u64 = 10002;
pub const FIELD_DURATION: u64 = 10003;
pub const FIELD_RECORDING: u64 = 10004;
pub const FIELD_CALLER: u64 = 10005;
/// Seeded agents with a Zendesk phone: Priya +919810000011, Arjun +919810000012, Kavya
/// +919810000013, Emily +14155550115.
pub const ARJUN: u64 = 30012;
pub const KAVYA: u64 = 30013;
pub const EMILY: u64 = 30015;
/// A text field for dispositions, added to the seed by [`sandbox_with_disposition_field`].
pub const FIELD_DISPOSITION: u64 = 10006;

/// The other providers' sources, as [`spawn_app_with_sources`] configures them.
pub const TWILIO: &str = "twilio";
/// Twilio signs with the account's auth token.
pub const TWILIO_AUTH_TOKEN: &str = "e2e-twilio-auth-token-0123456789";
pub const AIRCALL: &str = "aircall";
/// The token in examples/aircall/*.json.
pub const AIRCALL_TOKEN: &str = "5f0c2e7a9b4d4c1e8a6f3b2d1c0e9f87";
pub const EXOTEL: &str = "exotel";
pub const EXOTEL_SECRET: &str = "e2e-exotel-secret-0123456789";

/// The example payloads a MyOperator account really sends.
const ANSWERED: &str = include_str!("../../../../examples/myoperator/after-call-answered.json");
const MISSED: &str = include_str!("../../../../examples/myoperator/after-call-missed.json");

/// A sandbox with the default seed, no search-index lag and a budget tests never exhaust.
pub fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        search_index_delay: Duration::ZERO,
        rate_limit_per_minute: Some(100_000),
        ..SandboxConfig::default()
    }
}

/// [`sandbox_config`] with one more ticket field, a text field for dispositions.
pub fn sandbox_with_disposition_field() -> SandboxConfig {
    let mut config = sandbox_config();
    config.seed.ticket_fields.push(SeedTicketField {
        id: Some(FIELD_DISPOSITION),
        title: "Call disposition".to_string(),
        field_type: "text".to_string(),
        description: String::new(),
        options: Vec::new(),
        regexp_for_validation: None,
    });
    config
}

/// The seed's call fields.
pub fn call_fields() -> CallFields {
    CallFields {
        call_id: Some(FIELD_CALL_ID),
        direction: Some(FIELD_DIRECTION),
        duration: Some(FIELD_DURATION),
        recording_url: Some(FIELD_RECORDING),
        caller_number: Some(FIELD_CALLER),
    }
}

/// A source of `kind` with `secret`, mapped to the seed's call fields, in India time.
pub fn source_config(kind: SourceKind, secret: &str) -> SourceConfig {
    let mut source = SourceConfig::myoperator(Some(secret.to_string()));
    source.kind = kind;
    source.time_zone = "Asia/Kolkata".to_string();
    source.fields = call_fields();
    source
}

/// The test configuration: a remote Zendesk at `sandbox_url`, one MyOperator source mapped to
/// the seed's call fields, and a worker with a shrunken retry schedule.
pub fn test_config(sandbox_url: &str, dir: &TempDir) -> Config {
    let mut config = Config::default();
    config.server.max_body_bytes = MAX_BODY_BYTES;
    config.server.admin_token = Some(ADMIN_TOKEN.to_string());
    config.storage.sqlite_path = dir.path().join("deskline.db");
    config.zendesk.url = Some(sandbox_url.to_string());
    config.zendesk.email = Some(SANDBOX_ADMIN.to_string());
    config.zendesk.api_token = Some(SANDBOX_TOKEN.to_string());
    config.zendesk.requests_per_minute = Some(6_000);
    config.zendesk.timeout = Duration::from_secs(10);
    config.worker.concurrency = 4;
    config.worker.backoff_base = Duration::from_millis(20);
    config.worker.backoff_cap = Duration::from_secs(1);
    config.worker.poll_interval = Duration::from_millis(20);
    let source = source_config(SourceKind::Myoperator, SECRET);
    config.sources.insert(SOURCE.to_string(), source);
    config
}

/// A running sandbox and deskline service, and a client for both.
pub struct TestApp {
    /// deskline's base URL.
    pub url: String,
    /// The sandbox's base URL.
    pub sandbox_url: String,
    /// A plain HTTP client.
    pub http: Client,
    pub service: Service,
    pub sandbox: SandboxHandle,
    /// deskline's clock: the system's, shifted by what a test sets.
    pub clock: Arc<ShiftedClock>,
    /// The configuration deskline runs with.
    pub config: Config,
    _dir: TempDir,
}

/// The system clock moved by an offset a test sets, so rules that count hours (the 24-hour
/// reply window) are tested without waiting.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_seconds: std::sync::atomic::AtomicI64,
}

impl ShiftedClock {
    /// From now on, deskline's "now" is the real time plus `offset`.
    pub fn shift(&self, offset: chrono::Duration) {
        self.offset_seconds
            .store(offset.num_seconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl deskline_server::state::Clock for ShiftedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::seconds(
                self.offset_seconds
                    .load(std::sync::atomic::Ordering::SeqCst),
            )
    }
}

/// Starts the sandbox and deskline with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(sandbox_config(), |_| {}).await
}

/// Starts the sandbox with `sandbox`, then deskline with the test configuration changed by
/// `configure`, and waits for deskline's first directory sync.
pub async fn spawn_app_with(
    sandbox: SandboxConfig,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    match try_spawn_app_with(sandbox, configure).await {
        Ok(app) => app,
        Err(e) => panic!("deskline does not start: {e}"),
    }
}

/// Starts the sandbox (with the disposition field) and deskline with the test configuration
/// plus `sources` (name and configuration; the MyOperator source stays), changed by
/// `configure`.
pub async fn spawn_app_with_sources(
    sources: Vec<(&str, SourceConfig)>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    spawn_app_with(sandbox_with_disposition_field(), |config| {
        for (name, source) in sources {
            config.sources.insert(name.to_string(), source);
        }
        configure(config);
    })
    .await
}

/// Like [`spawn_app_with`], returning `app::start`'s error instead of panicking.
pub async fn try_spawn_app_with(
    sandbox: SandboxConfig,
    configure: impl FnOnce(&mut Config),
) -> Result<TestApp, StartError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port for the sandbox");
    let sandbox = zendesk_sandbox::start(sandbox, listener)
        .await
        .expect("the sandbox starts");
    let app = start_app(sandbox, configure).await?;
    app.wait_for_directory().await;
    Ok(app)
}

/// Starts deskline with the test configuration (changed by `configure`) against `sandbox`,
/// which may have been shut down meanwhile; waits for nothing.
pub async fn start_app(
    sandbox: SandboxHandle,
    configure: impl FnOnce(&mut Config),
) -> Result<TestApp, StartError> {
    let dir = TempDir::new().expect("temporary directory");
    let mut config = test_config(&sandbox.base_url, &dir);
    configure(&mut config);
    let clock = Arc::new(ShiftedClock::default());
    let service = start_service(config.clone(), clock.clone()).await?;
    Ok(TestApp {
        url: format!("http://{}", service.addr),
        sandbox_url: sandbox.base_url.clone(),
        http: Client::new(),
        service,
        sandbox,
        clock,
        config,
        _dir: dir,
    })
}

/// Starts the deskline service alone on `config`, on a fresh loopback port.
pub async fn start_service(
    config: Config,
    clock: Arc<ShiftedClock>,
) -> Result<Service, StartError> {
    let resolved = match validate(config) {
        Ok(r) => r,
        Err(e) => panic!("the test configuration is invalid: {e}"),
    };
    let (zendesk_url, zendesk_email, zendesk_token) =
        Runtime::remote_zendesk(&resolved).expect("a remote Zendesk (the sandbox)");
    let storage = &resolved.config.storage;
    let store = SqliteStore::open_with(&storage.sqlite_path, storage.sqlite_options())
        .await
        .expect("the SQLite store opens");
    let runtime = Runtime {
        store: Arc::new(store),
        zendesk_url,
        zendesk_email,
        zendesk_token,
        generated_secrets: BTreeMap::new(),
        admin_token: ADMIN_TOKEN.to_string(),
        clock,
        worker_id: "e2e-worker".to_string(),
        recording_link_key: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port for deskline");
    app::start(resolved, runtime, listener).await
}

/// Polls `probe` until it returns `Some`, or fails the test after [`DEADLINE`] with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "gave up after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl TestApp {
    /// Stops deskline as a restart would, and starts it again on the same database with its
    /// configuration changed by `change` (on a new port: `url` changes).
    pub async fn restart(mut self, change: impl FnOnce(&mut Config)) -> TestApp {
        self.service.shutdown().await;
        change(&mut self.config);
        self.service = match start_service(self.config.clone(), self.clock.clone()).await {
            Ok(s) => s,
            Err(e) => panic!("deskline does not start again: {e}"),
        };
        self.url = format!("http://{}", self.service.addr);
        self
    }

    /// Stops deskline (letting jobs in flight record their outcome), then the sandbox.
    pub async fn stop(self) {
        self.service.shutdown().await;
        self.sandbox.shutdown().await;
    }

    // --- deskline's hooks ---------------------------------------------------------------------

    /// A POST to the source's hook, without credentials.
    pub fn hook(&self) -> RequestBuilder {
        self.http.post(format!("{}/hooks/{SOURCE}", self.url))
    }

    /// Posts a call log as JSON with the secret header.
    pub async fn post_call(&self, payload: &Value) -> Response {
        self.hook()
            .header(SECRET_HEADER, SECRET)
            .json(payload)
            .send()
            .await
            .expect("POST /hooks/myoperator")
    }

    /// Posts a call log and checks it was accepted as new (202).
    pub async fn deliver(&self, payload: &Value) {
        let r = self.post_call(payload).await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::ACCEPTED, "delivery answered {body}");
    }

    /// `source`'s hook URL, as deskline is reached on loopback.
    pub fn hook_url(&self, source: &str) -> String {
        format!("{}/hooks/{source}", self.url)
    }

    /// A POST to `source`'s hook, without credentials.
    pub fn hook_to(&self, source: &str) -> RequestBuilder {
        self.http.post(self.hook_url(source))
    }

    /// Posts a MyOperator payload (any webhook) with the secret header: status and JSON body.
    pub async fn post_myoperator(&self, payload: &Value) -> (StatusCode, Value) {
        answer(self.post_call(payload).await).await
    }

    /// Provisions the sandbox the way `deskline zendesk provision` does: two webhooks calling
    /// deskline, the reply trigger, and both signing secrets stored.
    pub async fn provision(&self) {
        let endpoint = Url::parse(&format!("{}/zendesk/webhook", self.url)).expect("URL");
        deskline_server::provision::provision(
            &self.service.state.zendesk,
            self.service.state.store.as_ref(),
            &endpoint,
            chrono::Utc::now(),
        )
        .await
        .expect("provision the sandbox");
    }

    // --- deskline's admin API -----------------------------------------------------------------

    /// A request to deskline's admin API with the bearer token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// GET on the admin API: status and JSON body.
    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .admin(Method::GET, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Jobs, optionally in one state (`GET /admin/jobs`).
    pub async fn jobs(&self, state: Option<&str>) -> Vec<Value> {
        let path = match state {
            Some(s) => format!("/admin/jobs?state={s}&limit=1000"),
            None => "/admin/jobs?limit=1000".to_string(),
        };
        let (status, body) = self.admin_get(&path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body["jobs"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until at least `n` jobs are completed and returns them. Reads only deskline's
    /// store, so the wait itself sends nothing to Zendesk.
    pub async fn wait_for_completed_jobs(&self, n: usize) -> Vec<Value> {
        let what = format!("{n} completed call_ticket jobs");
        eventually(&what, || async {
            let (status, body) = self
                .admin_get("/admin/jobs?state=completed&kind=call_ticket&limit=1000")
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let done = body["jobs"].as_array().cloned().unwrap_or_default();
            (done.len() >= n).then_some(done)
        })
        .await
    }

    /// Waits until the call has a ticket (`GET /admin/calls/{source}/{call_id}`); its id.
    /// Note that once linked, this admin route fetches the ticket from Zendesk.
    pub async fn wait_for_ticket(&self, call_id: &str) -> u64 {
        let path = format!("/admin/calls/{SOURCE}/{call_id}");
        eventually(&format!("a ticket for call {call_id}"), || async {
            let (status, body) = self.admin_get(&path).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
            body["ticket_id"].as_u64()
        })
        .await
    }

    /// Waits until the call of `source` has a ticket; its id.
    pub async fn wait_for_ticket_of(&self, source: &str, call_id: &str) -> u64 {
        let path = format!("/admin/calls/{source}/{call_id}");
        eventually(&format!("a ticket for {source} call {call_id}"), || async {
            let (status, body) = self.admin_get(&path).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
            body["ticket_id"].as_u64()
        })
        .await
    }

    /// Waits until no job is left to run (each completed, discarded or cancelled) and returns
    /// every job. A snoozed job (a disposition waiting for its ticket) is not finished.
    pub async fn wait_until_settled(&self) -> Vec<Value> {
        eventually("every job to finish", || async {
            let jobs = self.jobs(None).await;
            let finished = |j: &Value| {
                matches!(
                    j["state"].as_str(),
                    Some("completed" | "discarded" | "cancelled")
                )
            };
            jobs.iter().all(finished).then_some(jobs)
        })
        .await
    }

    /// Waits until no job is left to run and checks that every one completed; returns them.
    pub async fn settle(&self) -> Vec<Value> {
        let jobs = self.wait_until_settled().await;
        for j in &jobs {
            assert_eq!(j["state"], "completed", "every job completes: {j:#}");
        }
        jobs
    }

    /// Polls ticket `id` in the sandbox until `test` holds; the ticket.
    pub async fn wait_for_ticket_state(
        &self,
        id: u64,
        what: &str,
        test: impl Fn(&Value) -> bool,
    ) -> Value {
        let test = &test;
        eventually(&format!("ticket {id}: {what}"), || async move {
            let t = self.ticket(id).await;
            test(&t).then_some(t)
        })
        .await
    }

    /// Waits for deskline's first agent-directory sync, so no job waits for it.
    pub async fn wait_for_directory(&self) {
        eventually("the first directory sync", || async {
            let (status, body) = self.admin_get("/admin/directory").await;
            (status == StatusCode::OK && !body["directory"]["last_synced_at"].is_null())
                .then_some(())
        })
        .await;
    }

    /// Asserts deskline stored no event and no job, and the sandbox holds no ticket.
    pub async fn assert_nothing_stored(&self) {
        let jobs = self.jobs(None).await;
        assert!(jobs.is_empty(), "no job may be stored: {jobs:?}");
        let (status, body) = self.admin_get("/admin/events/1").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "no event may be stored: {body}"
        );
        assert_eq!(self.sandbox_tickets().await.len(), 0, "no ticket");
    }

    // --- the sandbox ---------------------------------------------------------------------------

    /// A request to the sandbox as its admin (API token).
    pub fn sandbox(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.sandbox_url))
            .basic_auth(format!("{SANDBOX_ADMIN}/token"), Some(SANDBOX_TOKEN))
    }

    /// GET on the sandbox as admin, expecting 200.
    pub async fn sandbox_get(&self, path: &str) -> Value {
        let r = self
            .sandbox(Method::GET, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("sandbox GET {path}: {e}"));
        assert_eq!(r.status(), StatusCode::OK, "sandbox GET {path}");
        r.json().await.expect("JSON from the sandbox")
    }

    /// Every item of a cursor-paged sandbox list.
    pub async fn sandbox_list(&self, path: &str, collection: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{}{path}{sep}page[size]=100", self.sandbox_url);
        let mut out = Vec::new();
        loop {
            let r = self
                .http
                .get(&url)
                .basic_auth(format!("{SANDBOX_ADMIN}/token"), Some(SANDBOX_TOKEN))
                .send()
                .await
                .expect("sandbox list");
            assert_eq!(r.status(), StatusCode::OK, "sandbox GET {url}");
            let page: Value = r.json().await.expect("JSON page");
            out.extend(page[collection].as_array().cloned().unwrap_or_default());
            match page["links"]["next"].as_str() {
                Some(next) if page["meta"]["has_more"].as_bool() == Some(true) => {
                    url = next.to_string();
                }
                _ => return out,
            }
        }
    }

    /// Every ticket the sandbox holds.
    pub async fn sandbox_tickets(&self) -> Vec<Value> {
        self.sandbox_list("/api/v2/tickets", "tickets").await
    }

    /// The tickets with this external id.
    pub async fn tickets_with_external_id(&self, external_id: &str) -> Vec<Value> {
        let body = self
            .sandbox_get(&format!("/api/v2/tickets?external_id={external_id}"))
            .await;
        body["tickets"].as_array().cloned().unwrap_or_default()
    }

    /// The only ticket with this external id (fails when there are none or several).
    pub async fn only_ticket(&self, external_id: &str) -> Value {
        let tickets = self.tickets_with_external_id(external_id).await;
        assert_eq!(
            tickets.len(),
            1,
            "exactly one ticket with external id {external_id}: {tickets:#?}"
        );
        tickets.into_iter().next().unwrap_or_default()
    }

    /// How many requests of `method` to a path starting with `prefix` the sandbox logged.
    pub async fn count_requests(&self, method: &str, prefix: &str) -> usize {
        self.sandbox_requests(0)
            .await
            .iter()
            .filter(|e| {
                e["method"] == method && e["path"].as_str().is_some_and(|p| p.starts_with(prefix))
            })
            .count()
    }

    /// One ticket.
    pub async fn ticket(&self, id: u64) -> Value {
        self.sandbox_get(&format!("/api/v2/tickets/{id}"))
            .await
            .get("ticket")
            .cloned()
            .expect("a ticket")
    }

    /// A ticket's comments, oldest first.
    pub async fn comments(&self, id: u64) -> Vec<Value> {
        self.sandbox_list(&format!("/api/v2/tickets/{id}/comments"), "comments")
            .await
    }

    /// Every end-user.
    pub async fn end_users(&self) -> Vec<Value> {
        self.sandbox_list("/api/v2/users?role=end-user", "users")
            .await
    }

    /// End-users whose phone is `phone`.
    pub async fn end_users_with_phone(&self, phone: &str) -> Vec<Value> {
        self.end_users()
            .await
            .into_iter()
            .filter(|u| u["phone"].as_str() == Some(phone))
            .collect()
    }

    /// The sandbox's request log after sequence number `since`.
    pub async fn sandbox_requests(&self, since: u64) -> Vec<Value> {
        let body = self
            .sandbox_get(&format!("/sandbox/requests?since={since}"))
            .await;
        body["requests"].as_array().cloned().unwrap_or_default()
    }

    /// The newest sequence number in the sandbox's request log (0 when empty).
    pub async fn last_request_seq(&self) -> u64 {
        self.sandbox_requests(0)
            .await
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .max()
            .unwrap_or(0)
    }

    /// `PUT /sandbox/faults`.
    pub async fn set_faults(&self, faults: Value) {
        let r = self
            .sandbox(Method::PUT, "/sandbox/faults")
            .json(&faults)
            .send()
            .await
            .expect("PUT /sandbox/faults");
        assert_eq!(r.status(), StatusCode::OK, "faults {faults}");
    }

    /// `DELETE /sandbox/faults`.
    pub async fn clear_faults(&self) {
        let r = self
            .sandbox(Method::DELETE, "/sandbox/faults")
            .send()
            .await
            .expect("DELETE /sandbox/faults");
        assert_eq!(r.status(), StatusCode::OK);
    }
}

/// Status and JSON body (null when the body is not JSON) of an answer.
pub async fn answer(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

// --- forms ---------------------------------------------------------------------------------------

/// The pairs of a form-encoded body (or query string), in order.
pub fn form_pairs(form: &str) -> Vec<(String, String)> {
    let url = Url::parse(&format!("http://form.invalid/?{}", form.trim())).expect("a form");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Form-encodes pairs.
pub fn form_encode(pairs: &[(String, String)]) -> String {
    let mut url = Url::parse("http://form.invalid/").expect("a URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

/// The form with each `(name, value)` set: replaced where present, else appended. An empty
/// value removes the parameter.
pub fn form_with(form: &str, changes: &[(&str, &str)]) -> String {
    let mut pairs = form_pairs(form);
    for (name, value) in changes {
        let present = pairs.iter().any(|(k, _)| k == name);
        if value.is_empty() {
            pairs.retain(|(k, _)| k != name);
        } else if present {
            for (k, v) in pairs.iter_mut() {
                if k == name {
                    *v = (*value).to_string();
                }
            }
        } else {
            pairs.push(((*name).to_string(), (*value).to_string()));
        }
    }
    form_encode(&pairs)
}

/// A comment's text (`body`, as the sandbox answers it).
pub fn comment_body(comment: &Value) -> &str {
    comment["body"].as_str().unwrap_or_default()
}

/// Whether a ticket has `tag`.
pub fn has_tag(ticket: &Value, tag: &str) -> bool {
    tags(ticket).iter().any(|t| t == tag)
}

// --- payloads ----------------------------------------------------------------------------------

/// examples/myoperator/after-call-answered.json: Anita's call, answered by Priya (whose email
/// arrives as " Priya.Sharma@Sandbox.test ").
pub fn answered_call() -> Value {
    serde_json::from_str(ANSWERED).expect("the answered example is JSON")
}

/// examples/myoperator/after-call-missed.json: a missed call from +919820000003.
pub fn missed_call() -> Value {
    serde_json::from_str(MISSED).expect("the missed example is JSON")
}

/// The call's id as deskline keys it: MyOperator's unique call id (`_pm` `ui`) when the
/// payload has one, else `_ai`.
pub fn call_id(payload: &Value) -> String {
    payload
        .as_object()
        .and_then(deskline_core::sources::myoperator::correlation_id)
        .expect("a call id")
}

/// The payload as another call: a new `_ai` and the same new unique call id.
pub fn with_call_id(mut payload: Value, id: &str) -> Value {
    payload["_ai"] = json!(id);
    if payload.get("_pm").is_some() {
        payload["_pm"] = json!([{"ky": "ui", "vl": id}]);
    }
    payload
}

/// The payload with the customer's number as sent in `_cl` and `_cr`.
pub fn with_caller(mut payload: Value, number: &str) -> Value {
    payload["_cl"] = json!(number);
    payload["_cr"] = json!(number);
    payload
}

/// The answered payload with the answering agent's email replaced.
pub fn with_agent_email(mut payload: Value, email: &str) -> Value {
    let legs = payload["_ld"].as_array_mut().expect("_ld");
    for leg in legs {
        if leg["_ac"] == "received" {
            leg["_rr"][0]["_em"] = json!(email);
        }
    }
    payload
}

/// A custom field's value on a ticket, as text (the sandbox answers strings).
pub fn field(ticket: &Value, id: u64) -> Option<String> {
    ticket["custom_fields"]
        .as_array()?
        .iter()
        .find(|f| f["id"].as_u64() == Some(id))
        .and_then(|f| match &f["value"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
}

/// A ticket's tags.
pub fn tags(ticket: &Value) -> Vec<String> {
    ticket["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
