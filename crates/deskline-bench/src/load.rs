//! A closed-loop HTTP load: `concurrency` clients, each sending its next request as soon as
//! the previous one is answered, until `requests` have been sent. Latency is measured per
//! request, from send to the full answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds request `i`.
pub type MakeRequest = Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>;

/// What a load run measured.
#[derive(Clone, Debug)]
pub struct LoadResult {
    /// Answers with the expected status.
    pub ok: usize,
    /// Other answers and transport errors.
    pub errors: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Latency of every request, sorted, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl LoadResult {
    /// Expected answers per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile latency (nearest rank), in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[i] as f64 / 1000.0
    }

    /// The slowest request, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// Runs `requests` requests with `concurrency` clients; `expect` tells a good answer.
pub async fn run(
    requests: usize,
    concurrency: usize,
    make: MakeRequest,
    expect: fn(reqwest::StatusCode) -> bool,
) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, make) = (next.clone(), make.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut ok, mut errors) = (0usize, 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let sent = Instant::now();
                let good = match make(i).send().await {
                    Ok(r) => {
                        let status = r.status();
                        // Read the whole answer: that is when the client has it.
                        let _ = r.bytes().await;
                        expect(status)
                    }
                    Err(_) => false,
                };
                latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                if good {
                    ok += 1;
                } else {
                    errors += 1;
                }
            }
            (latencies, ok, errors)
        }));
    }
    let mut result = LoadResult {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::with_capacity(requests),
    };
    for c in clients {
        if let Ok((latencies, ok, errors)) = c.await {
            result.latencies_us.extend(latencies);
            result.ok += ok;
            result.errors += errors;
        }
    }
    result.elapsed = started.elapsed();
    result.latencies_us.sort_unstable();
    result
}

/// Sends `requests` requests at a fixed `per_second` rate, each at its scheduled time whether
/// or not earlier ones were answered (an open loop, as providers send): latency then includes
/// any queueing the service causes, not the client's. Each request's latency counts from its
/// scheduled time.
pub async fn run_at_rate(
    requests: usize,
    per_second: f64,
    make: MakeRequest,
    expect: fn(reqwest::StatusCode) -> bool,
) -> LoadResult {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / per_second.max(1e-3));
    let mut sent = Vec::with_capacity(requests);
    for i in 0..requests {
        let at = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at.into()).await;
        let request = make(i);
        sent.push(tokio::spawn(async move {
            let good = match request.send().await {
                Ok(r) => {
                    let status = r.status();
                    let _ = r.bytes().await;
                    expect(status)
                }
                Err(_) => false,
            };
            (
                u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX),
                good,
            )
        }));
    }
    let mut result = LoadResult {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::with_capacity(requests),
    };
    for task in sent {
        match task.await {
            Ok((latency, good)) => {
                result.latencies_us.push(latency);
                if good {
                    result.ok += 1;
                } else {
                    result.errors += 1;
                }
            }
            Err(_) => result.errors += 1,
        }
    }
    result.elapsed = started.elapsed();
    result.latencies_us.sort_unstable();
    result
}
