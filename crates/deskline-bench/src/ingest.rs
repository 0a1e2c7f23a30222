//! `ingest`: how fast deskline acknowledges calls durably on SQLite, against a baseline of the
//! same HTTP load on `/healthz`, which touches no storage.
//!
//! Only ingest is measured: the `zendesk` queue is paused for an hour before the load (the
//! same `queue_pause` row a Zendesk 429 writes), so the worker keeps polling, as it does in
//! production, but claims nothing and sends nothing to Zendesk.

use std::sync::Arc;

use clap::Args;
use deskline_server::worker::call_ticket::ZENDESK_QUEUE;
use deskline_store::JobState;
use serde_json::json;
use zendesk_sandbox::SandboxConfig;

use crate::calls;
use crate::harness::{Harness, Setup};
use crate::load::{self, LoadResult};
use crate::stats::table;

/// Options of `ingest`.
#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    /// Requests per measured run.
    #[arg(long, default_value_t = 5_000)]
    pub requests: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Unmeasured requests of each kind first (connections, caches, SQLite pages).
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    /// Requests of the extra one-client runs (latency without queueing); 0 skips them.
    #[arg(long, default_value_t = 1_000)]
    pub serial: usize,
}

fn row(name: &str, r: &LoadResult) -> Vec<String> {
    vec![
        name.to_string(),
        r.ok.to_string(),
        r.errors.to_string(),
        format!("{:.0}", r.rate()),
        format!("{:.2}", r.percentile_ms(50.0)),
        format!("{:.2}", r.percentile_ms(95.0)),
        format!("{:.2}", r.percentile_ms(99.0)),
        format!("{:.2}", r.max_ms()),
    ]
}

fn json_of(r: &LoadResult) -> serde_json::Value {
    json!({
        "ok": r.ok, "errors": r.errors, "seconds": r.elapsed.as_secs_f64(),
        "per_second": r.rate(), "p50_ms": r.percentile_ms(50.0),
        "p95_ms": r.percentile_ms(95.0), "p99_ms": r.percentile_ms(99.0), "max_ms": r.max_ms(),
    })
}

fn file_bytes(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Runs the ingest benchmark.
pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let setup = Setup {
        sandbox: SandboxConfig::default(),
        requests_per_minute: 700,
        workers: 4,
    };
    let h = Harness::start(&setup).await?;
    h.store
        .pause_queue(
            ZENDESK_QUEUE,
            chrono::Utc::now() + chrono::Duration::hours(1),
            "benchmark: measuring ingest only",
        )
        .await?;

    let (n, c) = (args.requests, args.concurrency);
    let health_url = format!("{}/healthz", h.base);
    let http = h.http.clone();
    let healthz: load::MakeRequest = Arc::new(move |_| http.get(&health_url));
    let calls_of = |prefix: &str, count: usize| {
        let list: Vec<(String, String)> = (0..count)
            .map(|i| {
                (
                    format!("{prefix}-{i:06}"),
                    calls::pool_number(i % 50).to_string(),
                )
            })
            .collect();
        Arc::new(calls::bodies(&list))
    };

    // Warm-up: connections, the allocator, SQLite's pages and statement cache.
    load::run(args.warmup, c, healthz.clone(), |s| s.is_success()).await;
    h.post_calls(calls_of("warmup", args.warmup), c).await;

    let baseline = load::run(n, c, healthz.clone(), |s| s.is_success()).await;
    let url = format!("{}/hooks/myoperator", h.base);
    let post = |bodies: Arc<Vec<Vec<u8>>>, c: usize, expect: fn(reqwest::StatusCode) -> bool| {
        let (http, url, n) = (h.http.clone(), url.clone(), bodies.len());
        let make: load::MakeRequest = Arc::new(move |i| {
            http.post(&url)
                .header("X-Deskline-Secret", crate::harness::SECRET)
                .header("content-type", "application/json")
                .body(bodies[i].clone())
        });
        load::run(n, c, make, expect)
    };
    let bodies = calls_of("ingest", n);
    let ingest = post(bodies.clone(), c, |s| s == reqwest::StatusCode::ACCEPTED).await;
    let duplicate = post(bodies, c, |s| s == reqwest::StatusCode::OK).await;
    let serial = if args.serial > 0 {
        let base1 = load::run(args.serial, 1, healthz, |s| s.is_success()).await;
        let ingest1 = post(calls_of("serial", args.serial), 1, |s| {
            s == reqwest::StatusCode::ACCEPTED
        })
        .await;
        Some((base1, ingest1))
    } else {
        None
    };

    let jobs = h.jobs().await?;
    let available = jobs.get(&JobState::Available).copied().unwrap_or(0);
    let db = file_bytes(&h.data_dir().join("deskline.db"));
    let wal = file_bytes(&h.data_dir().join("deskline.db-wal"));
    let stored = n + args.warmup + serial.as_ref().map_or(0, |s| s.1.ok);

    println!(
        "ingest: {n} requests per run, {c} concurrent clients, keep-alive, SQLite (WAL, synchronous=NORMAL)"
    );
    let mut rows = vec![
        [
            "run", "2xx", "errors", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms",
        ]
        .map(String::from)
        .to_vec(),
        row(&format!("baseline GET /healthz, {c} clients"), &baseline),
        row(&format!("ingest (202, durable), {c} clients"), &ingest),
        row(
            &format!("redelivery (200, duplicate), {c} clients"),
            &duplicate,
        ),
    ];
    if let Some((base1, ingest1)) = &serial {
        rows.push(row("baseline GET /healthz, 1 client", base1));
        rows.push(row("ingest (202, durable), 1 client", ingest1));
    }
    table(&rows);
    let ratio = ingest.rate() / baseline.rate().max(1e-9);
    println!(
        "  durable ingest runs at {:.0} % of the baseline rate; p50 {:.1}x, p99 {:.1}x the baseline's",
        ratio * 100.0,
        ingest.percentile_ms(50.0) / baseline.percentile_ms(50.0).max(1e-9),
        ingest.percentile_ms(99.0) / baseline.percentile_ms(99.0).max(1e-9),
    );
    println!(
        "  jobs waiting in the paused queue: {available} (expected {stored}); database {:.1} MiB + WAL {:.1} MiB",
        db as f64 / (1024.0 * 1024.0),
        wal as f64 / (1024.0 * 1024.0)
    );
    println!(
        "{}",
        json!({
            "bench": "ingest", "requests": n, "concurrency": c,
            "baseline": json_of(&baseline), "ingest": json_of(&ingest),
            "duplicate": json_of(&duplicate),
            "serial_baseline": serial.as_ref().map(|s| json_of(&s.0)),
            "serial_ingest": serial.as_ref().map(|s| json_of(&s.1)),
            "ingest_to_baseline_rate": ratio,
            "jobs_stored": available, "db_bytes": db, "wal_bytes": wal,
        })
    );
    h.stop().await;
    Ok(())
}
