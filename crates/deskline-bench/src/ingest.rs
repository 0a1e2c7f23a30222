//! `ingest`: how fast deskline acknowledges calls durably on SQLite, against a baseline of the
//! same HTTP load on `/healthz`, which touches no storage.
//!
//! Only ingest is measured: the `zendesk` queue is paused for an hour before the load (the
//! same `queue_pause` row a Zendesk 429 writes), so the worker claims nothing and sends nothing
//! to Zendesk. Besides the closed-loop runs, a fixed-rate (open-loop) run gives the latency a
//! provider sees at a steady rate, and the backlog runs repeat the 32-client ingest with up to
//! a million jobs waiting in the paused queue.

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
    /// Requests per second of the fixed-rate run (an open loop, as providers send); 0 skips it.
    #[arg(long, default_value_t = 500)]
    pub rate: usize,
    /// Seconds of the fixed-rate run.
    #[arg(long, default_value_t = 10)]
    pub rate_secs: usize,
    /// Waiting jobs in the paused queue for the backlog runs, comma-separated: the same
    /// 32-client ingest is measured at each level (jobs added straight into the database).
    #[arg(long, value_delimiter = ',', default_value = "0,100000,1000000")]
    pub backlogs: Vec<u64>,
    /// Store on a fresh database of the PostgreSQL server at this URL (created for the run and
    /// dropped after it) instead of a SQLite file; the backlog runs are skipped.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
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
    let h = Harness::start_on(&setup, |_| {}, args.postgres.as_deref()).await?;
    let storage = if args.postgres.is_some() {
        "PostgreSQL (a fresh database on the --postgres server)"
    } else {
        "SQLite (WAL, synchronous=NORMAL)"
    };
    h.store
        .pause_queue(
            ZENDESK_QUEUE,
            chrono::Utc::now() + chrono::Duration::hours(1),
            "benchmark: measuring ingest only",
        )
        .await?;

    let (n, c) = (args.requests, args.concurrency);
    // Read before the load and printed with the figures: the machine may be shared.
    let load_before = load_average();
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

    let fixed = if args.rate > 0 {
        let count = args.rate * args.rate_secs;
        let bodies = calls_of("rate", count);
        let (http, url) = (h.http.clone(), url.clone());
        let make: load::MakeRequest = Arc::new(move |i| {
            http.post(&url)
                .header("X-Deskline-Secret", crate::harness::SECRET)
                .header("content-type", "application/json")
                .body(bodies[i].clone())
        });
        Some(
            load::run_at_rate(count, args.rate as f64, make, |s| {
                s == reqwest::StatusCode::ACCEPTED
            })
            .await,
        )
    } else {
        None
    };

    let db_path = h.data_dir().join("deskline.db");
    let mut backlog_runs = Vec::new();
    // The backlog's jobs are added with SQLite's SQL, straight into the file.
    let backlogs = if args.postgres.is_some() {
        &[][..]
    } else {
        &args.backlogs[..]
    };
    for (level_index, &level) in backlogs.iter().enumerate() {
        let waiting = waiting_jobs(&h).await?;
        if level > waiting {
            add_waiting_jobs(&db_path, level - waiting, level_index).await?;
        }
        let waiting = waiting_jobs(&h).await?;
        let bodies = calls_of(&format!("backlog{level_index}"), n);
        let run = post(bodies, c, |s| s == reqwest::StatusCode::ACCEPTED).await;
        backlog_runs.push((waiting, run));
    }

    let jobs = h.jobs().await?;
    let available = jobs.get(&JobState::Available).copied().unwrap_or(0);
    let db = file_bytes(&h.data_dir().join("deskline.db"));
    let wal = file_bytes(&h.data_dir().join("deskline.db-wal"));
    let stored = n
        + args.warmup
        + serial.as_ref().map_or(0, |s| s.1.ok)
        + fixed.as_ref().map_or(0, |f| f.ok)
        + backlog_runs.iter().map(|(_, r)| r.ok).sum::<usize>();

    println!("ingest: {n} requests per run, {c} concurrent clients, keep-alive, {storage}");
    println!(
        "  load average before: {load_before}, after: {}",
        load_average()
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
    if let Some(fixed) = &fixed {
        rows.push(row(
            &format!("ingest at a fixed {} req/s (open loop)", args.rate),
            fixed,
        ));
    }
    for (waiting, run) in &backlog_runs {
        rows.push(row(
            &format!("ingest, {c} clients, {waiting} jobs waiting (paused)"),
            run,
        ));
    }
    table(&rows);
    let ratio = ingest.rate() / baseline.rate().max(1e-9);
    println!(
        "  durable ingest runs at {:.0} % of the baseline rate; p50 {:.1}x, p99 {:.1}x the baseline's",
        ratio * 100.0,
        ingest.percentile_ms(50.0) / baseline.percentile_ms(50.0).max(1e-9),
        ingest.percentile_ms(99.0) / baseline.percentile_ms(99.0).max(1e-9),
    );
    if args.postgres.is_some() {
        println!("  jobs waiting in the paused queue: {available} ({stored} acknowledged)");
    } else {
        println!(
            "  jobs waiting in the paused queue: {available} ({stored} acknowledged, the rest added for the backlog runs); database {:.1} MiB + WAL {:.1} MiB",
            db as f64 / (1024.0 * 1024.0),
            wal as f64 / (1024.0 * 1024.0)
        );
    }
    println!(
        "{}",
        json!({
            "bench": "ingest", "requests": n, "concurrency": c,
            "baseline": json_of(&baseline), "ingest": json_of(&ingest),
            "duplicate": json_of(&duplicate),
            "serial_baseline": serial.as_ref().map(|s| json_of(&s.0)),
            "serial_ingest": serial.as_ref().map(|s| json_of(&s.1)),
            "ingest_to_baseline_rate": ratio,
            "fixed_rate": fixed.as_ref().map(json_of), "rate_per_second": args.rate,
            "backlogs": backlog_runs
                .iter()
                .map(|(waiting, r)| json!({"waiting": waiting, "ingest": json_of(r)}))
                .collect::<Vec<_>>(),
            "jobs_stored": available, "db_bytes": db, "wal_bytes": wal,
        })
    );
    h.stop().await;
    Ok(())
}

/// The 1, 5 and 15 minute load averages, as the kernel reports them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Jobs waiting in the paused queue.
async fn waiting_jobs(h: &Harness) -> anyhow::Result<u64> {
    Ok(h.jobs()
        .await?
        .get(&JobState::Available)
        .copied()
        .unwrap_or(0))
}

/// Adds `count` waiting call jobs in one statement on a connection of its own (a million
/// through HTTP would take longer than the benchmark itself).
async fn add_waiting_jobs(db: &std::path::Path, count: u64, level: usize) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await?;
    sqlx::query("PRAGMA busy_timeout = 30000")
        .execute(&mut conn)
        .await?;
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO job (kind, queue, args, max_attempts, scheduled_at, ordering_key, created_at)
         SELECT 'call_ticket', $2, '{}', 12, $3, 'call:backlog' || $4 || ':' || i, $3 FROM n",
    )
    .bind(i64::try_from(count)?)
    .bind(ZENDESK_QUEUE)
    .bind(&now)
    .bind(i64::try_from(level)?)
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}
