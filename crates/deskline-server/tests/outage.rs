//! deskline keeps acknowledging whatever Zendesk does: started while the sandbox is down, in a
//! 429 storm or rejecting the token, it answers providers at once, and each call becomes
//! exactly one ticket once Zendesk is back. An outage pauses the queue without spending
//! attempts, and a restarted process honours a `Retry-After` an earlier one received.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use deskline_server::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use zendesk_sandbox::{FaultSettings, SandboxConfig, SandboxHandle};

/// The longest a provider may wait for deskline's first answer after it starts.
const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Short outage settings, so a long outage fits in a test.
fn short_outage_settings(c: &mut Config) {
    c.zendesk.outage_after_failures = 3;
    c.zendesk.outage_first_probe = Duration::from_millis(200);
    c.zendesk.outage_max_probe = Duration::from_millis(800);
    c.zendesk.recheck_interval = Duration::from_millis(300);
    c.zendesk.timeout = Duration::from_secs(2);
}

async fn start_sandbox_on(addr: SocketAddr, config: SandboxConfig) -> SandboxHandle {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind the sandbox's address {addr} again: {e}"));
    zendesk_sandbox::start(config, listener)
        .await
        .expect("the sandbox starts")
}

/// An address where a sandbox ran and was stopped: it refuses connections until a sandbox is
/// started there again.
async fn stopped_sandbox_address() -> SocketAddr {
    let sandbox = start_sandbox_on("127.0.0.1:0".parse().expect("address"), sandbox_config()).await;
    let addr = sandbox_addr(&sandbox);
    sandbox.shutdown().await;
    addr
}

fn sandbox_addr(sandbox: &SandboxHandle) -> SocketAddr {
    sandbox
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("the sandbox's address")
}

/// Posts `n` distinct answered calls, each accepted (202); their call ids.
async fn deliver_calls(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        app.deliver(&with_call_id(answered_call(), &id)).await;
        ids.push(id);
    }
    ids
}

/// Waits until every call has a ticket, then checks each has exactly one in the sandbox.
async fn assert_one_ticket_each(app: &TestApp, ids: &[String]) {
    for id in ids {
        let ticket = app.wait_for_ticket(id).await;
        let all = app.sandbox_tickets().await;
        let with_call = all
            .iter()
            .filter(|t| field(t, FIELD_CALL_ID).as_deref() == Some(id.as_str()))
            .count();
        assert_eq!(with_call, 1, "call {id} (ticket {ticket}) has one ticket");
    }
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    answer(
        app.http
            .get(format!("{}/readyz", app.url))
            .send()
            .await
            .expect("GET /readyz"),
    )
    .await
}

/// Polls `/readyz` until `test` holds; its body.
async fn readyz_until(app: &TestApp, what: &str, test: impl Fn(&Value) -> bool) -> Value {
    let test = &test;
    eventually(what, || async move {
        let (status, body) = readyz(app).await;
        assert_eq!(status, StatusCode::OK, "calls are accepted: {body}");
        test(&body).then_some(body)
    })
    .await
}

/// Attempts the jobs have spent, not counting one in flight (a running job's claim counts it
/// until its outcome is recorded; a snooze gives it back).
fn attempts_spent(jobs: &[Value]) -> u64 {
    jobs.iter()
        .map(|j| {
            let attempt = j["attempt"].as_u64().unwrap_or(0);
            attempt.saturating_sub(u64::from(j["state"] == "running"))
        })
        .sum()
}

fn names_key(body: &Value, key: &str) -> bool {
    body["problems"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["key"] == key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_while_zendesk_is_down_it_acknowledges_and_tickets_follow() {
    let addr = stopped_sandbox_address().await;
    let spare = start_sandbox_on("127.0.0.1:0".parse().expect("address"), sandbox_config()).await;
    let started = Instant::now();
    let mut app = start_app(spare, |c| {
        short_outage_settings(c);
        c.zendesk.url = Some(format!("http://{addr}"));
    })
    .await
    .expect("deskline starts while Zendesk is down");
    app.sandbox_url = format!("http://{addr}");
    let ids = deliver_calls(&app, "down", 3).await;
    assert!(
        started.elapsed() < FIRST_ANSWER_WITHIN,
        "calls acknowledged {:?} after start",
        started.elapsed()
    );
    let body = readyz_until(&app, "readyz: Zendesk unreachable", |b| {
        b["helpdesk"]["state"] == "unreachable" && names_key(b, "zendesk.url")
    })
    .await;
    assert_eq!(body["status"], "degraded", "{body}");
    let healthz = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(healthz.status(), StatusCode::OK, "the process stays live");

    let spare = std::mem::replace(
        &mut app.sandbox,
        start_sandbox_on(addr, sandbox_config()).await,
    );
    spare.shutdown().await;
    assert_one_ticket_each(&app, &ids).await;
    readyz_until(&app, "readyz: ready", |b| b["status"] == "ready").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_in_a_429_storm_it_acknowledges_and_tickets_follow() {
    let storm = SandboxConfig {
        faults: FaultSettings {
            rate_limit_storm_seconds: 3,
            ..FaultSettings::default()
        },
        ..sandbox_config()
    };
    let sandbox = start_sandbox_on("127.0.0.1:0".parse().expect("address"), storm).await;
    let started = Instant::now();
    let app = start_app(sandbox, short_outage_settings)
        .await
        .expect("deskline starts in a 429 storm");
    let ids = deliver_calls(&app, "storm", 3).await;
    assert!(
        started.elapsed() < FIRST_ANSWER_WITHIN,
        "calls acknowledged {:?} after start",
        started.elapsed()
    );
    readyz_until(&app, "readyz: rate limited", |b| {
        names_key(b, "zendesk.requests_per_minute")
    })
    .await;
    assert_one_ticket_each(&app, &ids).await;
    // One 429 per Retry-After at most: every later request waited for the pause.
    let log = app.sandbox_requests(0).await;
    assert_no_request_inside_retry_after(&log, &[]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_pauses_the_queue_and_calls_become_tickets_once_fixed() {
    let sandbox = start_sandbox_on("127.0.0.1:0".parse().expect("address"), sandbox_config()).await;
    let started = Instant::now();
    let app = start_app(sandbox, |c| {
        short_outage_settings(c);
        c.zendesk.api_token = Some("a-revoked-token".into());
    })
    .await
    .expect("deskline starts with a rejected token");
    let ids = deliver_calls(&app, "token", 3).await;
    assert!(
        started.elapsed() < FIRST_ANSWER_WITHIN,
        "calls acknowledged {:?} after start",
        started.elapsed()
    );
    let body = readyz_until(&app, "readyz: the token", |b| {
        names_key(b, "zendesk.api_token")
    })
    .await;
    assert_eq!(body["helpdesk"]["state"], "misconfigured", "{body}");
    let (_, status) = app.admin_get("/admin/status").await;
    let reason = status["helpdesk"]["queue_pause"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("zendesk.api_token"), "{status:#}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    for job in app.jobs(None).await {
        assert!(
            matches!(
                job["state"].as_str(),
                Some("available" | "retryable" | "running")
            ),
            "kept, not sent nor discarded: {job:#}"
        );
    }

    // The operator fixes the token and restarts deskline on the same database.
    let app = app
        .restart(|c| c.zendesk.api_token = Some(SANDBOX_TOKEN.into()))
        .await;
    assert_one_ticket_each(&app, &ids).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_leaves_calls_waiting_with_attempts_unspent() {
    let mut app = start_app(
        start_sandbox_on("127.0.0.1:0".parse().expect("address"), sandbox_config()).await,
        |c| {
            short_outage_settings(c);
            // Without the breaker, a few failures would send every call to the dead letter.
            c.worker.max_attempts = 3;
        },
    )
    .await
    .expect("deskline starts");
    app.wait_for_directory().await;
    let addr = sandbox_addr(&app.sandbox);

    // 5xx first: a few attempts may go before the breaker opens, never all of them.
    app.set_faults(json!({"error_rate": 1.0, "error_statuses": [502]}))
        .await;
    let first = deliver_calls(&app, "fivexx", 2).await;
    readyz_until(&app, "readyz: outage", |b| {
        !b["helpdesk"]["outage"].is_null()
    })
    .await;
    // Many probe intervals (200 ms growing to 800 ms): long, as the settings go.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let jobs = app.jobs(None).await;
    let spent = attempts_spent(&jobs);
    assert!(
        spent < 3,
        "at most breaker-1 attempts spent in all: {jobs:#?}"
    );
    assert!(jobs.iter().all(|j| j["state"] != "discarded"), "{jobs:#?}");

    // Then Zendesk goes away entirely: connections refused.
    let down = std::mem::replace(
        &mut app.sandbox,
        start_sandbox_on("127.0.0.1:0".parse().expect("address"), sandbox_config()).await,
    );
    down.shutdown().await;
    let second = deliver_calls(&app, "down", 2).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, status) = app.admin_get("/admin/status").await;
    assert_eq!(status["helpdesk"]["state"], "unreachable", "{status:#}");
    let jobs = app.jobs(None).await;
    for job in &jobs {
        assert!(
            matches!(
                job["state"].as_str(),
                Some("available" | "retryable" | "running")
            ),
            "waiting: {job:#}"
        );
    }
    let spent_now = attempts_spent(&jobs);
    assert_eq!(
        spent_now, spent,
        "no attempt spent while Zendesk is out: {jobs:#?}"
    );

    // Zendesk returns (fresh, at the same address).
    let spare = std::mem::replace(
        &mut app.sandbox,
        start_sandbox_on(addr, sandbox_config()).await,
    );
    spare.shutdown().await;
    let all: Vec<String> = first.into_iter().chain(second).collect();
    assert_one_ticket_each(&app, &all).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_sends_nothing_inside_an_earlier_retry_after() {
    let app = spawn_app_with(sandbox_config(), short_outage_settings).await;
    let since = app.last_request_seq().await;
    app.set_faults(json!({"rate_limit_storm_seconds": 4})).await;
    let ids = deliver_calls(&app, "restart", 2).await;
    // The pause is stored once a 429 is met.
    eventually("the stored pause", || async {
        let (_, status) = app.admin_get("/admin/status").await;
        (!status["helpdesk"]["rate_limit_pause"].is_null()).then_some(())
    })
    .await;
    // The storm's own countdown is over before the pause would be: only the stored pause can
    // hold the new process back.
    app.clear_faults().await;
    let restarted_at = Utc::now();
    let app = app.restart(|_| {}).await;
    assert_one_ticket_each(&app, &ids).await;
    let log = app.sandbox_requests(since).await;
    assert!(
        log.iter().any(|e| e["status"] == 429),
        "the storm was met: {log:#?}"
    );
    assert_no_request_inside_retry_after(&log, &[restarted_at]);
    app.stop().await;
}

/// Slack for requests that left before a 429's answer was read, and for clock jitter.
const TOLERANCE: chrono::Duration = chrono::Duration::milliseconds(150);

/// After each 429 with `retry_after = N`, no API request arrived before N seconds passed
/// (besides those already on their way, within [`TOLERANCE`] of the answer, unless sent
/// after one of `marks`: a restart, whose new process had no request on its way).
fn assert_no_request_inside_retry_after(log: &[Value], marks: &[DateTime<Utc>]) {
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
            // A request sent by a process started after the 429 cannot have been on its way.
            let after_restart = marks.iter().any(|m| m < t && *m > *t429);
            let start = if after_restart {
                answered
            } else {
                answered + TOLERANCE
            };
            if *t > start && *t < resume - TOLERANCE {
                violations.push(format!(
                    "429 #{} at {t429} (retry_after {n}s) was followed by #{} {} {} at {t}{}",
                    e["seq"],
                    f["seq"],
                    f["method"],
                    f["path"],
                    if after_restart {
                        " (after the restart)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "Retry-After was not honoured ({} violations), e.g.:\n{}",
        violations.len(),
        violations[..violations.len().min(10)].join("\n")
    );
}
