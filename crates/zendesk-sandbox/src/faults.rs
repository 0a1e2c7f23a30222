//! Fault injection: added latency, 5xx answers, dropped connections and 429 storms, so that
//! clients can be tested against the ways Zendesk fails.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::app::lock;

/// The fault controls as set by the command line or `PUT /sandbox/faults`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Milliseconds added before every API answer.
    pub latency_ms: u64,
    /// Fraction (0.0 to 1.0) of API requests answered with a server error instead.
    pub error_rate: f64,
    /// The server errors to pick from, at random.
    pub error_statuses: Vec<u16>,
    /// Fraction (0.0 to 1.0) of API requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Starts a 429 storm lasting this many seconds: every API request is refused with
    /// `Retry-After` counting down to the storm's end.
    pub rate_limit_storm_seconds: u64,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            latency_ms: 0,
            error_rate: 0.0,
            error_statuses: vec![500, 502, 503],
            drop_rate: 0.0,
            rate_limit_storm_seconds: 0,
        }
    }
}

impl FaultSettings {
    /// Checks the settings make sense; the error names the bad setting.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0.0 and 1.0, got {rate}"));
            }
        }
        if self.error_rate > 0.0 && self.error_statuses.is_empty() {
            return Err("error_statuses must not be empty when error_rate is above 0".into());
        }
        if let Some(bad) = self
            .error_statuses
            .iter()
            .find(|s| !(500..=599).contains(*s))
        {
            return Err(format!("error_statuses must be 5xx codes, got {bad}"));
        }
        if self.latency_ms > 120_000 {
            return Err("latency_ms must be at most 120000".into());
        }
        Ok(())
    }
}

/// What the front door should do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultDecision {
    /// Serve it normally.
    Pass,
    /// Close the connection without an answer.
    Drop,
    /// Answer with this server error.
    ServerError(u16),
    /// Answer 429 with this `Retry-After`.
    Storm {
        /// Seconds left in the storm (at least 1).
        retry_after: u64,
    },
}

/// The live fault state.
#[derive(Debug)]
pub struct Faults {
    settings: Mutex<FaultSettings>,
    storm_until: Mutex<Option<Instant>>,
}

/// The fault state as reported by `GET /sandbox/faults`.
#[derive(Clone, Debug, Serialize)]
pub struct FaultReport {
    /// The settings in force.
    #[serde(flatten)]
    pub settings: FaultSettings,
    /// Seconds left in the current 429 storm (0 when none).
    pub storm_remaining_seconds: u64,
}

impl Faults {
    /// Starts with `settings` in force (a storm in them starts now).
    pub fn new(settings: FaultSettings) -> Faults {
        let faults = Faults {
            settings: Mutex::new(FaultSettings::default()),
            storm_until: Mutex::new(None),
        };
        faults.apply(settings, Instant::now());
        faults
    }

    /// Replaces the settings; a non-zero storm length starts a storm now.
    pub fn apply(&self, settings: FaultSettings, now: Instant) {
        if settings.rate_limit_storm_seconds > 0 {
            *lock(&self.storm_until) =
                Some(now + Duration::from_secs(settings.rate_limit_storm_seconds));
        }
        *lock(&self.settings) = FaultSettings {
            rate_limit_storm_seconds: 0,
            ..settings
        };
    }

    /// Ends every fault and any storm.
    pub fn clear(&self) {
        *lock(&self.settings) = FaultSettings::default();
        *lock(&self.storm_until) = None;
    }

    /// The settings and storm state for display.
    pub fn report(&self, now: Instant) -> FaultReport {
        FaultReport {
            settings: lock(&self.settings).clone(),
            storm_remaining_seconds: self.storm_left(now).map_or(0, ceil_secs),
        }
    }

    fn storm_left(&self, now: Instant) -> Option<Duration> {
        let until = (*lock(&self.storm_until))?;
        (until > now).then(|| until - now)
    }

    /// The latency to add to the next request.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(lock(&self.settings).latency_ms)
    }

    /// Decides the fate of one API request.
    pub fn decide(&self, now: Instant) -> FaultDecision {
        if let Some(left) = self.storm_left(now) {
            return FaultDecision::Storm {
                retry_after: ceil_secs(left),
            };
        }
        let settings = lock(&self.settings).clone();
        let mut rng = rand::thread_rng();
        if settings.drop_rate > 0.0 && rng.gen_bool(settings.drop_rate) {
            return FaultDecision::Drop;
        }
        if settings.error_rate > 0.0 && rng.gen_bool(settings.error_rate) {
            let pick = rng.gen_range(0..settings.error_statuses.len());
            return FaultDecision::ServerError(settings.error_statuses[pick]);
        }
        FaultDecision::Pass
    }
}

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storm_counts_down_and_ends() {
        let faults = Faults::new(FaultSettings::default());
        let t0 = Instant::now();
        faults.apply(
            FaultSettings {
                rate_limit_storm_seconds: 3,
                ..FaultSettings::default()
            },
            t0,
        );
        assert_eq!(
            faults.decide(t0 + Duration::from_millis(500)),
            FaultDecision::Storm { retry_after: 3 }
        );
        assert_eq!(
            faults.decide(t0 + Duration::from_secs(3)),
            FaultDecision::Pass
        );
    }

    #[test]
    fn full_rates_always_fault() {
        let faults = Faults::new(FaultSettings {
            error_rate: 1.0,
            error_statuses: vec![502],
            ..FaultSettings::default()
        });
        assert_eq!(
            faults.decide(Instant::now()),
            FaultDecision::ServerError(502)
        );
        faults.apply(
            FaultSettings {
                drop_rate: 1.0,
                ..FaultSettings::default()
            },
            Instant::now(),
        );
        assert_eq!(faults.decide(Instant::now()), FaultDecision::Drop);
    }

    #[test]
    fn rejects_rates_out_of_range_and_non_5xx_codes() {
        let bad = FaultSettings {
            error_rate: 1.5,
            ..FaultSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("error_rate"));
        let bad = FaultSettings {
            error_statuses: vec![404],
            ..FaultSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("404"));
    }
}
