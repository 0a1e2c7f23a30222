//! The hook through which the client's owner shares what one request learns with every other
//! request: a 429 (or a 503 with `Retry-After`) pauses all of them, in this process and in any
//! other that reads the same record, and each request reports whether Zendesk answered at all
//! (for a circuit breaker). The client knows nothing of where the pause is kept.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::budget::Endpoint;

/// A boxed future, so the trait stays object-safe without a macro.
pub type GateFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether a sent request reached Zendesk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Zendesk answered with this status (any status: a 4xx still proves it is up).
    Answered(u16),
    /// Zendesk answered with a server error that says it is out (5xx without `Retry-After`).
    Failed(u16),
    /// No answer: no connection, a timeout, or a connection dropped before the answer.
    NoAnswer,
}

/// Consulted before every request and told about every answer.
pub trait RequestGate: Send + Sync + 'static {
    /// How long requests must still wait (a recorded pause), or `None` to send now. Read
    /// before each request, so a pause recorded by another process is honoured too.
    fn wait(&self) -> GateFuture<'_, Option<Duration>>;

    /// Zendesk asked every client to wait `wait` (429, or 503 with `Retry-After`); `reason`
    /// is the error as the client reports it. Awaited before the request's error is returned,
    /// so the pause is recorded before anyone acts on that error.
    fn pause(&self, wait: Duration, reason: String) -> GateFuture<'_, ()>;

    /// How a sent request ended.
    fn reached(&self, reach: Reach);

    /// Waits until a budget shared with other processes lets one request to `endpoint` go out:
    /// Zendesk counts requests per account, whatever number of processes send them. Called
    /// after the client's own (per-process) budget has let the request through. Nothing is
    /// shared unless the owner keeps such a budget.
    fn take_slot(&self, endpoint: Endpoint) -> GateFuture<'_, ()> {
        let _ = endpoint;
        Box::pin(std::future::ready(()))
    }
}
