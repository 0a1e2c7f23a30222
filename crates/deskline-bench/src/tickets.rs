//! `tickets`: calls → tickets end to end against the sandbox, and what each ticket costs in
//! Zendesk requests, in three phases run one after the other on one service:
//!
//! 1. `first-time`: a pool of callers Zendesk has never seen call once each (user search,
//!    user create, ticket create); they become the repeat callers of the next phases;
//! 2. `repeat`: only callers from that pool (the phone → user link is cached: one request);
//! 3. `mixed`: the realistic mix, by default 80 % callers from the pool, 20 % first-time.
//!
//! Each phase posts its calls as fast as `--concurrency` clients can and ends when every job
//! has completed. Preflight and the directory sync at start are counted apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};
use zendesk_sandbox::SandboxConfig;

use crate::calls;
use crate::harness::{last_seq, memory_kib, Harness, Setup};
use crate::stats::{completed_jobs_after, last_job_id, percentile, table, RequestCounts};

/// Options of `tickets`.
#[derive(Args, Debug, Clone)]
pub struct TicketsArgs {
    /// Callers in the repeat pool (each costs one first-time call, at 1 user create a second).
    #[arg(long, default_value_t = 20)]
    pub pool: usize,
    /// Calls in the repeat-only phase.
    #[arg(long, default_value_t = 400)]
    pub repeat_calls: usize,
    /// Calls in the mixed phase.
    #[arg(long, default_value_t = 250)]
    pub mixed_calls: usize,
    /// Share of the mixed phase's calls that come from the pool.
    #[arg(long, default_value_t = 0.8)]
    pub repeat_share: f64,
    /// Concurrent clients posting calls.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// `worker.concurrency` (deskline's default is 4).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Account budget in requests per minute, for the sandbox and the client alike. High by
    /// default so this measures deskline, not the plan (`drain` measures the plan).
    #[arg(long, default_value_t = 100_000)]
    pub rpm: u32,
}

struct Phase {
    name: &'static str,
    calls: usize,
    first_time: usize,
    elapsed: Duration,
    requests: RequestCounts,
    e2e_ms: Vec<f64>,
    /// Call → ticket times of repeat callers and of first-time callers.
    e2e_by_kind: (Vec<f64>, Vec<f64>),
}

impl Phase {
    fn tickets_per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn per_ticket(&self) -> f64 {
        self.requests.for_calls() as f64 / self.calls.max(1) as f64
    }

    /// Requests per repeat-caller ticket, attributing user searches and creates, and one
    /// ticket create each, to the first-time calls.
    fn per_repeat_ticket(&self) -> Option<f64> {
        let repeat = self.calls.checked_sub(self.first_time).filter(|n| *n > 0)?;
        let first_time_cost = self.requests.get("user_search")
            + self.requests.get("user_create")
            + self.first_time as u64;
        let rest = self.requests.for_calls().saturating_sub(first_time_cost);
        Some(rest as f64 / repeat as f64)
    }

    fn row(&self) -> Vec<String> {
        let r = &self.requests;
        vec![
            self.name.to_string(),
            self.calls.to_string(),
            format!("{:.1}", self.elapsed.as_secs_f64()),
            format!("{:.1}", self.tickets_per_second()),
            r.for_calls().to_string(),
            format!("{:.3}", self.per_ticket()),
            r.get("ticket_create").to_string(),
            r.get("user_search").to_string(),
            r.get("user_create").to_string(),
            r.get("ticket_lookup").to_string(),
            r.rate_limited.to_string(),
            format!("{:.0}", percentile(&self.e2e_ms, 50.0)),
            format!("{:.0}", percentile(&self.e2e_ms, 95.0)),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "phase": self.name, "calls": self.calls, "first_time_calls": self.first_time,
            "seconds": self.elapsed.as_secs_f64(), "tickets_per_second": self.tickets_per_second(),
            "requests_per_ticket": self.per_ticket(),
            "requests_per_repeat_ticket": self.per_repeat_ticket(),
            "requests": self.requests.json(),
            "call_to_ticket_p50_ms": percentile(&self.e2e_ms, 50.0),
            "call_to_ticket_p95_ms": percentile(&self.e2e_ms, 95.0),
            "repeat_call_to_ticket_p50_ms": percentile(&self.e2e_by_kind.0, 50.0),
            "repeat_call_to_ticket_p95_ms": percentile(&self.e2e_by_kind.0, 95.0),
            "first_time_call_to_ticket_p50_ms": percentile(&self.e2e_by_kind.1, 50.0),
            "first_time_call_to_ticket_p95_ms": percentile(&self.e2e_by_kind.1, 95.0),
        })
    }
}

async fn phase(
    h: &Harness,
    name: &'static str,
    calls: Vec<(String, String, bool)>,
    concurrency: usize,
    completed_before: &mut u64,
    seq: &mut u64,
) -> anyhow::Result<Phase> {
    let first_time = calls.iter().filter(|c| c.2).count();
    let first_time_ids: std::collections::BTreeSet<String> =
        calls.iter().filter(|c| c.2).map(|c| c.0.clone()).collect();
    let list: Vec<(String, String)> = calls.into_iter().map(|(id, n, _)| (id, n)).collect();
    let bodies = Arc::new(calls::bodies(&list));
    let job0 = last_job_id(h.store.as_ref()).await?;
    let started = Instant::now();
    let posted = h.post_calls(bodies, concurrency).await;
    anyhow::ensure!(
        posted.errors == 0,
        "{name}: {} call(s) were not acknowledged",
        posted.errors
    );
    *completed_before += list.len() as u64;
    h.wait_completed(*completed_before, Duration::from_secs(600))
        .await?;
    let elapsed = started.elapsed();
    let entries = h.requests_since(*seq).await?;
    *seq = last_seq(&entries, *seq);
    let done = completed_jobs_after(h.store.as_ref(), job0).await?;
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let e2e_ms = sorted(done.iter().map(|(_, ms)| *ms).collect());
    let (first, repeat): (Vec<_>, Vec<_>) =
        done.iter().partition(|(id, _)| first_time_ids.contains(id));
    let e2e_by_kind = (
        sorted(repeat.into_iter().map(|(_, ms)| *ms).collect()),
        sorted(first.into_iter().map(|(_, ms)| *ms).collect()),
    );
    Ok(Phase {
        name,
        calls: list.len(),
        first_time,
        elapsed,
        requests: RequestCounts::of(&entries),
        e2e_ms,
        e2e_by_kind,
    })
}

/// Runs the tickets benchmark.
pub async fn run(args: TicketsArgs) -> anyhow::Result<()> {
    let setup = Setup {
        sandbox: SandboxConfig {
            rate_limit_per_minute: Some(args.rpm),
            ..SandboxConfig::default()
        },
        requests_per_minute: args.rpm,
        workers: args.workers,
    };
    let h = Harness::start(&setup).await?;
    let memory_at_start = memory_kib();
    let startup_log = h.requests_since(0).await?;
    let mut seq = last_seq(&startup_log, 0);
    let startup = RequestCounts::of(&startup_log);
    let mut completed = 0u64;

    let pool = args.pool.max(1);
    let first: Vec<(String, String, bool)> = (0..pool)
        .map(|i| (format!("first-{i:06}"), calls::pool_number(i), true))
        .collect();
    let phases = [
        phase(
            &h,
            "first-time",
            first,
            args.concurrency,
            &mut completed,
            &mut seq,
        )
        .await?,
        phase(
            &h,
            "repeat",
            calls::mix("repeat", args.repeat_calls, 1.0, pool, 0),
            args.concurrency,
            &mut completed,
            &mut seq,
        )
        .await?,
        phase(
            &h,
            "mixed",
            calls::mix("mixed", args.mixed_calls, args.repeat_share, pool, 0),
            args.concurrency,
            &mut completed,
            &mut seq,
        )
        .await?,
    ];
    let memory = memory_kib();
    let info = h
        .sandbox(reqwest::Method::GET, "/sandbox/info", None)
        .await?;
    let tickets_in_zendesk = info["counts"]["tickets"].as_u64().unwrap_or(0);

    println!(
        "tickets: worker.concurrency {}, {} posting clients, budget {} requests/min, sandbox search index delay {:?}",
        args.workers,
        args.concurrency,
        args.rpm,
        SandboxConfig::default().search_index_delay
    );
    let mut rows = vec![[
        "phase",
        "calls",
        "s",
        "tickets/s",
        "requests",
        "req/ticket",
        "create",
        "search",
        "user",
        "lookup",
        "429",
        "e2e p50 ms",
        "e2e p95 ms",
    ]
    .map(String::from)
    .to_vec()];
    rows.extend(phases.iter().map(Phase::row));
    table(&rows);
    let mixed = &phases[2];
    if let Some(r) = mixed.per_repeat_ticket() {
        let (repeat, first) = &mixed.e2e_by_kind;
        println!(
            "  mixed phase: {} first-time and {} repeat calls; about {r:.3} requests per repeat-caller ticket",
            mixed.first_time,
            mixed.calls - mixed.first_time
        );
        println!(
            "  mixed phase, call → ticket p50 / p95: repeat callers {:.0} / {:.0} ms, first-time callers {:.0} / {:.0} ms",
            percentile(repeat, 50.0),
            percentile(repeat, 95.0),
            percentile(first, 50.0),
            percentile(first, 95.0)
        );
    }
    let mut by_path: std::collections::BTreeMap<String, u64> = Default::default();
    for e in &startup_log {
        let path = e["path"].as_str().unwrap_or("");
        let bare = path.split('?').next().unwrap_or(path);
        *by_path
            .entry(format!("{} {bare}", e["method"].as_str().unwrap_or("")))
            .or_default() += 1;
    }
    println!(
        "  at start, not counted above: {} preflight + directory-sync requests {by_path:?}",
        startup_log.len()
    );
    println!(
        "  tickets in the sandbox: {tickets_in_zendesk} for {completed} calls ({})",
        if tickets_in_zendesk == completed {
            "one each"
        } else {
            "MISMATCH"
        }
    );
    if let (Some((peak, now)), Some((_, start))) = (memory, memory_at_start) {
        println!(
            "  memory of the bench process (deskline + in-process sandbox + load generator): RSS {:.1} MiB once started, peak {:.1} MiB, {:.1} MiB at the end",
            start as f64 / 1024.0,
            peak as f64 / 1024.0,
            now as f64 / 1024.0
        );
    }
    println!(
        "{}",
        json!({
            "bench": "tickets", "workers": args.workers, "concurrency": args.concurrency,
            "requests_per_minute": args.rpm,
            "phases": phases.iter().map(Phase::json).collect::<Vec<_>>(),
            "startup_requests": startup.json(),
            "tickets_in_sandbox": tickets_in_zendesk, "calls": completed,
            "start_rss_kib": memory_at_start.map(|m| m.1),
            "peak_rss_kib": memory.map(|m| m.0), "end_rss_kib": memory.map(|m| m.1),
        })
    );
    h.stop().await;
    Ok(())
}
