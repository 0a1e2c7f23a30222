//! `drain`: how close to the account's rate limit deskline drains a backlog of calls.
//!
//! The sandbox runs the Enterprise budget (700 requests a minute) counted over a shorter
//! window, so a run fits in a minute or two: `--window-secs 6` means 70 requests per 6 s. The
//! client is configured as a user would (`zendesk.requests_per_minute = 700`). A small pool of
//! callers is warmed up first with the limit lifted, so the measured calls are repeat callers
//! and each ideally costs exactly one request (the ticket create); then the limit is set,
//! `--calls` calls are posted at once, and the clock runs until the last ticket exists.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use zendesk_sandbox::{Plan, SandboxConfig};

use crate::calls;
use crate::harness::{last_seq, Harness, Setup, ADMIN_TOKEN};
use crate::stats::{table, RequestCounts};

/// Options of `drain`.
#[derive(Args, Debug, Clone)]
pub struct DrainArgs {
    /// Calls in the backlog.
    #[arg(long, default_value_t = 420)]
    pub calls: usize,
    /// The account's requests per minute (Enterprise: 700), for the sandbox and the client.
    #[arg(long, default_value_t = 700)]
    pub rpm: u32,
    /// Length of the sandbox's rate-limit window in seconds (Zendesk: 60); the budget per
    /// window is scaled to keep `rpm` per minute.
    #[arg(long, default_value_t = 6)]
    pub window_secs: u64,
    /// Repeat callers warmed up before the measurement.
    #[arg(long, default_value_t = 5)]
    pub pool: usize,
    /// `worker.concurrency`.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Concurrent clients posting the backlog.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

/// Runs the drain benchmark.
pub async fn run(args: DrainArgs) -> anyhow::Result<()> {
    let window = Duration::from_secs(args.window_secs.max(1));
    let per_window = (u64::from(args.rpm) * window.as_secs()).div_ceil(60);
    let per_window = u32::try_from(per_window.max(1)).unwrap_or(u32::MAX);
    let setup = Setup {
        sandbox: SandboxConfig {
            plan: Plan::Enterprise,
            rate_window: window,
            // Lifted for the warm-up; set to the plan's below.
            rate_limit_per_minute: Some(1_000_000),
            search_index_delay: Duration::ZERO,
            ..SandboxConfig::default()
        },
        requests_per_minute: args.rpm,
        workers: args.workers,
    };
    let h = Harness::start(&setup).await?;
    let pool = args.pool.max(1);
    let warm: Vec<(String, String)> = (0..pool)
        .map(|i| (format!("warm-{i:04}"), calls::pool_number(i)))
        .collect();
    let warmed = h.post_calls(Arc::new(calls::bodies(&warm)), pool).await;
    anyhow::ensure!(warmed.errors == 0, "warm-up calls were refused");
    h.wait_completed(pool as u64, Duration::from_secs(120))
        .await?;

    h.sandbox(
        reqwest::Method::PUT,
        "/sandbox/limits",
        Some(json!({"rate_limit_per_minute": per_window})),
    )
    .await?;
    // Start on a fresh window: wait for the current one to close, so the backlog's first
    // request opens the next (the sandbox's windows are fixed and open with a request).
    let reset = h.window_reset().await?;
    tokio::time::sleep(Duration::from_secs(reset) + Duration::from_millis(300)).await;
    let seq = last_seq(&h.requests_since(0).await?, 0);
    let backlog: Vec<(String, String)> = calls::mix("drain", args.calls, 1.0, pool, 0)
        .into_iter()
        .map(|(id, n, _)| (id, n))
        .collect();
    let bodies = Arc::new(calls::bodies(&backlog));
    let started = Instant::now();
    let posted = h.post_calls(bodies, args.concurrency).await;
    anyhow::ensure!(posted.errors == 0, "backlog calls were refused");
    let enqueued_in = started.elapsed();
    h.wait_completed((pool + args.calls) as u64, Duration::from_secs(900))
        .await?;
    let elapsed = started.elapsed();
    let entries = h.requests_since(seq).await?;
    let counts = RequestCounts::of(&entries);
    let budget = h
        .http
        .get(format!("{}/admin/queue", h.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;

    let windows = windows(&entries, window);
    let full = &windows[..windows.len().saturating_sub(1)];
    let full_mean = if full.is_empty() {
        f64::NAN
    } else {
        full.iter().sum::<u64>() as f64 / full.len() as f64
    };
    let budget_used = (entries.len() as u64 - counts.rate_limited) as f64;
    let budget_offered = (windows.len() as u64 * u64::from(per_window)) as f64;
    let minutes = elapsed.as_secs_f64() / 60.0;
    let tickets_per_min = args.calls as f64 / minutes;
    let requests = entries.len() as f64;
    let answered = requests - counts.rate_limited as f64;
    let ideal = args.calls as f64 / f64::from(args.rpm) * 60.0;
    println!(
        "drain: {} calls from {pool} repeat callers; limit {} requests/min ({per_window} per {} s window); worker.concurrency {}",
        args.calls,
        args.rpm,
        window.as_secs(),
        args.workers
    );
    table(&[
        ["measure", "value", "of the limit"]
            .map(String::from)
            .to_vec(),
        vec![
            "tickets per minute".into(),
            format!("{tickets_per_min:.0}"),
            format!("{:.1} %", 100.0 * tickets_per_min / f64::from(args.rpm)),
        ],
        vec![
            "Zendesk requests per minute (all)".into(),
            format!("{:.0}", requests / minutes),
            format!("{:.1} %", 100.0 * requests / minutes / f64::from(args.rpm)),
        ],
        vec![
            "Zendesk requests per minute (not 429)".into(),
            format!("{:.0}", answered / minutes),
            format!("{:.1} %", 100.0 * answered / minutes / f64::from(args.rpm)),
        ],
        vec![
            format!("answered requests per full window ({} windows)", full.len()),
            format!("{full_mean:.1}"),
            format!("{:.1} %", 100.0 * full_mean / f64::from(per_window)),
        ],
        vec![
            format!(
                "windows used (minimum {})",
                args.calls.div_ceil(per_window as usize)
            ),
            windows.len().to_string(),
            format!("{:.1} %", 100.0 * budget_used / budget_offered.max(1.0)),
        ],
        vec![
            "429 answers".into(),
            counts.rate_limited.to_string(),
            String::new(),
        ],
        vec![
            "drain time s (ideal at the limit)".into(),
            format!("{:.1} ({ideal:.1})", elapsed.as_secs_f64()),
            String::new(),
        ],
    ]);
    println!("  answered requests per window: {windows:?}");
    println!(
        "  backlog enqueued in {:.2} s; requests by purpose {:?}; client reserve pauses {}",
        enqueued_in.as_secs_f64(),
        counts.by_purpose,
        budget["zendesk_budget"]["reserve_pauses"]
    );
    println!(
        "{}",
        json!({
            "bench": "drain", "calls": args.calls, "limit_per_minute": args.rpm,
            "window_seconds": window.as_secs(), "limit_per_window": per_window,
            "workers": args.workers, "seconds": elapsed.as_secs_f64(),
            "tickets_per_minute": tickets_per_min,
            "fraction_of_limit": tickets_per_min / f64::from(args.rpm),
            "requests": counts.json(), "zendesk_requests_per_minute": requests / minutes,
            "answered_per_window": windows, "full_window_fraction": full_mean / f64::from(per_window),
            "budget_used_fraction": budget_used / budget_offered.max(1.0),
            "client_budget": budget["zendesk_budget"],
        })
    );
    h.stop().await;
    Ok(())
}

/// Answered (not 429) requests per rate-limit window, the windows rebuilt as the sandbox
/// keeps them: a window opens with the first request after the previous one closed.
fn windows(entries: &[serde_json::Value], window: Duration) -> Vec<u64> {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::seconds(60));
    let mut out: Vec<u64> = Vec::new();
    let mut opened: Option<chrono::DateTime<chrono::FixedOffset>> = None;
    for e in entries {
        let Some(at) = e["at"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        else {
            continue;
        };
        if opened.is_none_or(|o| at >= o + window) {
            opened = Some(at);
            out.push(0);
        }
        if e["status"].as_u64() != Some(429) {
            if let Some(last) = out.last_mut() {
                *last += 1;
            }
        }
    }
    out
}
