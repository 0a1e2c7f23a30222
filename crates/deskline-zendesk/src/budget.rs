//! The client's own rate budget, so deskline stays inside the account's plan instead of
//! learning about it from 429s (which also hurt every other integration on the account).
//!
//! Two brakes, both applied before a request is sent:
//! 1. a GCRA limiter (governor) at the configured requests per minute, and
//! 2. Zendesk's own count: every answer's `X-Rate-Limit` / `X-Rate-Limit-Remaining` (and
//!    `ratelimit-reset`) are remembered, and when fewer than a small reserve remain the next
//!    request waits in proportion to how deep into the reserve the account is. This catches
//!    traffic deskline cannot see: other integrations, other deskline instances, agents.
//!
//! A 429 is never slept on here: the client returns `RateLimited` and the job queue pauses.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;

/// Share of the account limit kept in reserve (5 %).
pub const RESERVE_PERCENT: u32 = 5;
/// The window Zendesk counts requests in, used when `ratelimit-reset` is absent.
const WINDOW: Duration = Duration::from_secs(60);
/// Longest pause the reserve rule imposes on one request.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// Which limiter a request must pass besides the account budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Only the account-wide budget.
    General,
    /// `POST /api/v2/users/create_or_update`: 1 request per second per account.
    CreateOrUpdateUser,
    /// `PUT /api/v2/tickets/{id}`: its own per-account limit (100 a minute by default).
    TicketUpdate,
}

/// Rate-limit values from Zendesk's last answer, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BudgetSnapshot {
    /// `X-Rate-Limit`: the account's requests per window.
    pub limit: Option<u32>,
    /// `X-Rate-Limit-Remaining`: requests left in the window.
    pub remaining: Option<u32>,
    /// `ratelimit-reset`: seconds until the window resets.
    pub reset: Option<Duration>,
    /// Requests that waited because of the reserve rule.
    pub reserve_pauses: u64,
    /// Total time spent in reserve pauses.
    pub reserve_paused_for: Duration,
    /// 429 answers seen.
    pub rate_limited: u64,
}

/// How long to wait before the next request, given Zendesk's last count.
///
/// `reserve = max(1, ceil(limit × 5 %))`. With at least `reserve` requests remaining there is
/// no pause. Below it, the pause grows linearly with the deficit `reserve − remaining`:
/// `reset × deficit / reserve` when the reset time is known (the whole rest of the window when
/// nothing remains), otherwise the time the plan takes to earn the deficit back,
/// `deficit × 60 s / limit`. `elapsed` (time since that answer) is subtracted, so a stale
/// reading is not paid for twice. Capped at 60 s.
pub fn reserve_pause(
    limit: u32,
    remaining: u32,
    reset: Option<Duration>,
    elapsed: Duration,
) -> Duration {
    if limit == 0 {
        return Duration::ZERO;
    }
    let reserve = limit.saturating_mul(RESERVE_PERCENT).div_ceil(100).max(1);
    if remaining >= reserve {
        return Duration::ZERO;
    }
    let deficit = reserve - remaining;
    let pause = match reset {
        Some(reset) => reset.min(WINDOW) * deficit / reserve,
        None => WINDOW * deficit / limit,
    };
    pause.min(MAX_PAUSE).saturating_sub(elapsed)
}

/// What the last answer said, and when.
#[derive(Default)]
struct Observed {
    limit: Option<u32>,
    remaining: Option<u32>,
    reset: Option<Duration>,
    at: Option<Instant>,
    reserve_pauses: u64,
    reserve_paused_for: Duration,
    rate_limited: u64,
    /// After a 429 (or a 503 with `Retry-After`): no request before this instant.
    not_before: Option<Instant>,
}

/// The shared budget of one Zendesk account (cheap to clone; clones share the counts).
#[derive(Clone)]
pub struct RateBudget {
    inner: Arc<Inner>,
}

struct Inner {
    account: DefaultDirectRateLimiter,
    create_or_update: DefaultDirectRateLimiter,
    ticket_updates: DefaultDirectRateLimiter,
    observed: Mutex<Observed>,
}

impl std::fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateBudget")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl RateBudget {
    /// A budget of `requests_per_minute` (at least 1), with Zendesk's default 100 ticket
    /// updates a minute.
    pub fn new(requests_per_minute: u32) -> Self {
        Self::with_ticket_updates(requests_per_minute, 100)
    }

    /// A budget of `requests_per_minute` of which at most `ticket_updates_per_minute` (at
    /// least 1) are ticket updates.
    pub fn with_ticket_updates(requests_per_minute: u32, ticket_updates_per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(requests_per_minute).unwrap_or(NonZeroU32::MIN);
        // A burst of ten seconds' worth lets a page walk or a burst of calls go out at once,
        // while the sustained rate stays at the plan's; Zendesk's own count (the reserve rule)
        // is the backstop when a burst meets a nearly spent window.
        let burst = NonZeroU32::new(per_minute.get().div_ceil(6)).unwrap_or(NonZeroU32::MIN);
        let account = RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(burst));
        // Zendesk counts create_or_update in fixed one-second windows by arrival time; sending
        // exactly once a second lands two requests in one window about half the time, so
        // leave a margin.
        let create_or_update = match Quota::with_period(Duration::from_millis(1100)) {
            Some(q) => RateLimiter::direct(q),
            None => RateLimiter::direct(Quota::per_second(NonZeroU32::MIN)),
        };
        // Updates beyond the limit are a 429 that pauses the whole queue for up to a minute.
        // Zendesk counts them in fixed one-minute windows, and a GCRA limiter lets `burst +
        // rate` through in any minute, so the rate is the limit less the burst: never more
        // than the limit in any window (the bench met a 429 at 100/min with a burst of 10).
        // Spreading them also leaves agents, whose own updates count too, room in each window.
        let updates = ticket_updates_per_minute.max(2);
        let update_burst = updates.div_ceil(10).min(updates - 1);
        let ticket_updates = match (
            NonZeroU32::new(updates - update_burst),
            NonZeroU32::new(update_burst),
        ) {
            (Some(rate), Some(burst)) => {
                RateLimiter::direct(Quota::per_minute(rate).allow_burst(burst))
            }
            _ => RateLimiter::direct(Quota::per_minute(NonZeroU32::MIN)),
        };
        RateBudget {
            inner: Arc::new(Inner {
                account,
                create_or_update,
                ticket_updates,
                observed: Mutex::new(Observed::default()),
            }),
        }
    }

    /// Waits until a request to `endpoint` may be sent.
    pub async fn acquire(&self, endpoint: Endpoint) {
        match endpoint {
            Endpoint::CreateOrUpdateUser => wait_for(&self.inner.create_or_update).await,
            Endpoint::TicketUpdate => wait_for(&self.inner.ticket_updates).await,
            Endpoint::General => {}
        }
        wait_for(&self.inner.account).await;
        // After a 429 every request already waiting here holds back until Retry-After has
        // passed, so none is sent into a window Zendesk has closed.
        let not_before = self.observed().not_before;
        if let Some(until) = not_before {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
        let pause = self.pause_now();
        if !pause.is_zero() {
            tracing::debug!(
                pause_ms = pause.as_millis() as u64,
                "Zendesk rate budget nearly spent; pausing before the next request"
            );
            tokio::time::sleep(pause).await;
        }
    }

    /// The reserve pause the last answer calls for, counted as a pause when non-zero.
    fn pause_now(&self) -> Duration {
        let mut o = self.observed();
        let (Some(limit), Some(remaining), Some(at)) = (o.limit, o.remaining, o.at) else {
            return Duration::ZERO;
        };
        let pause = reserve_pause(limit, remaining, o.reset, at.elapsed());
        if !pause.is_zero() {
            o.reserve_pauses += 1;
            o.reserve_paused_for += pause;
        }
        pause
    }

    /// Remembers the rate-limit headers of an answer (any status).
    pub fn observe(&self, status: u16, headers: &HeaderMap) {
        let number = |name: &str| -> Option<u32> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        let limit = number("x-rate-limit").or_else(|| number("ratelimit-limit"));
        let remaining = number("x-rate-limit-remaining").or_else(|| number("ratelimit-remaining"));
        let reset = number("ratelimit-reset").map(|s| Duration::from_secs(u64::from(s)));
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut o = self.observed();
        if status == 429 {
            o.rate_limited += 1;
        }
        if let (429 | 503, Some(wait)) = (status, retry_after) {
            let until = Instant::now() + wait.min(Duration::from_secs(3600));
            o.not_before = Some(o.not_before.map_or(until, |t| t.max(until)));
        }
        if limit.is_some() || remaining.is_some() {
            o.limit = limit.or(o.limit);
            o.remaining = remaining;
            o.reset = reset;
            o.at = Some(Instant::now());
        }
    }

    /// The last seen values and counters, for metrics.
    pub fn snapshot(&self) -> BudgetSnapshot {
        let o = self.observed();
        BudgetSnapshot {
            limit: o.limit,
            remaining: o.remaining,
            reset: o.reset,
            reserve_pauses: o.reserve_pauses,
            reserve_paused_for: o.reserve_paused_for,
            rate_limited: o.rate_limited,
        }
    }

    fn observed(&self) -> MutexGuard<'_, Observed> {
        // The guarded data are plain counters: a panic elsewhere cannot leave them broken.
        self.inner
            .observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Waits on tokio's clock until the limiter lets one request through.
async fn wait_for(limiter: &DefaultDirectRateLimiter) {
    while let Err(not_until) = limiter.check() {
        tokio::time::sleep(not_until.wait_time_from(limiter.clock().now())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn reserve_pause_table() {
        // (limit, remaining, reset, elapsed, expected)
        let cases: &[(u32, u32, Option<Duration>, Duration, Duration)] = &[
            // Plenty left: no pause.
            (700, 699, Some(S(41)), S(0), S(0)),
            (700, 36, Some(S(41)), S(0), S(0)),
            // Reserve of 700 is 35: exactly at the reserve, no pause.
            (700, 35, Some(S(40)), S(0), S(0)),
            // One into the reserve: 1/35 of the remaining window.
            (700, 34, Some(S(35)), S(0), S(1)),
            // Halfway down: about half the window.
            (700, 17, Some(S(35)), S(0), S(18)),
            // Nothing left: the whole rest of the window.
            (700, 0, Some(S(41)), S(0), S(41)),
            // Unknown reset: time to earn the deficit back at 700/min (35 × 60/700 s = 3 s).
            (700, 0, None, S(0), S(3)),
            (200, 5, None, S(0), S(1) + MS(500)),
            // A stale reading: time already passed counts.
            (700, 0, Some(S(41)), S(40), S(1)),
            (700, 0, Some(S(41)), S(50), S(0)),
            // A reset beyond a minute is capped to the window.
            (700, 0, Some(S(600)), S(0), S(60)),
            // Tiny plans keep a reserve of at least one request.
            (10, 1, Some(S(30)), S(0), S(0)),
            (10, 0, Some(S(30)), S(0), S(30)),
            (10, 0, None, S(0), S(6)),
            // A zero limit (a broken header) never blocks.
            (0, 0, Some(S(30)), S(0), S(0)),
        ];
        for &(limit, remaining, reset, elapsed, want) in cases {
            assert_eq!(
                reserve_pause(limit, remaining, reset, elapsed),
                want,
                "limit {limit}, remaining {remaining}, reset {reset:?}, elapsed {elapsed:?}"
            );
        }
    }

    #[test]
    fn observe_reads_headers_and_counts_pauses() {
        let budget = RateBudget::new(700);
        assert_eq!(budget.pause_now(), Duration::ZERO, "nothing seen yet");
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit", HeaderValue::from_static("700"));
        h.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
        h.insert("ratelimit-reset", HeaderValue::from_static("30"));
        budget.observe(200, &h);
        let s = budget.snapshot();
        assert_eq!(
            (s.limit, s.remaining, s.reset),
            (Some(700), Some(0), Some(S(30)))
        );
        assert!(budget.pause_now() > S(25));
        assert_eq!(budget.snapshot().reserve_pauses, 1);

        h.insert("x-rate-limit-remaining", HeaderValue::from_static("650"));
        budget.observe(429, &h);
        assert_eq!(budget.pause_now(), Duration::ZERO);
        let s = budget.snapshot();
        assert_eq!(
            (s.remaining, s.rate_limited, s.reserve_pauses),
            (Some(650), 1, 1)
        );
    }

    #[test]
    fn ticket_updates_have_their_own_limiter() {
        // Decision only, not durations: a burst of a tenth of the minute's updates goes out,
        // the next update is held while the account limiter still has room.
        let budget = RateBudget::with_ticket_updates(700, 100);
        for i in 0..10 {
            assert!(budget.inner.ticket_updates.check().is_ok(), "update {i}");
        }
        assert!(budget.inner.ticket_updates.check().is_err());
        assert!(budget.inner.account.check().is_ok());
        let high_volume = RateBudget::with_ticket_updates(2500, 300);
        for i in 0..30 {
            assert!(
                high_volume.inner.ticket_updates.check().is_ok(),
                "update {i}"
            );
        }
        assert!(high_volume.inner.ticket_updates.check().is_err());
    }

    #[tokio::test]
    async fn create_or_update_waits_for_its_own_limiter() {
        // Decision only, not durations: the second call within a second is refused by the
        // endpoint limiter while the account limiter still has room.
        let budget = RateBudget::new(700);
        assert!(budget.inner.create_or_update.check().is_ok());
        assert!(budget.inner.create_or_update.check().is_err());
        assert!(budget.inner.account.check().is_ok());
    }

    #[tokio::test]
    async fn a_429_holds_back_requests_until_retry_after() {
        let budget = RateBudget::new(6000);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("30"));
        budget.observe(429, &headers);
        let held = tokio::time::timeout(
            Duration::from_millis(100),
            budget.acquire(Endpoint::General),
        )
        .await;
        assert!(
            held.is_err(),
            "a request waiting in the budget must not go out during Retry-After"
        );

        let other = RateBudget::new(6000);
        other.observe(429, &HeaderMap::new());
        let sent =
            tokio::time::timeout(Duration::from_secs(5), other.acquire(Endpoint::General)).await;
        assert!(
            sent.is_ok(),
            "without Retry-After the queue's pause decides, not the client"
        );
    }
}
