//! What handlers and workers share.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deskline_store::Store;
use deskline_zendesk::ZendeskClient;

use crate::config::{ResolvedSource, WorkerConfig};

/// Where "now" comes from; tests inject a fixed clock.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A source as the service runs it: configuration plus its secret.
#[derive(Debug)]
pub struct Source {
    /// The checked configuration.
    pub config: ResolvedSource,
    /// The shared secret (configured or generated).
    pub secret: String,
}

/// Shared by every handler and worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Events, jobs, links and the directory.
    pub store: Arc<dyn Store>,
    /// The Zendesk client.
    pub zendesk: ZendeskClient,
    /// Sources by name.
    pub sources: Arc<BTreeMap<String, Source>>,
    /// Bearer token for `/admin/*` and `/metrics`.
    pub admin_token: Arc<str>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Worker settings.
    pub worker: Arc<WorkerConfig>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}
