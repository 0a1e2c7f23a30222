//! Wires the parts together and runs them: the HTTP server (ingress, admin, health, metrics),
//! the worker, the directory sync and the rescuer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use deskline_store::Store;
use deskline_zendesk::{Secret, ZendeskClient, ZendeskConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Resolved, ZendeskTarget};
use crate::health::gate::StoreGate;
use crate::health::shared_budget::SharedBudget;
use crate::health::{BreakerSettings, HelpdeskHealth};
use crate::state::{AppState, Clock, Source, SystemClock};
use crate::worker::reply_delivery::OUTBOUND_QUEUE;
use crate::worker::{self, call_ticket::ZENDESK_QUEUE, directory};
use crate::{admin, ingress, observe, periodic, recordings};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Zendesk client could not be built.
    #[error("Zendesk client: {0}")]
    Zendesk(String),
    /// A source has no secret.
    #[error("source {0:?} has no secret")]
    MissingSecret(String),
    /// A source uses deskline's recording links and there is no usable key to sign them.
    #[error("recording links: {0}")]
    RecordingLinks(String),
    /// The listener's address is unreadable.
    #[error("cannot read the listening address: {0}")]
    Address(#[from] std::io::Error),
}

/// Everything `start` needs besides the checked configuration.
pub struct Runtime {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Where Zendesk is, with credentials (the sandbox's when in sandbox mode).
    pub zendesk_url: String,
    /// The email deskline acts as.
    pub zendesk_email: String,
    /// The API token.
    pub zendesk_token: String,
    /// Secrets of sources that have none configured (generated ones).
    pub generated_secrets: BTreeMap<String, String>,
    /// The admin token.
    pub admin_token: String,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Identifies this instance's worker in the job table.
    pub worker_id: String,
    /// The key signing recording links when `server.recording_link_key` is not set (a generated
    /// one, kept with the other generated secrets so links in tickets survive restarts).
    pub recording_link_key: Option<String>,
}

impl Runtime {
    /// Zendesk connection details from the configuration (remote accounts only).
    pub fn remote_zendesk(resolved: &Resolved) -> Option<(String, String, String)> {
        match &resolved.zendesk {
            ZendeskTarget::Remote {
                base_url,
                email,
                api_token,
            } => Some((base_url.clone(), email.clone(), api_token.clone())),
            ZendeskTarget::Sandbox => None,
        }
    }
}

/// A running service.
pub struct Service {
    /// The address the HTTP server listens on.
    pub addr: SocketAddr,
    /// The shared state (for tests and the CLI).
    pub state: AppState,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Service {
    /// Stops accepting requests and lets jobs in flight record their outcome.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Stops every task at once, as a crash would: jobs in flight record nothing, leases are
    /// neither renewed nor released. For tests of what the other instances do then.
    pub async fn abort(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The full HTTP router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(ingress::router())
        .merge(crate::zendesk_hook::router())
        .merge(crate::sessions::router())
        .merge(admin::router(state.clone()))
        .merge(observe::router())
        .merge(recordings::router())
        // The ingress reads its body with its own, precise limit; this one guards the rest.
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state)
}

/// Starts every role on `listener`.
pub async fn start(
    resolved: Resolved,
    runtime: Runtime,
    listener: TcpListener,
) -> Result<Service, StartError> {
    crate::telemetry::metrics_handle();
    let recording_links = recording_links(&resolved, runtime.recording_link_key.as_deref())?;
    let mut zconfig = ZendeskConfig::new(
        runtime.zendesk_url.clone(),
        runtime.zendesk_email.clone(),
        Secret::new(runtime.zendesk_token.clone()),
    );
    zconfig.requests_per_minute = resolved.requests_per_minute;
    zconfig.ticket_updates_per_minute = resolved.ticket_updates_per_minute;
    zconfig.timeout = resolved.config.zendesk.timeout;
    let z = &resolved.config.zendesk;
    let helpdesk = Arc::new(HelpdeskHealth::new(
        BreakerSettings {
            failures: z.outage_after_failures,
            first_probe: z.outage_first_probe,
            max_probe: z.outage_max_probe,
        },
        z.recheck_interval,
    ));
    // Every request, from workers, checks, the directory sync, provisioning and admin
    // look-ups, goes through the store's shared pause and budget, and feeds the breaker.
    let zendesk = ZendeskClient::new(&zconfig).map_err(|e| StartError::Zendesk(e.to_string()))?;
    let gate = StoreGate::new(
        runtime.store.clone(),
        runtime.clock.clone(),
        helpdesk.breaker.clone(),
    )
    .with_shared_budget(SharedBudget::for_client(&zendesk, &zconfig));
    let zendesk = zendesk.with_gate(Arc::new(gate));
    let zendesk_address_key = resolved.zendesk_address_key();
    let mut sources = BTreeMap::new();
    for source in resolved.sources {
        let secret = source
            .secret
            .clone()
            .or_else(|| runtime.generated_secrets.get(&source.name).cloned())
            .ok_or_else(|| StartError::MissingSecret(source.name.clone()))?;
        sources.insert(
            source.name.clone(),
            Source {
                config: source,
                secret,
            },
        );
    }
    let ingest = crate::ingest_writer::IngestWriter::start(runtime.store.clone());
    let state = AppState {
        store: runtime.store,
        ingest,
        zendesk,
        sources: Arc::new(sources),
        admin_token: Arc::from(runtime.admin_token.as_str()),
        max_body_bytes: resolved.config.server.max_body_bytes,
        signed_max_body_bytes: resolved
            .config
            .server
            .signed_max_body_bytes
            .min(resolved.config.server.max_body_bytes),
        zendesk_webhook_secret: resolved
            .config
            .zendesk
            .webhook_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Arc::from),
        zendesk_webhook_max_skew: resolved.config.zendesk.webhook_max_skew,
        voice_session_wait: resolved.config.zendesk.voice_session_wait,
        public_url: resolved
            .config
            .server
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_string()),
        worker: Arc::new(resolved.config.worker.clone()),
        clock: runtime.clock,
        requester_locks: Arc::default(),
        instance_id: Arc::from(runtime.worker_id.as_str()),
        recording_links,
        connectors: Arc::new(resolved.connectors),
        queue_signals: Arc::default(),
        helpdesk,
        zendesk_address_key,
        outbound: reqwest::Client::builder()
            .user_agent(concat!("deskline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                StartError::Zendesk(format!("cannot build the outbound HTTP client: {e}"))
            })?,
    };
    crate::zendesk_hook::warn_if_configured_secret_differs(&state).await;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let app = router(state.clone());
    let limits = crate::listener::Limits::from_config(&resolved.config.server);
    let mut tasks = vec![tokio::spawn(crate::listener::serve(
        listener,
        app,
        limits,
        stopped.clone(),
    ))];
    // Periodic work runs on whichever instance holds the lease; alone, that is this one.
    let (election, leadership) =
        periodic::elect(&state, runtime.worker_id.clone(), stopped.clone());
    tasks.push(election);
    // The account is checked in the background: ingress already answers, whatever Zendesk does.
    tasks.push(tokio::spawn(crate::health::checker::run(
        state.clone(),
        zendesk_address_key.to_string(),
        stopped.clone(),
    )));
    if let Some(wakeups) = state.store.job_wakeups() {
        tasks.push(tokio::spawn(
            state.queue_signals.clone().follow(wakeups, stopped.clone()),
        ));
    }
    tasks.push(tokio::spawn(directory::sync_periodically(
        state.clone(),
        resolved.config.directory.sync_interval,
        leadership.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(periodic::rescue_periodically(
        state.clone(),
        leadership.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(periodic::prune_periodically(
        state.clone(),
        resolved.config.retention.clone(),
        leadership,
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(worker::run(
        state.clone(),
        OUTBOUND_QUEUE,
        format!("{}-outbound", runtime.worker_id),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(worker::run(
        state.clone(),
        ZENDESK_QUEUE,
        runtime.worker_id,
        stopped,
    )));
    Ok(Service {
        addr,
        state,
        stop,
        tasks,
    })
}

/// The recording links' signer: from `server.recording_link_key`, else the runtime's key. Made
/// whenever a key exists, so links already in tickets keep opening after a source switches back
/// to provider links; required when a source uses deskline links.
fn recording_links(
    resolved: &Resolved,
    runtime_key: Option<&str>,
) -> Result<Option<Arc<recordings::RecordingLinks>>, StartError> {
    let key = resolved
        .config
        .server
        .recording_link_key
        .as_deref()
        .or(runtime_key)
        .map(str::trim);
    let links = recordings::links_from_key(key).map_err(StartError::RecordingLinks)?;
    let needing = resolved
        .sources
        .iter()
        .find(|s| s.recordings.deskline_links());
    match (&links, needing) {
        (None, Some(source)) => Err(StartError::RecordingLinks(format!(
            "source {:?} uses link = \"deskline\", but no signing key was given; set \
             server.recording_link_key (at least 32 bytes, e.g. `openssl rand -hex 32`)",
            source.name
        ))),
        _ => Ok(links),
    }
}

/// The system clock, shared.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
