//! Three `deskline serve` processes on one PostgreSQL database, sharing one Zendesk sandbox,
//! as a team running several instances behind a load balancer would. Calls are posted across
//! the three, each delivered twice at once to two different instances, while the sandbox
//! answers with a 429 storm and then 5xx bursts, and one instance is killed (SIGKILL) mid-run.
//!
//! Checked: every acknowledged call becomes exactly one ticket; no request reaches Zendesk
//! inside a `Retry-After` it answered; the dead instance's jobs are taken over (short lease)
//! and every job completes within a bound after the kill.
//!
//! `DESKLINE_MULTI_CALLS` sets the number of calls (default [`DEFAULT_CALLS`]) for a longer
//! run. The callers are known to Zendesk already (see [`KNOWN_CALLERS`]).

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{Connection, Row};

use common::postgres::{admin_url, database_url, start_sandbox, Database};
use common::{deskline, free_port, run, Running};

const SECRET: &str = "multi-instance-secret-0123456789";
const ADMIN_TOKEN: &str = "multi-instance-admin-token";
/// Calls posted in the default (CI) run.
const DEFAULT_CALLS: usize = 300;
/// Instances started; the last one is killed mid-run.
const INSTANCES: usize = 3;
/// Deliveries in flight at once across the instances.
const CONCURRENT_POSTS: usize = 16;
/// After the kill, every job must be completed within this, plus [`ALL_DONE_PER_CALL`] per
/// call (a debug build on a shared machine makes 20 to 40 tickets a second).
const ALL_DONE_WITHIN: Duration = Duration::from_secs(30);
/// Time allowed per call on top of [`ALL_DONE_WITHIN`].
const ALL_DONE_PER_CALL: Duration = Duration::from_millis(60);
/// Slack for requests already on their way when a 429 was answered, and for clock jitter.
const TOLERANCE: chrono::Duration = chrono::Duration::milliseconds(150);

fn calls() -> usize {
    std::env::var("DESKLINE_MULTI_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CALLS)
}

fn write_config(dir: &Path, sandbox_url: &str, port: u16, database_url: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("instance directory");
    let mut config: toml::Table = toml::from_str(&format!(
        r#"
        [server]
        listen = "127.0.0.1:{port}"
        admin_token = "{ADMIN_TOKEN}"

        [zendesk]
        email = "admin@sandbox.test"
        api_token = "sandbox-token"
        requests_per_minute = 100000
        outage_after_failures = 3
        outage_first_probe = "200ms"
        outage_max_probe = "800ms"
        recheck_interval = "300ms"
        timeout = "2s"

        [worker]
        poll_interval = "100ms"
        lease = "2s"

        [sources.myoperator]
        kind = "myoperator"
        secret = "{SECRET}"
        "#
    ))
    .expect("valid TOML");
    config["zendesk"]
        .as_table_mut()
        .expect("[zendesk]")
        .insert("url".into(), toml::Value::String(sandbox_url.to_string()));
    let mut storage = toml::Table::new();
    storage.insert(
        "sqlite_path".into(),
        toml::Value::String(dir.join("data/deskline.db").to_string_lossy().into_owned()),
    );
    storage.insert("url".into(), toml::Value::String(database_url.to_string()));
    config.insert("storage".into(), toml::Value::Table(storage));
    let path = dir.join("deskline.toml");
    std::fs::write(&path, toml::to_string(&config).expect("serialize")).expect("write config");
    path
}

/// Callers the sandbox already knows (end-users of its seed). Zendesk allows one user
/// `create_or_update` a second per account, so first-time callers would pace the run at one
/// ticket a second; and one end-user per first-time caller across instances needs the caller
/// lock shared between them, which is not checked here yet.
const KNOWN_CALLERS: [&str; 3] = ["919876543210", "14155550100", "919820000003"];

/// An answered MyOperator After-Call payload from one of the known callers.
fn payload(i: usize) -> Value {
    let end = 1_767_000_000_i64 + i as i64;
    let start = end - 95;
    let number = KNOWN_CALLERS[i % KNOWN_CALLERS.len()];
    json!({
        "_ai": format!("multi-{i}"), "_ci": "deskline-multi", "_cl": format!("+{number}"),
        "_cr": number, "_st": start, "_ms": start * 1000, "_et": end, "_dr": "00:01:35",
        "_ev": 1, "_su": 1, "_dn": "Support", "_se": "multi-instance test",
        "_fn": "", "_fu": "",
        "_ld": [{"_ds": "ANSWER", "_ac": "received", "_st": start + 8, "_et": end,
                 "_dr": "00:01:27",
                 "_rr": [{"_id": "a1", "_na": "Priya", "_em": "priya.sharma@sandbox.test",
                          "_ex": "10"}]}],
    })
}

struct Instance {
    process: Option<Running>,
    base: String,
    out: PathBuf,
    err: PathBuf,
}

impl Instance {
    fn logs(&self) -> String {
        format!(
            "--- {} stdout\n{}--- stderr\n{}",
            self.base,
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default()
        )
    }
}

fn all_logs(instances: &[Instance]) -> String {
    instances.iter().map(Instance::logs).collect()
}

async fn sandbox_put_faults(http: &reqwest::Client, sandbox: &str, faults: Value) {
    let r = http
        .put(format!("{sandbox}/sandbox/faults"))
        .basic_auth("admin@sandbox.test/token", Some("sandbox-token"))
        .json(&faults)
        .send()
        .await
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "faults {faults}: {}", r.status());
}

async fn sandbox_get(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .basic_auth("admin@sandbox.test/token", Some("sandbox-token"))
        .send()
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("JSON from the sandbox")
}

/// Tickets per external id, over every page.
async fn tickets_by_external_id(http: &reqwest::Client, sandbox: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let mut url = format!("{sandbox}/api/v2/tickets?page[size]=100");
    loop {
        let page = sandbox_get(http, &url).await;
        for t in page["tickets"].as_array().expect("tickets") {
            if let Some(e) = t["external_id"].as_str() {
                *counts.entry(e.to_string()).or_default() += 1;
            }
        }
        match page["links"]["next"].as_str() {
            Some(next) if page["meta"]["has_more"] == true => url = next.to_string(),
            _ => break,
        }
    }
    counts
}

/// The calls' jobs (those of an event) by state, read from the database itself (any instance
/// may be dead).
async fn jobs_by_state(url: &str) -> HashMap<String, i64> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test database");
    let rows = sqlx::query(
        "SELECT state, count(*) AS n FROM job WHERE event_id IS NOT NULL GROUP BY state",
    )
    .fetch_all(&mut conn)
    .await
    .expect("count jobs");
    rows.iter()
        .map(|r| (r.get::<String, _>("state"), r.get::<i64, _>("n")))
        .collect()
}

/// After each 429 with `retry_after = N`, no API request arrived before N seconds passed,
/// besides those already on their way (within [`TOLERANCE`] of the 429's answer).
fn assert_no_request_inside_retry_after(log: &[Value]) {
    let at = |e: &Value| -> DateTime<Utc> {
        e["at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| panic!("a timestamp in {e}"))
    };
    let api: Vec<(DateTime<Utc>, &Value)> = log
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/api/")))
        .map(|e| (at(e), e))
        .collect();
    let mut violations = Vec::new();
    for (t429, e) in api.iter().filter(|(_, e)| e["status"] == 429) {
        let n = e["retry_after"]
            .as_i64()
            .expect("a 429 carries retry_after");
        let answered =
            *t429 + chrono::Duration::milliseconds(e["duration_ms"].as_i64().unwrap_or(0));
        let resume = *t429 + chrono::Duration::seconds(n);
        for (t, f) in &api {
            if *t > answered + TOLERANCE && *t < resume - TOLERANCE {
                violations.push(format!(
                    "{} {} at {t} inside the Retry-After of the 429 at {t429} (until {resume})",
                    f["method"], f["path"]
                ));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "Retry-After was not honoured ({} violations), e.g.:\n{}",
        violations.len(),
        violations[..violations.len().min(10)].join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_postgres_make_one_ticket_per_call_through_faults_and_a_kill() {
    let calls = calls();
    let db = Database::create().await;
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let dir = scratch.path();
    // A high account limit: the 429s in this test are the storm's, not the plan's.
    let (_sandbox, sandbox) = start_sandbox(dir, &["--rate-limit", "100000"]);
    let (url, _) = database_url(&admin_url(), &db.name);

    let mut instances = Vec::new();
    for i in 0..INSTANCES {
        let home = dir.join(format!("instance-{i}"));
        let port = free_port();
        let config = write_config(&home, &sandbox, port, &url);
        let config_arg = config.to_string_lossy().into_owned();
        if i == 0 {
            let migrated = run(deskline(&home).args(["migrate", "--config", &config_arg]));
            assert_eq!(migrated.code, 0, "{}", migrated.all());
        }
        let out = home.join("serve.out");
        let err = home.join("serve.err");
        let child = deskline(&home)
            .args(["serve", "--no-migrate", "--config", &config_arg])
            .env("RUST_LOG", "warn")
            .stdout(File::create(&out).expect("log"))
            .stderr(File::create(&err).expect("log"))
            .spawn()
            .expect("deskline serve starts");
        instances.push(Instance {
            process: Some(Running(child)),
            base: format!("http://127.0.0.1:{port}"),
            out,
            err,
        });
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let deadline = Instant::now() + Duration::from_secs(60);
    for instance in &mut instances {
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", instance.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if let Some(p) = &mut instance.process {
                if let Ok(Some(status)) = p.0.try_wait() {
                    panic!("deskline serve exited with {status}:\n{}", instance.logs());
                }
            }
            assert!(
                Instant::now() < deadline,
                "no /healthz:\n{}",
                instance.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Post every call twice at once, to two different instances; the faults and the kill
    // happen at fixed points of the run.
    let bases: Arc<Vec<String>> = Arc::new(instances.iter().map(|i| i.base.clone()).collect());
    let gate = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_POSTS));
    let mut posts = tokio::task::JoinSet::new();
    // The faults follow a timeline of their own, while calls arrive and tickets are made.
    let faults = {
        let (http, sandbox) = (http.clone(), sandbox.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            sandbox_put_faults(&http, &sandbox, json!({"rate_limit_storm_seconds": 3})).await;
            tokio::time::sleep(Duration::from_secs(4)).await;
            for _ in 0..2 {
                sandbox_put_faults(&http, &sandbox, json!({"error_rate": 0.3})).await;
                tokio::time::sleep(Duration::from_millis(1500)).await;
                sandbox_put_faults(&http, &sandbox, json!({})).await;
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
        })
    };
    let kill_at = calls / 2;
    let mut killed_at = None;
    for i in 0..calls {
        if i == kill_at {
            let victim = instances[INSTANCES - 1].process.take();
            drop(victim); // SIGKILL, then reaped.
            killed_at = Some(Instant::now());
        }
        for copy in 0..2 {
            let permit = gate.clone().acquire_owned().await.expect("semaphore");
            let base = bases[(i + copy) % INSTANCES].clone();
            let http = http.clone();
            posts.spawn(async move {
                let _permit = permit;
                let answer = http
                    .post(format!("{base}/hooks/myoperator"))
                    .header("X-Deskline-Secret", SECRET)
                    .json(&payload(i))
                    .send()
                    .await;
                (i, answer.is_ok_and(|r| r.status().is_success()))
            });
        }
    }
    let mut acknowledged = vec![false; calls];
    while let Some(done) = posts.join_next().await {
        let (i, ok) = done.expect("post task");
        acknowledged[i] |= ok;
    }
    let killed_at = killed_at.expect("an instance was killed");
    faults.await.expect("the fault timeline");
    let lost: Vec<usize> = (0..calls).filter(|i| !acknowledged[*i]).collect();
    assert!(
        lost.is_empty(),
        "every call reached a live instance, yet these were not acknowledged: {lost:?}\n{}",
        all_logs(&instances)
    );

    // Every job completes, the killed instance's included.
    let bound = ALL_DONE_WITHIN + ALL_DONE_PER_CALL * calls as u32;
    let jobs = loop {
        let jobs = jobs_by_state(&url).await;
        let unfinished: i64 = jobs
            .iter()
            .filter(|(s, _)| s.as_str() != "completed")
            .map(|(_, n)| n)
            .sum();
        if unfinished == 0 && jobs.get("completed").copied().unwrap_or(0) >= calls as i64 {
            break jobs;
        }
        assert!(
            killed_at.elapsed() < bound,
            "jobs left {:?} after the kill: {jobs:?}\n{}",
            killed_at.elapsed(),
            all_logs(&instances)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "{calls} calls: all jobs completed {:?} after the kill ({jobs:?})",
        killed_at.elapsed()
    );

    let tickets = tickets_by_external_id(&http, &sandbox).await;
    let mut wrong = Vec::new();
    for i in 0..calls {
        let id = format!("myoperator:multi-{i}");
        let n = tickets.get(&id).copied().unwrap_or(0);
        if n != 1 {
            wrong.push(format!("{id}: {n} tickets"));
        }
    }
    assert!(
        wrong.is_empty(),
        "one ticket per acknowledged call; wrong: {wrong:?}"
    );
    assert_eq!(tickets.values().sum::<usize>(), calls, "no other ticket");

    let log = sandbox_get(&http, &format!("{sandbox}/sandbox/requests?since=0")).await;
    let log = log["requests"].as_array().cloned().unwrap_or_default();
    assert!(
        log.iter().any(|e| e["status"] == 429),
        "the storm answered 429s"
    );
    assert!(
        log.iter().any(|e| e["fault"] == "server_error"),
        "the bursts answered 5xx"
    );
    assert_no_request_inside_retry_after(&log);
}
