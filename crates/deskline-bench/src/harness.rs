//! Starts the Zendesk sandbox and deskline in this process, on loopback ports, with a SQLite
//! file in a temporary directory (or a fresh PostgreSQL database): the same wiring
//! `deskline serve` does, minus the CLI.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use deskline_core::plan::CallFields;
use deskline_server::app::{self, Runtime, Service};
use deskline_server::config::{self, Config, SourceConfig};
use deskline_store::{JobState, PgStore, SqliteStore, Store};
use serde_json::Value;
use sqlx::Connection;
use tokio::net::TcpListener;
use zendesk_sandbox::{SandboxConfig, SandboxHandle};

/// The source's shared secret.
pub const SECRET: &str = "benchmark-source-secret";
/// The admin API token.
pub const ADMIN_TOKEN: &str = "benchmark-admin-token";
const SANDBOX_EMAIL: &str = zendesk_sandbox::DEFAULT_ADMIN_EMAIL;
const SANDBOX_TOKEN: &str = zendesk_sandbox::DEFAULT_API_TOKEN;

/// How to set up one run.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The sandbox's configuration (limits, window, index delay).
    pub sandbox: SandboxConfig,
    /// `zendesk.requests_per_minute`: the client's own budget.
    pub requests_per_minute: u32,
    /// `worker.concurrency`.
    pub workers: usize,
}

/// A running sandbox and service.
pub struct Harness {
    /// deskline's base URL.
    pub base: String,
    /// The sandbox's base URL.
    pub sandbox_url: String,
    /// deskline's store (the same one the service uses).
    pub store: Arc<dyn Store>,
    /// An HTTP client for the load and the controls.
    pub http: reqwest::Client,
    sandbox: Option<SandboxHandle>,
    service: Option<Service>,
    dir: tempfile::TempDir,
    postgres: Option<BenchDatabase>,
}

/// A PostgreSQL database made for one run, dropped when the run stops.
struct BenchDatabase {
    /// The server's URL, to drop the database from.
    server: String,
    name: String,
}

impl BenchDatabase {
    /// Creates a fresh database on the server at `server`; returns it and its URL.
    async fn create(server: &str) -> anyhow::Result<(BenchDatabase, String)> {
        let name = format!(
            "deskline_bench_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mut admin = sqlx::PgConnection::connect(server)
            .await
            .context("no PostgreSQL answers at --postgres")?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .context("create the benchmark's database")?;
        let start = server.find("://").map_or(0, |i| i + 3);
        let path = server[start..]
            .find('/')
            .map_or(server.len(), |i| start + i);
        let query = server[path..].find('?').map_or("", |q| &server[path + q..]);
        let url = format!("{}/{name}{query}", &server[..path]);
        Ok((
            BenchDatabase {
                server: server.to_string(),
                name,
            },
            url,
        ))
    }

    async fn drop_now(&self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.server).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
        }
    }
}

/// deskline's configuration for the benchmark: one MyOperator source mapped to the
/// sandbox's call fields, everything else at its shipped default unless `setup` says otherwise.
fn config(setup: &Setup, sandbox_url: &str, db: &std::path::Path) -> Config {
    let mut source = SourceConfig::myoperator(Some(SECRET.to_string()));
    source.time_zone = "Asia/Kolkata".to_string();
    source.fields = CallFields {
        call_id: Some(10001),
        direction: Some(10002),
        duration: Some(10003),
        recording_url: Some(10004),
        caller_number: Some(10005),
    };
    let mut config = Config::default();
    config.sources.insert("myoperator".to_string(), source);
    config.storage.sqlite_path = db.to_path_buf();
    config.server.admin_token = Some(ADMIN_TOKEN.to_string());
    config.zendesk.url = Some(sandbox_url.to_string());
    config.zendesk.email = Some(SANDBOX_EMAIL.to_string());
    config.zendesk.api_token = Some(SANDBOX_TOKEN.to_string());
    config.zendesk.requests_per_minute = Some(setup.requests_per_minute);
    config.worker.concurrency = setup.workers;
    config
}

impl Harness {
    /// Starts the sandbox, then deskline against it, and waits for the first directory sync.
    pub async fn start(setup: &Setup) -> anyhow::Result<Harness> {
        Harness::start_with(setup, |_| {}).await
    }

    /// Like [`Harness::start`], with the benchmark's configuration changed by `configure`
    /// (another source, a connector) before it is validated.
    pub async fn start_with(
        setup: &Setup,
        configure: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Harness> {
        Harness::start_on(setup, configure, None).await
    }

    /// Like [`Harness::start_with`], on a fresh database of the PostgreSQL server at `postgres`
    /// (its URL) instead of a SQLite file when one is given.
    pub async fn start_on(
        setup: &Setup,
        configure: impl FnOnce(&mut Config),
        postgres: Option<&str>,
    ) -> anyhow::Result<Harness> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let sandbox_listener = TcpListener::bind("127.0.0.1:0").await?;
        let sandbox = zendesk_sandbox::start(setup.sandbox.clone(), sandbox_listener)
            .await
            .context("the sandbox does not start")?;
        let sandbox_url = sandbox.base_url.clone();
        let db = dir.path().join("deskline.db");
        let mut config = config(setup, &sandbox_url, &db);
        configure(&mut config);
        let (store, postgres): (Arc<dyn Store>, _) = match postgres {
            Some(server) => {
                let (database, url) = BenchDatabase::create(server).await?;
                config.storage.url = Some(url.clone());
                (Arc::new(PgStore::connect(&url).await?), Some(database))
            }
            None => (Arc::new(SqliteStore::open(&db).await?), None),
        };
        let resolved = config::validate(config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let runtime = Runtime {
            store: store.clone(),
            zendesk_url: sandbox_url.clone(),
            zendesk_email: SANDBOX_EMAIL.to_string(),
            zendesk_token: SANDBOX_TOKEN.to_string(),
            generated_secrets: BTreeMap::new(),
            admin_token: ADMIN_TOKEN.to_string(),
            clock: app::system_clock(),
            worker_id: "deskline-bench".to_string(),
            recording_link_key: None,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let service = app::start(resolved, runtime, listener)
            .await
            .context("deskline does not start")?;
        let base = format!("http://{}", service.addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build()?;
        let harness = Harness {
            base,
            sandbox_url,
            store,
            http,
            sandbox: Some(sandbox),
            service: Some(service),
            dir,
            postgres,
        };
        harness.wait_for_directory().await?;
        Ok(harness)
    }

    async fn wait_for_directory(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .store
            .directory_status()
            .await?
            .last_synced_at
            .is_none()
        {
            if Instant::now() > deadline {
                bail!("the agent directory was not synced within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Provisions the sandbox as `deskline zendesk provision` does (the replies trigger and
    /// both webhooks, pointing at this service's `/zendesk/webhook`).
    pub async fn provision(&self) -> anyhow::Result<()> {
        let service = self.service.as_ref().context("the service is stopped")?;
        let endpoint = reqwest::Url::parse(&format!("{}/zendesk/webhook", self.base))?;
        deskline_server::provision::provision(
            &service.state.zendesk,
            self.store.as_ref(),
            &endpoint,
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("provisioning the sandbox: {e}"))?;
        Ok(())
    }

    /// The directory holding the SQLite database.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Stops the service (letting jobs in flight settle), then the sandbox.
    pub async fn stop(mut self) {
        if let Some(s) = self.service.take() {
            s.shutdown().await;
        }
        if let Some(s) = self.sandbox.take() {
            s.shutdown().await;
        }
        if let Some(db) = self.postgres.take() {
            db.drop_now().await;
        }
    }

    /// A request to the sandbox as its admin.
    pub async fn sandbox(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sandbox_url))
            .basic_auth(format!("{SANDBOX_EMAIL}/token"), Some(SANDBOX_TOKEN));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("sandbox {path}: {status} {v}");
        }
        Ok(v)
    }

    /// The sandbox's request-log entries after `since`.
    pub async fn requests_since(&self, since: u64) -> anyhow::Result<Vec<Value>> {
        let v = self
            .sandbox(
                reqwest::Method::GET,
                &format!("/sandbox/requests?since={since}"),
                None,
            )
            .await?;
        Ok(v["requests"].as_array().cloned().unwrap_or_default())
    }

    /// Jobs by state.
    pub async fn jobs(&self) -> anyhow::Result<BTreeMap<JobState, u64>> {
        Ok(self.store.count_jobs_by_state().await?)
    }

    /// Waits until `completed` jobs are completed and none is available, running or
    /// retryable; fails on a dead-lettered job or after `limit`.
    pub async fn wait_completed(&self, completed: u64, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let jobs = self.jobs().await?;
            let n = |s: JobState| jobs.get(&s).copied().unwrap_or(0);
            if n(JobState::Discarded) > 0 {
                bail!("{} job(s) went to the dead letter", n(JobState::Discarded));
            }
            let pending = n(JobState::Available) + n(JobState::Running) + n(JobState::Retryable);
            if pending == 0 && n(JobState::Completed) >= completed {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("jobs did not finish within {limit:?}: {jobs:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The last sequence number in a request log (or `since` when it is empty).
pub fn last_seq(entries: &[Value], since: u64) -> u64 {
    entries
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .max()
        .unwrap_or(since)
}

/// Peak and current resident memory of this process, in KiB (Linux; `None` elsewhere).
pub fn memory_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

impl Harness {
    /// Posts After-Call bodies to `/hooks/myoperator` with `concurrency` clients; a 2xx is a
    /// good answer.
    pub async fn post_calls(
        &self,
        bodies: Arc<Vec<Vec<u8>>>,
        concurrency: usize,
    ) -> crate::load::LoadResult {
        let url = format!("{}/hooks/myoperator", self.base);
        let http = self.http.clone();
        let n = bodies.len();
        let make: crate::load::MakeRequest = Arc::new(move |i| {
            http.post(&url)
                .header("X-Deskline-Secret", SECRET)
                .header("content-type", "application/json")
                .body(bodies[i].clone())
        });
        crate::load::run(n, concurrency, make, |s| s.is_success()).await
    }
}

impl Harness {
    /// Seconds until the sandbox's current rate-limit window closes, from its
    /// `ratelimit-reset` header (this request counts in that window).
    pub async fn window_reset(&self) -> anyhow::Result<u64> {
        let r = self
            .http
            .get(format!("{}/api/v2/users/me", self.sandbox_url))
            .basic_auth(format!("{SANDBOX_EMAIL}/token"), Some(SANDBOX_TOKEN))
            .send()
            .await?;
        let reset = r
            .headers()
            .get("ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        reset.context("the sandbox sent no ratelimit-reset header")
    }
}
