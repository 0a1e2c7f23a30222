//! How long a failed job waits before its next attempt.

use std::time::Duration;

/// Resolution of the jitter factor: a millionth of the delay is far below anything that matters.
const JITTER_STEPS: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The wait before retrying after failed attempt number `attempt` (1 for the first failure).
///
/// Exponential: `base * 2^(attempt - 1)`, capped at `cap`. Jitter then takes off up to
/// `jitter_fraction` of that (1.0 is "full jitter", 0.0 none), scaled by `rng_value` in
/// [0, 1], so the result lies in `[raw * (1 - jitter_fraction), raw]` with `raw <= cap`.
/// The random value is passed in so the function stays pure and testable; out-of-range or NaN
/// inputs are clamped rather than trusted.
pub fn retry_delay(
    attempt: u32,
    base: Duration,
    cap: Duration,
    jitter_fraction: f64,
    rng_value: f64,
) -> Duration {
    // 2^31 times any base already exceeds any sensible cap; the shift stays in range.
    let exponent = attempt.saturating_sub(1).min(31);
    let raw = base.saturating_mul(1u32 << exponent).min(cap);

    let keep = 1.0 - unit(jitter_fraction) * unit(rng_value);
    // Fixed-point arithmetic on nanoseconds: Duration::mul_f64 panics on huge durations and
    // loses precision, and this keeps the result <= raw exactly.
    let keep_steps = (keep * JITTER_STEPS as f64).round() as u128;
    let nanos = raw.as_nanos() * keep_steps.min(JITTER_STEPS) / JITTER_STEPS;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, subsec)
}

/// `x` clamped to [0, 1], with NaN read as 0 (no jitter) rather than propagated.
fn unit(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_base_until_the_cap() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=8)
            .map(|a| retry_delay(a, base, cap, 0.0, 0.5).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn full_jitter_spans_zero_to_raw() {
        let base = Duration::from_secs(10);
        let cap = Duration::from_secs(600);
        assert_eq!(retry_delay(1, base, cap, 1.0, 1.0), Duration::ZERO);
        assert_eq!(retry_delay(1, base, cap, 1.0, 0.0), base);
        assert_eq!(retry_delay(1, base, cap, 0.5, 1.0), Duration::from_secs(5));
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let d = retry_delay(
            u32::MAX,
            Duration::MAX,
            Duration::MAX,
            f64::NAN,
            f64::INFINITY,
        );
        assert_eq!(d, Duration::MAX);
        assert_eq!(
            retry_delay(0, Duration::from_secs(3), Duration::from_secs(1), -1.0, 2.0),
            Duration::from_secs(1)
        );
    }
}
