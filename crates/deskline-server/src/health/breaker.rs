//! The circuit breaker: several Zendesk requests in a row that got no answer (or a 5xx) mean
//! the helpdesk is out, not that the jobs are wrong. While it is open the queue pauses and
//! probes again at growing intervals; any answer closes it.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// When the breaker opens and how it probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Failed requests in a row (across jobs and checks) that open it.
    pub failures: u32,
    /// The first wait before a probe; doubled after each failed probe.
    pub first_probe: Duration,
    /// The longest wait between probes.
    pub max_probe: Duration,
}

/// The breaker, shared by every request of the process.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    in_a_row: u32,
    last_error: Option<String>,
    open: Option<Open>,
}

/// An open breaker, as `/readyz` and `deskline status` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Open {
    /// When it opened.
    pub since: DateTime<Utc>,
    /// When the queue tries Zendesk again.
    pub next_probe: DateTime<Utc>,
    /// Failed requests in a row so far.
    pub failures: u32,
    /// The latest failure.
    pub last_error: String,
    #[serde(skip)]
    interval: Duration,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Breaker {
        Breaker {
            settings: BreakerSettings {
                failures: settings.failures.max(1),
                ..settings
            },
            state: Mutex::default(),
        }
    }

    /// Its settings.
    pub fn settings(&self) -> BreakerSettings {
        self.settings
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Plain counters: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Zendesk answered: closes the breaker. Returns the open state it ended, if any.
    pub fn answered(&self) -> Option<Open> {
        let mut s = self.state();
        s.in_a_row = 0;
        s.last_error = None;
        s.open.take()
    }

    /// A request failed for want of Zendesk at `now`; counts it. A failed probe (the first
    /// failure once `next_probe` has come) doubles the interval, once per round however many
    /// requests of that round fail.
    pub fn failed(&self, now: DateTime<Utc>, error: &str) {
        let settings = self.settings;
        let mut s = self.state();
        s.in_a_row = s.in_a_row.saturating_add(1);
        s.last_error = Some(error.to_string());
        let in_a_row = s.in_a_row;
        match &mut s.open {
            Some(open) => {
                open.failures = in_a_row;
                open.last_error = error.to_string();
                if now >= open.next_probe {
                    open.interval = (open.interval * 2).min(settings.max_probe);
                    open.next_probe = now + chrono_duration(open.interval);
                }
            }
            None if in_a_row >= settings.failures => {
                let interval = settings.first_probe.min(settings.max_probe);
                s.open = Some(Open {
                    since: now,
                    next_probe: now + chrono_duration(interval),
                    failures: in_a_row,
                    last_error: error.to_string(),
                    interval,
                });
            }
            None => {}
        }
    }

    /// The open state, if the breaker is open.
    pub fn open(&self) -> Option<Open> {
        self.state().open.clone()
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::minutes(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            failures: 3,
            first_probe: Duration::from_secs(5),
            max_probe: Duration::from_secs(15),
        })
    }

    #[test]
    fn opens_after_failures_in_a_row_and_an_answer_closes_it() {
        let b = breaker();
        let t0 = Utc::now();
        b.failed(t0, "refused");
        b.failed(t0, "refused");
        b.answered();
        b.failed(t0, "refused");
        b.failed(t0, "refused");
        assert!(
            b.open().is_none(),
            "an answer in between starts the count again"
        );
        b.failed(t0, "HTTP 502");
        let open = b.open().expect("three in a row open it");
        assert_eq!(open.next_probe, t0 + chrono::Duration::seconds(5));
        assert_eq!(open.last_error, "HTTP 502");
        assert!(b.answered().is_some());
        assert!(b.open().is_none());
    }

    #[test]
    fn failed_probes_double_the_interval_once_per_round_up_to_the_cap() {
        let b = breaker();
        let t0 = Utc::now();
        for _ in 0..3 {
            b.failed(t0, "refused");
        }
        let s = chrono::Duration::seconds;
        // Failures before the probe is due change nothing.
        b.failed(t0 + s(1), "refused");
        assert_eq!(b.open().map(|o| o.next_probe), Some(t0 + s(5)));
        // The probe round at 5 s fails: 10 s; a second failure of that round adds nothing.
        b.failed(t0 + s(5), "refused");
        b.failed(t0 + s(5), "refused");
        assert_eq!(b.open().map(|o| o.next_probe), Some(t0 + s(15)));
        // Next round: 20 s, capped at 15 s.
        b.failed(t0 + s(15), "refused");
        assert_eq!(b.open().map(|o| o.next_probe), Some(t0 + s(30)));
    }
}
