//! A request budget shared by every instance on one database: a GCRA bucket kept in one row.
//!
//! The row holds the bucket's theoretical arrival time (TAT). A request is granted when, with
//! its interval added, the TAT stays within `burst` intervals of now; granting moves the TAT on
//! by one interval. The check and the move are one upsert, so instances taking slots at the
//! same moment are serialised by the database and never exceed the rate together.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A rate: one request per `interval`, with up to `burst` sent back to back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateQuota {
    /// The sustained spacing between requests.
    pub interval: Duration,
    /// How many requests may go out at once after a quiet spell (at least 1).
    pub burst: u32,
}

impl RateQuota {
    /// `per_minute` requests a minute (at least 1), `burst` (at least 1) at once.
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        RateQuota {
            interval: Duration::from_secs(60) / per_minute.max(1),
            burst: burst.max(1),
        }
    }

    /// The interval in whole microseconds, rounded up so rounding never raises the rate.
    pub(crate) fn interval_us(&self) -> i64 {
        let us = self.interval.as_nanos().div_ceil(1000).max(1);
        i64::try_from(us).unwrap_or(i64::MAX / 4)
    }

    /// How far ahead of now the TAT may run: `burst` intervals.
    pub(crate) fn limit_us(&self) -> i64 {
        self.interval_us()
            .saturating_mul(i64::from(self.burst.max(1)))
    }
}

/// `t` in microseconds since the Unix epoch.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The upsert that takes one slot, the same text for both backends. `$1` the bucket, `$2` now,
/// `$3` the interval, `$4` the limit (all microseconds). It returns a row only when the slot is
/// granted. A TAT further ahead than the limit cannot come from this rate at this clock: the
/// clock went back, or another host's runs ahead. Rather than hold every request until the
/// clock catches up, the bucket goes on from now as if just spent: one request per interval,
/// no burst, so a skewed clock never buys extra requests.
pub(crate) const TAKE_SLOT: &str = "
    INSERT INTO rate_bucket (name, tat_us) VALUES ($1, $2 + $3)
    ON CONFLICT (name) DO UPDATE SET tat_us = (CASE
            WHEN rate_bucket.tat_us > $2 + $4 THEN $2 + $4 - $3
            WHEN rate_bucket.tat_us < $2 THEN $2
            ELSE rate_bucket.tat_us END) + $3
    WHERE (CASE
            WHEN rate_bucket.tat_us > $2 + $4 THEN $2 + $4 - $3
            WHEN rate_bucket.tat_us < $2 THEN $2
            ELSE rate_bucket.tat_us END) + $3 - $2 <= $4
    RETURNING tat_us";

/// How long a refused taker waits before asking again, given the bucket's TAT as read after
/// the refusal (at least a millisecond, at most one interval past the limit).
pub(crate) fn wait_after_refusal(tat_us: Option<i64>, now_us: i64, quota: RateQuota) -> Duration {
    let interval = quota.interval_us();
    let wait_us = match tat_us {
        Some(tat) => tat
            .max(now_us)
            .saturating_add(interval)
            .saturating_sub(quota.limit_us())
            .saturating_sub(now_us),
        None => interval,
    };
    let wait_us = wait_us.clamp(1_000, interval.max(1_000));
    Duration::from_micros(u64::try_from(wait_us).unwrap_or(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_rounds_towards_a_slower_rate() {
        let q = RateQuota::per_minute(700, 117);
        assert_eq!(q.interval_us(), 85_715);
        assert_eq!(q.limit_us(), 85_715 * 117);
        assert_eq!(RateQuota::per_minute(0, 0).burst, 1);
    }

    #[test]
    fn a_refusal_waits_for_the_next_slot() {
        let q = RateQuota::per_minute(60, 2); // one a second, two at once
                                              // TAT two seconds ahead: the next slot opens in one second.
        let wait = wait_after_refusal(Some(2_000_000), 0, q);
        assert_eq!(wait, Duration::from_secs(1));
        // Granted meanwhile by another taker, or a vanished row: retry soon, never wait zero.
        assert_eq!(wait_after_refusal(Some(0), 0, q), Duration::from_millis(1));
        assert_eq!(wait_after_refusal(None, 0, q), Duration::from_secs(1));
    }
}
