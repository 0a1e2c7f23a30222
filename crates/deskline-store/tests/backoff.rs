//! Property tests for the retry backoff: bounded, and growing with the attempt number.

use std::time::Duration;

use deskline_store::retry_delay;
use proptest::prelude::*;

fn durations() -> impl Strategy<Value = (Duration, Duration)> {
    // Bases from 1 ms to 10 min, caps from 0 to 1 day: the realistic range and then some.
    (1u64..600_000, 0u64..86_400_000)
        .prop_map(|(base, cap)| (Duration::from_millis(base), Duration::from_millis(cap)))
}

/// The un-jittered delay, computed independently of the implementation.
fn raw(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let mut delay = base;
    for _ in 1..attempt {
        delay = delay.saturating_mul(2);
        if delay >= cap {
            break;
        }
    }
    delay.min(cap)
}

proptest! {
    #[test]
    fn delay_is_within_its_bounds(
        attempt in 0u32..100,
        (base, cap) in durations(),
        jitter in 0.0f64..=1.0,
        rng in 0.0f64..=1.0,
    ) {
        let delay = retry_delay(attempt, base, cap, jitter, rng);
        let raw = raw(attempt, base, cap);
        prop_assert!(delay <= cap, "{delay:?} above cap {cap:?}");
        prop_assert!(delay <= raw, "{delay:?} above the un-jittered {raw:?}");
        // Bounded jitter never takes off more than `jitter` of the delay (1 µs of rounding).
        let floor = raw.mul_f64(1.0 - jitter).saturating_sub(Duration::from_micros(1));
        prop_assert!(delay >= floor, "{delay:?} below the floor {floor:?}");
    }

    #[test]
    fn delay_never_shrinks_for_the_same_random_draw(
        attempt in 0u32..100,
        (base, cap) in durations(),
        jitter in 0.0f64..=1.0,
        rng in 0.0f64..=1.0,
    ) {
        let now = retry_delay(attempt, base, cap, jitter, rng);
        let next = retry_delay(attempt + 1, base, cap, jitter, rng);
        prop_assert!(next >= now, "attempt {attempt}: {now:?} then {next:?}");
    }

    #[test]
    fn expected_delay_is_non_decreasing(
        attempt in 1u32..40,
        (base, cap) in durations(),
        jitter in 0.0f64..=1.0,
    ) {
        // The mean over an even grid of draws stands in for the expectation over a uniform rng.
        let mean = |a: u32| -> f64 {
            (0..=100)
                .map(|i| retry_delay(a, base, cap, jitter, f64::from(i) / 100.0).as_secs_f64())
                .sum::<f64>()
                / 101.0
        };
        prop_assert!(mean(attempt + 1) >= mean(attempt));
    }

    #[test]
    fn garbage_inputs_are_clamped_not_trusted(
        attempt in any::<u32>(),
        (base, cap) in durations(),
        jitter in any::<f64>(),
        rng in any::<f64>(),
    ) {
        let delay = retry_delay(attempt, base, cap, jitter, rng);
        prop_assert!(delay <= cap);
    }
}
