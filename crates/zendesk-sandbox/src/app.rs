//! The state every handler shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::SandboxConfig;
use crate::delivery::DeliveryLog;
use crate::faults::Faults;
use crate::idempotency::IdempotencyCache;
use crate::limits::Limits;
use crate::model::Account;
use crate::reqlog::RequestLog;

/// Handle to the shared state, cheap to clone.
pub type AppState = Arc<Shared>;

/// One sandbox instance's state. Locks are std mutexes held only for short, synchronous
/// sections, never across an `.await`.
pub struct Shared {
    /// The configuration the sandbox started with.
    pub config: SandboxConfig,
    /// Where the sandbox answers, e.g. `http://127.0.0.1:8925`.
    pub base_url: String,
    account: Mutex<Account>,
    /// Agent passwords by lower-cased email (see `auth`).
    pub passwords: HashMap<String, String>,
    /// Remembered `Idempotency-Key`s.
    pub idempotency: Mutex<IdempotencyCache>,
    /// Account-wide and endpoint rate limits.
    pub limits: Limits,
    /// Fault injection controls.
    pub faults: Faults,
    /// What was asked of the sandbox, for tests and benchmarks.
    pub request_log: Mutex<RequestLog>,
    /// Webhook deliveries and their attempts.
    pub deliveries: Mutex<DeliveryLog>,
    /// HTTP client for webhook deliveries.
    pub http: reqwest::Client,
    dirty: AtomicBool,
}

impl Shared {
    /// Builds the state around an account.
    pub fn new(
        config: SandboxConfig,
        base_url: String,
        account: Account,
        passwords: HashMap<String, String>,
    ) -> Shared {
        let limits = Limits::new(&config);
        let faults = Faults::new(config.faults.clone());
        let request_log = RequestLog::new(config.request_log_capacity);
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Shared {
            config,
            base_url,
            account: Mutex::new(account),
            passwords,
            idempotency: Mutex::new(IdempotencyCache::default()),
            limits,
            faults,
            request_log: Mutex::new(request_log),
            deliveries: Mutex::new(DeliveryLog::default()),
            http,
            dirty: AtomicBool::new(false),
        }
    }

    /// Locks the account for reading.
    pub fn lock_account(&self) -> MutexGuard<'_, Account> {
        lock(&self.account)
    }

    /// Locks the account for a change; the state file is rewritten afterwards.
    pub fn change_account(&self) -> MutexGuard<'_, Account> {
        self.dirty.store(true, Ordering::Release);
        lock(&self.account)
    }

    /// Takes the "changed since last save" flag.
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }

    /// The API URL of a resource, e.g. `url_for("tickets", 7)`.
    pub fn url_for(&self, collection: &str, id: impl std::fmt::Display) -> String {
        format!("{}/api/v2/{collection}/{id}.json", self.base_url)
    }
}

/// Locks a mutex, recovering from poisoning: a panicked handler must not take the sandbox down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
