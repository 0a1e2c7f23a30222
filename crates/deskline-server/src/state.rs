//! What handlers and workers share.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};

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
    /// Where ingress stores events: concurrent deliveries share a transaction (group commit).
    pub ingest: crate::ingest_writer::IngestWriter,
    /// The Zendesk client.
    pub zendesk: ZendeskClient,
    /// Sources by name.
    pub sources: Arc<BTreeMap<String, Source>>,
    /// Bearer token for `/admin/*` and `/metrics`.
    pub admin_token: Arc<str>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Largest body of a request whose proof of origin is in its body (never above
    /// `max_body_bytes`): such a body is read before anything vouches for it.
    pub signed_max_body_bytes: usize,
    /// The configured Zendesk webhook signing secret, if any; accepted besides the secrets
    /// provisioning stored.
    pub zendesk_webhook_secret: Option<Arc<str>>,
    /// How long a voice ticket waits for its AI phone session to be registered.
    pub voice_session_wait: std::time::Duration,
    /// Largest accepted distance between a Zendesk webhook's timestamp and now.
    pub zendesk_webhook_max_skew: std::time::Duration,
    /// The public base URL (for signature checks that cover the URL), without a trailing `/`.
    pub public_url: Option<String>,
    /// Worker settings.
    pub worker: Arc<WorkerConfig>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// One requester look-up at a time per number (or shared requester) in this process.
    pub requester_locks: Arc<KeyedLocks>,
    /// This instance's name in the store's leases (its worker id).
    pub instance_id: Arc<str>,
    /// Signs and serves deskline's recording links; `None` when no key is configured.
    pub recording_links: Option<Arc<crate::recordings::RecordingLinks>>,
    /// Where agents' replies are delivered, by conversation channel.
    pub connectors: Arc<crate::config::Connectors>,
    /// The HTTP client for outbound connectors (each request sets its connector's timeout).
    pub outbound: reqwest::Client,
    /// Wakes a queue's idle worker when this process queues a job.
    pub queue_signals: Arc<QueueSignals>,
    /// The helpdesk's health: start-up checks, circuit breaker.
    pub helpdesk: Arc<crate::health::HelpdeskHealth>,
    /// The configuration key that sets Zendesk's address (named in problems).
    pub zendesk_address_key: &'static str,
}

/// Wakes a queue's idle worker as soon as a job is queued in this process, so a job waits for
/// the next poll only when another instance queued it (or it became due by time).
#[derive(Debug, Default)]
pub struct QueueSignals {
    signals: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
}

impl QueueSignals {
    /// The signal of `queue`, which its worker waits on.
    pub fn signal(&self, queue: &str) -> Arc<tokio::sync::Notify> {
        let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        signals.entry(queue.to_string()).or_default().clone()
    }

    /// A job was queued on `queue`. The permit is kept when the worker is busy, so the wake-up
    /// is never lost between its last claim and its next wait.
    pub fn notify(&self, queue: &str) {
        self.signal(queue).notify_one();
    }

    /// Wakes the worker of each queue the store reports new jobs on (jobs another instance
    /// queued, through PostgreSQL's LISTEN/NOTIFY), until `stop` turns true. A missed report
    /// only delays a job until the next poll.
    pub async fn follow(
        self: Arc<Self>,
        mut wakeups: tokio::sync::broadcast::Receiver<String>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                received = wakeups.recv() => match received {
                    Ok(queue) => self.notify(&queue),
                    // Fell behind: some reports were dropped, and polling covers them.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}

/// Locks by key, so jobs of this process do one thing at a time per key (for example, the
/// look-up and creation of one caller's Zendesk user) while other keys proceed.
#[derive(Debug, Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    /// Waits for the lock of `key`; it is released when the guard is dropped.
    pub async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            // The map holds plain weak references: a panic elsewhere cannot leave it broken.
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            // Only keys someone holds or waits for stay, so the map stays small.
            locks.retain(|_, l| l.strong_count() > 0);
            match locks.get(key).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key.to_string(), Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::Poll;

    use super::KeyedLocks;

    /// Whether the lock of `key` can be had right now (polls once, never waits).
    async fn free(locks: &KeyedLocks, key: &str) -> bool {
        let mut lock = std::pin::pin!(locks.lock(key));
        std::future::poll_fn(|cx| Poll::Ready(lock.as_mut().poll(cx).is_ready())).await
    }

    #[tokio::test]
    async fn one_holder_per_key_and_no_leftovers() {
        let locks = KeyedLocks::default();
        let held = locks.lock("phone:+919811122233").await;
        assert!(
            !free(&locks, "phone:+919811122233").await,
            "the same key waits"
        );
        assert!(
            free(&locks, "phone:+14155550100").await,
            "another key does not"
        );
        drop(held);
        assert!(
            free(&locks, "phone:+919811122233").await,
            "released with the guard"
        );
        let _last = locks.lock("shared:x").await;
        let map = locks
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert_eq!(map.len(), 1, "keys nobody holds or waits for are forgotten");
    }
}
