//! Rate limits: the account-wide budget and the endpoint limits deskline meets.
//!
//! Fixed windows, like Zendesk's per-minute accounting: a window opens with the first request
//! and the budget resets when it closes. `Retry-After` is the time until the window closes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::app::lock;
use crate::config::SandboxConfig;

/// A counter over a fixed window.
#[derive(Debug)]
struct Window {
    opened: Instant,
    used: u32,
}

/// The outcome of asking a limiter for one more request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Allowed; this many remain in the window.
    Allowed {
        /// Requests left in the current window.
        remaining: u32,
        /// Seconds until the window resets.
        resets_in: u64,
    },
    /// Refused; retry after this many seconds.
    Refused {
        /// Seconds until the window resets (at least 1).
        retry_after: u64,
    },
}

/// A set of fixed-window counters keyed by `K`.
#[derive(Debug)]
pub struct Limiter<K> {
    limit: Mutex<u32>,
    window: Duration,
    windows: Mutex<HashMap<K, Window>>,
}

fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl<K: std::hash::Hash + Eq> Limiter<K> {
    /// `limit` requests per `window` for each key.
    pub fn new(limit: u32, window: Duration) -> Limiter<K> {
        Limiter {
            limit: Mutex::new(limit),
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The budget per window.
    pub fn limit(&self) -> u32 {
        *lock(&self.limit)
    }

    /// Changes the budget (the current window keeps what it has used).
    pub fn set_limit(&self, limit: u32) {
        *lock(&self.limit) = limit;
    }

    /// Counts one request for `key` if the budget allows it.
    pub fn admit(&self, key: K, now: Instant) -> Admission {
        let limit = self.limit();
        let mut windows = lock(&self.windows);
        if windows.len() > 10_000 {
            let window = self.window;
            windows.retain(|_, w| now.duration_since(w.opened) < window);
        }
        let w = windows.entry(key).or_insert(Window {
            opened: now,
            used: 0,
        });
        if now.duration_since(w.opened) >= self.window {
            w.opened = now;
            w.used = 0;
        }
        let left_in_window = self.window.saturating_sub(now.duration_since(w.opened));
        if w.used >= limit {
            return Admission::Refused {
                retry_after: ceil_secs(left_in_window),
            };
        }
        w.used += 1;
        Admission::Allowed {
            remaining: limit - w.used,
            resets_in: ceil_secs(left_in_window),
        }
    }
}

/// Every limit the sandbox enforces.
#[derive(Debug)]
pub struct Limits {
    /// Account-wide requests per window.
    pub account: Limiter<()>,
    /// `create_or_update` per second per account.
    pub create_or_update: Limiter<()>,
    /// `create_or_update` per minute per user profile (keyed by email or external id).
    pub create_or_update_per_user: Limiter<String>,
    /// Ticket updates per ten minutes per (acting user, ticket).
    pub ticket_updates_per_ticket: Limiter<(u64, u64)>,
    /// Ticket updates per minute per account.
    pub ticket_updates: Limiter<()>,
}

impl Limits {
    /// The limits a configuration asks for.
    pub fn new(config: &SandboxConfig) -> Limits {
        Limits {
            account: Limiter::new(config.effective_rate_limit(), config.rate_window),
            create_or_update: Limiter::new(
                config.create_or_update_per_second,
                Duration::from_secs(1),
            ),
            create_or_update_per_user: Limiter::new(5, Duration::from_secs(60)),
            ticket_updates_per_ticket: Limiter::new(
                config.ticket_updates_per_ticket,
                Duration::from_secs(600),
            ),
            ticket_updates: Limiter::new(
                config.plan.ticket_updates_per_minute(),
                Duration::from_secs(60),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_budget_and_reopens_after_the_window() {
        let limiter: Limiter<()> = Limiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(
            limiter.admit((), t0),
            Admission::Allowed {
                remaining: 1,
                resets_in: 10
            }
        );
        assert!(matches!(
            limiter.admit((), t0),
            Admission::Allowed { remaining: 0, .. }
        ));
        assert_eq!(
            limiter.admit((), t0 + Duration::from_millis(2500)),
            Admission::Refused { retry_after: 8 }
        );
        assert!(matches!(
            limiter.admit((), t0 + Duration::from_secs(10)),
            Admission::Allowed { remaining: 1, .. }
        ));
    }

    #[test]
    fn keys_are_counted_apart() {
        let limiter: Limiter<u64> = Limiter::new(1, Duration::from_secs(60));
        let now = Instant::now();
        assert!(matches!(limiter.admit(1, now), Admission::Allowed { .. }));
        assert!(matches!(limiter.admit(2, now), Admission::Allowed { .. }));
        assert!(matches!(limiter.admit(1, now), Admission::Refused { .. }));
    }
}
