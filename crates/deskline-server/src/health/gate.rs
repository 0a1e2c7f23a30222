//! The Zendesk client's gate, kept in the store: a 429 (or a 503 with `Retry-After`) seen by
//! any request is written as the shared pause, and every request of every process reads it
//! before sending, so a restarted process honours a `Retry-After` an earlier one received.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deskline_store::Store;
use deskline_zendesk::{Endpoint, GateFuture, Reach, RequestGate};

use super::breaker::Breaker;
use super::shared_budget::SharedBudget;
use crate::state::Clock;
use crate::worker::call_ticket::ZENDESK_QUEUE;

/// The key of the pause every Zendesk request honours, in the store's pause table. It is not
/// a queue: a pause of the Zendesk queue (a rejected token, an outage) stops the workers but
/// not the checks that find out whether the cause is gone; this one stops everything.
pub const ZENDESK_API_PAUSE: &str = "zendesk-api";

/// Longest pause recorded from one answer, whatever `Retry-After` says.
const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// A [`RequestGate`] over the store, feeding the process's breaker.
pub struct StoreGate {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    breaker: Arc<Breaker>,
    /// The account's request budget shared with other instances, when kept.
    budget: Option<SharedBudget>,
    /// The latest pause this process knows of: honoured when the store cannot be read.
    known: Mutex<Option<DateTime<Utc>>>,
}

impl StoreGate {
    /// A gate over `store`, reporting reachability to `breaker`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, breaker: Arc<Breaker>) -> Self {
        StoreGate {
            store,
            clock,
            breaker,
            budget: None,
            known: Mutex::new(None),
        }
    }

    /// The same gate also taking each request's slot from `budget` in the store.
    pub fn with_shared_budget(mut self, budget: SharedBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    fn remember(&self, until: DateTime<Utc>) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        *known = Some(known.map_or(until, |k| k.max(until)));
    }

    fn known_left(&self, now: DateTime<Utc>) -> Option<Duration> {
        let known = *self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.and_then(|until| (until - now).to_std().ok().filter(|d| !d.is_zero()))
    }
}

impl RequestGate for StoreGate {
    fn wait(&self) -> GateFuture<'_, Option<Duration>> {
        Box::pin(async move {
            let now = self.clock.now();
            match self.store.queue_paused_until(ZENDESK_API_PAUSE, now).await {
                Ok(Some(pause)) => {
                    self.remember(pause.paused_until);
                    (pause.paused_until - now)
                        .to_std()
                        .ok()
                        .filter(|d| !d.is_zero())
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the shared Zendesk pause; using what this process knows");
                    self.known_left(now)
                }
            }
        })
    }

    fn pause(&self, wait: Duration, reason: String) -> GateFuture<'_, ()> {
        Box::pin(async move {
            let now = self.clock.now();
            let until = now
                + chrono::Duration::from_std(wait.min(MAX_PAUSE))
                    .unwrap_or(chrono::Duration::seconds(10));
            self.remember(until);
            tracing::warn!(%until, %reason, "Zendesk asked to wait: every request pauses");
            // The queue too, so workers stop claiming jobs that could not be sent anyway.
            for key in [ZENDESK_API_PAUSE, ZENDESK_QUEUE] {
                if let Err(e) = self.store.pause_queue(key, until, &reason).await {
                    tracing::error!(error = %e, key, "cannot record the Zendesk pause");
                }
            }
        })
    }

    fn take_slot(&self, endpoint: Endpoint) -> GateFuture<'_, ()> {
        Box::pin(async move {
            if let Some(budget) = &self.budget {
                budget.take(&*self.store, &*self.clock, endpoint).await;
            }
        })
    }

    fn reached(&self, reach: Reach) {
        match reach {
            Reach::Answered(_) => {
                if let Some(open) = self.breaker.answered() {
                    tracing::info!(since = %open.since, "Zendesk answers again: the queue resumes");
                }
            }
            Reach::Failed(status) => self
                .breaker
                .failed(self.clock.now(), &format!("HTTP {status}")),
            Reach::NoAnswer => self.breaker.failed(self.clock.now(), "no answer"),
        }
    }
}
