//! The listener and the "front door" every request passes: fault injection, the account-wide
//! rate limit, rate-limit headers and the request log, before the router sees it.
//!
//! The accept loop is written with hyper directly (not `axum::serve`) because a dropped
//! connection fault needs the service to fail, which makes hyper close the connection without
//! answering; axum's own server never lets a handler do that.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::Router;
use chrono::Utc;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::app::{lock, AppState, Shared};
use crate::config::SandboxConfig;
use crate::faults::FaultDecision;
use crate::limits::Admission;
use crate::persist;
use crate::reqlog::RequestEntry;
use crate::seed::SeedError;

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener's address could not be read.
    #[error("cannot read the listening address: {0}")]
    Address(#[from] std::io::Error),
    /// The seed is unusable.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// The state file exists but cannot be read.
    #[error("cannot restore state from {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A fault setting is out of range.
    #[error("invalid fault setting: {0}")]
    Faults(String),
}

/// A running sandbox.
pub struct SandboxHandle {
    /// Base URL clients should use, e.g. `http://127.0.0.1:8925`.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SandboxHandle {
    /// Stops accepting connections and saves the state file, if any.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        persist::save_now(&self.state).await;
    }

    /// Number of tickets the account holds (for quick checks in tests).
    pub fn ticket_count(&self) -> usize {
        self.state.lock_account().tickets.len()
    }
}

/// Starts a sandbox on an already-bound listener (bind `127.0.0.1:0` in tests).
pub async fn start(
    config: SandboxConfig,
    listener: TcpListener,
) -> Result<SandboxHandle, StartError> {
    config.faults.validate().map_err(StartError::Faults)?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let now = Utc::now();
    let (seeded, passwords) = config.seed.build(&config.admin_email, now)?;
    let account = match &config.state_file {
        Some(path) => persist::load(path)
            .map_err(|reason| StartError::State {
                path: path.display().to_string(),
                reason,
            })?
            .unwrap_or(seeded),
        None => seeded,
    };
    let state: AppState = Arc::new(Shared::new(config, base_url.clone(), account, passwords));
    let router = crate::routes::router(state.clone());
    let (shutdown, stop) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(accept_loop(
        listener,
        state.clone(),
        router,
        stop.clone(),
    ))];
    if state.config.state_file.is_some() {
        tasks.push(tokio::spawn(persist::save_periodically(
            state.clone(),
            stop,
        )));
    }
    Ok(SandboxHandle {
        base_url,
        addr,
        state,
        shutdown,
        tasks,
    })
}

async fn accept_loop(
    listener: TcpListener,
    state: AppState,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _peer)) = accepted else {
            continue;
        };
        let state = state.clone();
        let router = router.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                front_door(state.clone(), router.clone(), req)
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// The error that makes hyper drop a connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(text.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn set_header(response: &mut Response<Body>, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        response.headers_mut().insert(name, v);
    }
}

async fn front_door(
    state: AppState,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let started = Instant::now();
    let at = Utc::now();
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let is_api = req.uri().path().starts_with("/api/");
    if !is_api {
        return Ok(call(router, req).await);
    }
    let mut entry = RequestEntry {
        seq: 0,
        at,
        method,
        path,
        status: 0,
        idempotency_lookup: None,
        duration_ms: 0,
        fault: None,
        retry_after: None,
    };
    let latency = state.faults.latency();
    if !latency.is_zero() {
        entry.fault = Some("latency");
        tokio::time::sleep(latency).await;
    }
    let limit = state.limits.account.limit();
    let response = match state.faults.decide(Instant::now()) {
        FaultDecision::Drop => {
            entry.fault = Some("dropped");
            finish(&state, entry, started);
            return Err(Dropped);
        }
        FaultDecision::ServerError(code) => {
            entry.fault = Some("server_error");
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            plain(status, status.canonical_reason().unwrap_or("Server Error"))
        }
        FaultDecision::Storm { retry_after } => {
            entry.fault = Some("storm");
            let mut r = plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            set_header(&mut r, "retry-after", retry_after);
            set_header(&mut r, "x-rate-limit", limit);
            set_header(&mut r, "x-rate-limit-remaining", 0);
            r
        }
        FaultDecision::Pass => match state.limits.account.admit((), Instant::now()) {
            Admission::Refused { retry_after } => {
                let mut r = plain(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too Many Requests: the account's API rate limit is exhausted",
                );
                set_header(&mut r, "retry-after", retry_after);
                set_header(&mut r, "x-rate-limit", limit);
                set_header(&mut r, "x-rate-limit-remaining", 0);
                set_header(&mut r, "ratelimit-limit", limit);
                set_header(&mut r, "ratelimit-remaining", 0);
                set_header(&mut r, "ratelimit-reset", retry_after);
                r
            }
            Admission::Allowed {
                remaining,
                resets_in,
            } => {
                let mut r = call(router, req).await;
                set_header(&mut r, "x-rate-limit", limit);
                set_header(&mut r, "x-rate-limit-remaining", remaining);
                set_header(&mut r, "ratelimit-limit", limit);
                set_header(&mut r, "ratelimit-remaining", remaining);
                set_header(&mut r, "ratelimit-reset", resets_in);
                r
            }
        },
    };
    entry.status = response.status().as_u16();
    entry.idempotency_lookup = response
        .headers()
        .get("x-idempotency-lookup")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    entry.retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    finish(&state, entry, started);
    Ok(response)
}

fn finish(state: &AppState, mut entry: RequestEntry, started: Instant) {
    entry.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    lock(&state.request_log).push(entry);
}

/// Zendesk serves every API path with or without a `.json` suffix; the routes are declared
/// without it.
fn strip_json_suffix<B>(req: &mut Request<B>) {
    let uri = req.uri();
    let Some(trimmed) = uri.path().strip_suffix(".json") else {
        return;
    };
    let rebuilt = match uri.query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    if let Ok(new_uri) = rebuilt.parse() {
        *req.uri_mut() = new_uri;
    }
}

async fn call(router: Router, mut req: Request<Incoming>) -> Response<Body> {
    strip_json_suffix(&mut req);
    match router.oneshot(req.map(Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
