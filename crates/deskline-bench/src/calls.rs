//! Realistic MyOperator After-Call payloads (the shape `deskline test-call` posts), and the
//! caller mixes the benchmarks use. Everything is deterministic: call `i` is always the same.

use serde_json::{json, Value};

/// Seeded sandbox agents who answer calls (all in the Support group).
const AGENTS: [&str; 5] = [
    "priya.sharma@sandbox.test",
    "arjun.mehta@sandbox.test",
    "kavya.nair@sandbox.test",
    "rohan.das@sandbox.test",
    "emily.carter@sandbox.test",
];

/// The number of repeat caller `i` (a pool of known customers).
pub fn pool_number(i: usize) -> String {
    format!("+919830{:06}", i % 1_000_000)
}

/// A number never seen before (first-time caller `n`).
pub fn new_number(n: usize) -> String {
    format!("+919840{:06}", n % 1_000_000)
}

fn hms(secs: i64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Call `call_id` from `from`: seven in ten answered (by one of five agents), the rest missed.
pub fn after_call(call_id: &str, from: &str, i: usize) -> Value {
    let now = 1_767_000_000 + i64::try_from(i % 1_000_000).unwrap_or_default() * 7;
    let talk = 30 + i64::try_from(i % 600).unwrap_or_default();
    let start = now - talk - 12;
    let answered = i % 10 >= 3;
    let agent = AGENTS[i % AGENTS.len()];
    let legs = if answered {
        json!([{"_ds": "ANSWER", "_ac": "received", "_st": start + 12, "_et": now, "_dr": hms(talk),
                "_rr": [{"_id": format!("agent-{}", i % 5), "_na": agent.split('@').next(),
                         "_em": agent, "_ex": "10"}]}])
    } else {
        json!([{"_ds": "NOANSWER", "_ac": "missed", "_st": start + 12, "_et": now, "_dr": "00:00:30",
                "_rr": [{"_id": "queue", "_na": "Queue", "_em": "", "_ex": "10"}]}])
    };
    json!({
        "_ai": call_id, "_ci": "benchmark", "_cl": from, "_cr": from.trim_start_matches('+'),
        "_st": start, "_ms": start * 1000, "_et": now, "_dr": hms(now - start), "_ev": 1,
        "_su": if answered { 1 } else { 2 }, "_dn": "Support", "_se": "Benchmark",
        "_fn": if answered { format!("{call_id}.mp3") } else { String::new() },
        "_fu": if answered { format!("https://recordings.example/{call_id}") } else { String::new() },
        "_ld": legs,
    })
}

/// Serialised payloads, so that the load measures the service and not JSON encoding.
pub fn bodies(calls: &[(String, String)]) -> Vec<Vec<u8>> {
    calls
        .iter()
        .enumerate()
        .map(|(i, (id, from))| {
            serde_json::to_vec(&after_call(id, from, i)).expect("a JSON value serialises")
        })
        .collect()
}

/// A mix of `n` calls where a share `repeat` (0 to 1) comes from a pool of `pool` known
/// callers and the rest from first-time callers numbered from `first_new`; the two kinds are
/// interleaved evenly. Returns (call id, number, first-time?) triples.
pub fn mix(
    prefix: &str,
    n: usize,
    repeat: f64,
    pool: usize,
    first_new: usize,
) -> Vec<(String, String, bool)> {
    let mut out = Vec::with_capacity(n);
    let mut new_so_far = 0usize;
    for i in 0..n {
        // First-time calls fall where the running share of repeat calls would exceed `repeat`.
        let want_new = ((i + 1) as f64 * (1.0 - repeat)).round() as usize;
        let first_time = pool == 0 || want_new > new_so_far;
        let number = if first_time {
            new_so_far += 1;
            new_number(first_new + new_so_far - 1)
        } else {
            pool_number(i.wrapping_mul(7919) % pool)
        };
        out.push((format!("{prefix}-{i:06}"), number, first_time));
    }
    out
}
