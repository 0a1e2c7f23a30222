//! deskline against a failing or misconfigured Zendesk: 500 calls through a 429 storm and a
//! burst of 5xx still end as exactly one ticket each, with Retry-After honoured; a wrong field
//! id or token is reported by `/readyz` with the key to fix, and pauses the queue.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use fan_out::for_each_concurrent;
use reqwest::StatusCode;
use serde_json::Value;
use zendesk_sandbox::seed::SeedUser;

/// How many calls the storm test sends.
const CALLS: usize = 500;

/// Slack in the Retry-After check (see [`assert_retry_after_honoured`]).
const TOLERANCE: chrono::Duration = chrono::Duration::milliseconds(100);

mod fan_out {
    //! A tiny bounded fan-out, so the test needs no extra crate.
    use std::future::Future;
    use tokio::task::JoinSet;

    /// Runs `f` on every item, at most `limit` at once; panics if any task panicked.
    pub async fn for_each_concurrent<T, F, Fut>(items: Vec<T>, limit: usize, f: F)
    where
        T: Send + 'static,
        F: Fn(T) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut set = JoinSet::new();
        for item in items {
            while set.len() >= limit {
                if let Some(r) = set.join_next().await {
                    r.expect("a delivery task");
                }
            }
            set.spawn(f(item));
        }
        while let Some(r) = set.join_next().await {
            r.expect("a delivery task");
        }
    }
}

/// Callers already in Zendesk besides the default seed's three: a realistic customer base,
/// where most calls come from people the helpdesk knows.
fn known_customers() -> Vec<(String, String)> {
    (0..14)
        .map(|i| (format!("Customer {i:02}"), format!("+9198300{i:05}")))
        .collect()
}

/// Numbers Zendesk does not know yet.
const FIRST_TIME_CALLERS: [&str; 3] = ["+919811100001", "+919811100002", "+919811100003"];

/// The caller of call `i`, in blocks of 20 calls: the default seed's three customers, the 14
/// other known customers, then three calls in a row from one first-time caller (someone who
/// did not get through and calls back at once).
fn caller_of(i: usize, known: &[(String, String)]) -> String {
    const DEFAULT_SEED: [&str; 3] = ["+919876543210", "+14155550100", "+919820000003"];
    match i % 20 {
        n @ 0..=2 => DEFAULT_SEED[n].to_string(),
        n @ 3..=16 => known[n - 3].1.clone(),
        _ => FIRST_TIME_CALLERS[(i / 20) % FIRST_TIME_CALLERS.len()].to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_calls_through_a_429_storm_and_5xx_end_as_one_ticket_each() {
    let known = known_customers();
    let mut sandbox = sandbox_config();
    for (name, phone) in &known {
        sandbox.seed.users.push(SeedUser {
            id: None,
            name: name.clone(),
            email: None,
            phone: Some(phone.clone()),
            role: "end-user".into(),
            external_id: None,
            groups: Vec::new(),
            organization: None,
            password: None,
            user_fields: BTreeMap::new(),
            time_zone: None,
        });
    }
    let app = spawn_app_with(sandbox, |c| {
        c.worker.concurrency = 16;
        c.zendesk.requests_per_minute = Some(60_000);
    })
    .await;

    // A mix of answered and missed calls, each with its own id.
    let payloads: Vec<Value> = (0..CALLS)
        .map(|i| {
            let base = if i % 3 == 0 {
                missed_call()
            } else {
                answered_call()
            };
            with_call_id(
                with_caller(base, &caller_of(i, &known)),
                &format!("storm-{i:04}"),
            )
        })
        .collect();

    // The storm starts before the calls arrive; then 5xx, then calm.
    let storm_started = Instant::now();
    app.set_faults(serde_json::json!({"rate_limit_storm_seconds": 3}))
        .await;
    let url = format!("{}/hooks/{SOURCE}", app.url);
    let http = app.http.clone();
    for_each_concurrent(payloads, 16, move |payload| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(&url)
                .header(SECRET_HEADER, SECRET)
                .json(&payload)
                .send()
                .await
                .expect("delivery");
            assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", payload["_ai"]);
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(storm_started.elapsed())).await;
    app.set_faults(serde_json::json!({"error_rate": 0.3})).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    app.clear_faults().await;

    // Wait through deskline's store only, so nothing but deskline's own work reaches Zendesk.
    wait_for_all_completed(&app, CALLS).await;
    let deskline_requests = app.sandbox_requests(0).await;

    assert!(
        app.jobs(Some("discarded")).await.is_empty(),
        "no job may be discarded"
    );
    assert_eq!(app.jobs(Some("completed")).await.len(), CALLS);

    let tickets = app.sandbox_tickets().await;
    let external_ids: BTreeSet<String> = tickets
        .iter()
        .filter_map(|t| t["external_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(tickets.len(), CALLS, "one ticket per call, no more");
    assert_eq!(external_ids.len(), CALLS, "{CALLS} distinct external ids");
    for i in 0..CALLS {
        assert!(
            external_ids.contains(&format!("myoperator:storm-{i:04}")),
            "call storm-{i:04} has its ticket"
        );
    }

    let rate_limited = deskline_requests
        .iter()
        .filter(|e| e["status"] == 429)
        .count();
    let server_errors = deskline_requests
        .iter()
        .filter(|e| e["fault"] == "server_error")
        .count();
    // Each first-time caller became a user once, even when their calls were handled together.
    let users_written = deskline_requests
        .iter()
        .filter(|e| e["path"] == "/api/v2/users/create_or_update")
        .filter(|e| {
            e["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
        })
        .count();
    assert_eq!(
        users_written,
        FIRST_TIME_CALLERS.len(),
        "one create_or_update per first-time caller: {:#?}",
        summary(&deskline_requests)
    );
    for number in FIRST_TIME_CALLERS {
        assert_eq!(app.end_users_with_phone(number).await.len(), 1, "{number}");
    }
    assert!(rate_limited > 0, "the storm was met");
    assert!(server_errors > 0, "the 5xx burst was met");
    assert_retry_after_honoured(&deskline_requests);
    app.stop().await;
}

/// Waits until `n` jobs are completed, reading only deskline's queue counts; on timeout the
/// failure shows the queue and what Zendesk was asked.
async fn wait_for_all_completed(app: &TestApp, n: usize) {
    let started = Instant::now();
    loop {
        let (_, queue) = app.admin_get("/admin/queue").await;
        if queue["jobs_by_state"]["completed"].as_u64().unwrap_or(0) >= n as u64 {
            return;
        }
        if started.elapsed() > Duration::from_secs(45) {
            let log = app.sandbox_requests(0).await;
            panic!(
                "gave up waiting for {n} completed jobs\nqueue: {queue}\nZendesk requests: {:#?}",
                summary(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Request-log entries counted by method, path (without query) and status.
fn summary(log: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in log {
        let path = e["path"].as_str().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        let key = format!(
            "{} {path} {}",
            e["method"].as_str().unwrap_or("?"),
            e["status"]
        );
        *out.entry(key).or_default() += 1;
    }
    out
}

/// Checks the request log: after a 429 with `retry_after = N`, no request arrived before N
/// seconds had passed. Within [`TOLERANCE`] of the 429 a request may still arrive: it left
/// deskline before the 429's answer could be read (concurrent jobs). And [`TOLERANCE`] before
/// the N seconds are up is accepted as jitter between two arrivals.
fn assert_retry_after_honoured(log: &[Value]) {
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
                    "429 #{} at {t429} (retry_after {n}s) was followed by #{} {} {} at {t}",
                    e["seq"], f["seq"], f["method"], f["path"]
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

/// `/readyz` once it lists a problem with `key`: its status and body.
async fn readyz_naming(app: &TestApp, key: &str) -> Value {
    eventually(&format!("/readyz naming {key}"), || async {
        let r = app
            .http
            .get(format!("{}/readyz", app.url))
            .send()
            .await
            .expect("GET /readyz");
        assert_eq!(r.status(), StatusCode::OK, "calls are still accepted");
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let named = body["problems"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["key"] == key));
        named.then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_field_that_does_not_exist_pauses_the_queue_and_is_reported() {
    let sandbox = zendesk_sandbox::start(
        sandbox_config(),
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    )
    .await
    .expect("the sandbox starts");
    let app = start_app(sandbox, |c| {
        c.zendesk.recheck_interval = Duration::from_millis(300);
        if let Some(s) = c.sources.get_mut(SOURCE) {
            s.fields.duration = Some(999);
        }
    })
    .await
    .expect("deskline starts whatever the account says");
    let body = readyz_naming(&app, "sources.myoperator.fields.duration").await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["helpdesk"]["state"], "misconfigured", "{body}");
    let message = body["problems"].to_string();
    assert!(message.contains("999"), "{message}");
    // The fix names the fields that do exist.
    assert!(message.contains("10003"), "{message}");
    // Calls are kept, not sent: the queue is paused with the problem as its reason.
    app.deliver(&answered_call()).await;
    let (_, status) = app.admin_get("/admin/status").await;
    let reason = status["helpdesk"]["queue_pause"]["reason"].to_string();
    assert!(reason.contains("fields.duration"), "{status}");
    let jobs = app.jobs(None).await;
    assert!(
        jobs.iter()
            .all(|j| j["state"] != "completed" && j["state"] != "discarded"),
        "{jobs:#?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_zendesk_token_is_reported_with_the_401_explanation() {
    let sandbox = zendesk_sandbox::start(
        sandbox_config(),
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    )
    .await
    .expect("the sandbox starts");
    let app = start_app(sandbox, |c| {
        c.zendesk.api_token = Some("not-the-sandbox-token".into());
    })
    .await
    .expect("deskline starts whatever the account says");
    let body = readyz_naming(&app, "zendesk.api_token").await;
    let message = body.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("rejected the API token"), "{message}");
    assert!(
        !message.contains("not-the-sandbox-token"),
        "never the token: {message}"
    );
    app.stop().await;
}
