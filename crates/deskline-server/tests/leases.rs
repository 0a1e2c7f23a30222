//! Heartbeats across instances, over real HTTP with the Zendesk sandbox: two deskline services
//! share one SQLite file, with a 2 s lease.
//!
//! - an instance that dies holding jobs: the other completes them within the lease bound;
//! - a job slower than the lease runs once, because its worker keeps renewing;
//! - renewals held up by a locked database: the job stops before its lease lapses and runs
//!   again after the takeover, never twice at once, and the call gets one ticket.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use deskline_server::app::{self, Runtime, Service};
use deskline_server::config::{validate, Config};
use deskline_store::{JobFilter, JobState, SqliteStore, Store};
use serde_json::{json, Value};
use sqlx::Connection;
use tempfile::TempDir;

const LEASE: Duration = Duration::from_secs(2);

/// The shared database, and the test configuration with the short lease pointing at it.
fn shared(config: &mut Config, db: &Path) {
    config.storage.sqlite_path = db.to_path_buf();
    config.worker.lease = LEASE;
}

/// Starts another deskline service on the sandbox and database of `app`, as `worker_id`.
async fn second_instance(app: &TestApp, db: &Path, worker_id: &str) -> (Service, String) {
    let dir = TempDir::new().expect("temporary directory");
    let mut config = test_config(&app.sandbox_url, &dir);
    shared(&mut config, db);
    let resolved = validate(config).expect("a valid configuration");
    let (zendesk_url, zendesk_email, zendesk_token) =
        Runtime::remote_zendesk(&resolved).expect("the sandbox");
    let store = SqliteStore::open(db)
        .await
        .expect("the shared database opens");
    let runtime = Runtime {
        store: Arc::new(store),
        zendesk_url,
        zendesk_email,
        zendesk_token,
        generated_secrets: BTreeMap::new(),
        admin_token: ADMIN_TOKEN.to_string(),
        clock: app::system_clock(),
        worker_id: worker_id.to_string(),
        recording_link_key: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let service = app::start(resolved, runtime, listener)
        .await
        .expect("the second instance starts");
    let url = format!("http://{}", service.addr);
    (service, url)
}

/// Posts a missed call with a fresh id to the deskline at `url`; its call id.
async fn post_missed_call(app: &TestApp, url: &str, id: &str) -> String {
    let payload = with_call_id(missed_call(), id);
    let r = app
        .http
        .post(format!("{url}/hooks/{SOURCE}"))
        .header(SECRET_HEADER, SECRET)
        .json(&payload)
        .send()
        .await
        .expect("POST /hooks/myoperator");
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    call_id(&payload)
}

async fn jobs(store: &Arc<dyn Store>) -> Vec<deskline_store::Job> {
    store
        .list_jobs(&JobFilter {
            limit: 1000,
            ..JobFilter::default()
        })
        .await
        .expect("list jobs")
}

/// Waits until every job is completed; returns them.
async fn all_completed(store: &Arc<dyn Store>, n: usize) -> Vec<deskline_store::Job> {
    eventually(&format!("{n} completed jobs"), || async {
        let jobs = jobs(store).await;
        (jobs.len() == n && jobs.iter().all(|j| j.state == JobState::Completed)).then_some(jobs)
    })
    .await
}

async fn assert_one_ticket_each(app: &TestApp, calls: &[String]) {
    for call in calls {
        let tickets = app
            .tickets_with_external_id(&format!("{SOURCE}:{call}"))
            .await;
        assert_eq!(tickets.len(), 1, "call {call}: {tickets:?}");
    }
}

fn db_in(dir: &TempDir) -> PathBuf {
    dir.path().join("shared.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_instances_jobs_are_completed_by_another_within_the_lease() {
    let dir = TempDir::new().expect("temporary directory");
    let db = db_in(&dir);
    // This instance only polls, slowly: the calls posted to the other one wake that one's
    // worker at once, so the other one holds them when it dies.
    let app = spawn_app_with(sandbox_config(), |c| {
        shared(c, &db);
        c.worker.poll_interval = Duration::from_millis(500);
    })
    .await;
    let (doomed, doomed_url) = second_instance(&app, &db, "instance-doomed").await;
    let store = app.service.state.store.clone();
    app.set_faults(json!({"latency_ms": 1500})).await;

    let mut calls = Vec::new();
    for i in 0..4 {
        calls.push(post_missed_call(&app, &doomed_url, &format!("lease-dead-{i}")).await);
    }
    let held = eventually("the doomed instance to hold jobs", || async {
        let held: Vec<_> = jobs(&store)
            .await
            .into_iter()
            .filter(|j| {
                j.state == JobState::Running && j.attempted_by.as_deref() == Some("instance-doomed")
            })
            .map(|j| j.id)
            .collect();
        (!held.is_empty()).then_some(held)
    })
    .await;
    // The crash: nothing of that instance runs any more, its leases are neither renewed nor
    // released.
    doomed.abort().await;
    let died = Instant::now();
    app.clear_faults().await;

    let done = all_completed(&store, calls.len()).await;
    let took = died.elapsed();
    eprintln!(
        "{} job(s) of the dead instance completed by the other {:.1} s after it died \
         (lease {LEASE:?})",
        held.len(),
        took.as_secs_f64()
    );
    // The bound is about 1.25 leases plus a poll; far from the 5 minutes of the old rescuer.
    assert!(
        took < Duration::from_secs(12),
        "taken over after {took:?}, lease {LEASE:?}"
    );
    for job in done.iter().filter(|j| held.contains(&j.id)) {
        assert_eq!(job.attempted_by.as_deref(), Some("e2e-worker"), "{job:?}");
        assert!(job.attempt >= 2, "{job:?}");
        assert!(
            job.errors.iter().any(|e| e.error.starts_with("rescued")),
            "{job:?}"
        );
    }
    assert_one_ticket_each(&app, &calls).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_slower_than_its_lease_runs_once_while_its_worker_renews() {
    let dir = TempDir::new().expect("temporary directory");
    let db = db_in(&dir);
    let app = spawn_app_with(sandbox_config(), |c| shared(c, &db)).await;
    let (other, other_url) = second_instance(&app, &db, "instance-other").await;
    let store = app.service.state.store.clone();
    // Every Zendesk request takes longer than the whole lease.
    app.set_faults(json!({"latency_ms": 2500})).await;
    let since = app.last_request_seq().await;

    let mut calls = Vec::new();
    for i in 0..4 {
        let url = if i % 2 == 0 { &app.url } else { &other_url };
        calls.push(post_missed_call(&app, url, &format!("lease-slow-{i}")).await);
    }
    let done = all_completed(&store, calls.len()).await;
    for job in &done {
        assert_eq!(job.attempt, 1, "never taken over: {job:?}");
        assert!(job.errors.is_empty(), "{job:?}");
    }
    assert_one_ticket_each(&app, &calls).await;
    // A second run would have repeated a create with its idempotency key.
    let repeated: Vec<Value> = app
        .sandbox_requests(since)
        .await
        .into_iter()
        .filter(|r| r["idempotency_lookup"] == "hit")
        .collect();
    assert!(repeated.is_empty(), "repeated creates: {repeated:?}");
    app.clear_faults().await;
    other.shutdown().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renewals_held_up_by_a_locked_database_never_make_a_job_run_twice_at_once() {
    let dir = TempDir::new().expect("temporary directory");
    let db = db_in(&dir);
    let app = spawn_app_with(sandbox_config(), |c| shared(c, &db)).await;
    let store = app.service.state.store.clone();
    app.set_faults(json!({"latency_ms": 2500})).await;
    let since = app.last_request_seq().await;

    let call = post_missed_call(&app, &app.url, "lease-stalled").await;
    eventually("the job to run", || async {
        jobs(&store)
            .await
            .iter()
            .any(|j| j.state == JobState::Running)
            .then_some(())
    })
    .await;
    // Another connection takes SQLite's write lock for longer than the lease (but less than
    // the busy timeout): every renewal waits, so the worker must give the job up by itself.
    let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut locker)
        .await
        .expect("take the write lock");
    tokio::time::sleep(LEASE + Duration::from_millis(1500)).await;
    sqlx::query("ROLLBACK")
        .execute(&mut locker)
        .await
        .expect("release the write lock");
    app.clear_faults().await;

    let done = all_completed(&store, 1).await;
    let job = &done[0];
    assert!(
        job.attempt >= 2,
        "the stalled run was stopped and the job taken over: {job:?}"
    );
    assert!(
        job.errors.iter().any(|e| e.error.starts_with("rescued")),
        "{job:?}"
    );
    assert_one_ticket_each(&app, std::slice::from_ref(&call)).await;

    // One job, one worker: its Zendesk requests must follow one another. Two runs at once
    // would show as overlapping requests.
    let mut spans: Vec<(i64, i64, Value)> = app
        .sandbox_requests(since)
        .await
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/v2/"))
        })
        .map(|r| {
            let start = r["at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis())
                .expect("a request time");
            let end = start + r["duration_ms"].as_i64().unwrap_or(0);
            (start, end, r)
        })
        .collect();
    spans.sort_by_key(|s| s.0);
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "two requests of one job overlap: {} and {}",
            pair[0].2,
            pair[1].2
        );
    }
    app.stop().await;
}

/// A first-time caller whose calls reach two instances at once: one instance looks the number
/// up and creates the user, the other waits for it and uses the link it wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_time_caller_is_looked_up_and_created_once_across_instances() {
    let dir = TempDir::new().expect("temporary directory");
    let db = db_in(&dir);
    let app = spawn_app_with(sandbox_config(), |c| shared(c, &db)).await;
    let (other, other_url) = second_instance(&app, &db, "instance-other").await;
    let store = app.service.state.store.clone();
    // Slow answers keep the first look-up going while the other instance's calls arrive.
    app.set_faults(json!({"latency_ms": 300})).await;
    let number = "+919820004455";

    let mut posts = Vec::new();
    for i in 0..6 {
        let url = if i % 2 == 0 {
            app.url.clone()
        } else {
            other_url.clone()
        };
        let payload = with_caller(with_call_id(missed_call(), &format!("first-{i}")), number);
        let http = app.http.clone();
        posts.push(tokio::spawn(async move {
            http.post(format!("{url}/hooks/{SOURCE}"))
                .header(SECRET_HEADER, SECRET)
                .json(&payload)
                .send()
                .await
                .expect("POST /hooks/myoperator")
                .status()
        }));
    }
    for post in posts {
        assert_eq!(post.await.expect("post"), reqwest::StatusCode::ACCEPTED);
    }
    let done = all_completed(&store, 6).await;
    let by: std::collections::BTreeSet<_> =
        done.iter().filter_map(|j| j.attempted_by.clone()).collect();
    eprintln!("calls completed by {by:?}");

    let users = app.end_users_with_phone(number).await;
    assert_eq!(users.len(), 1, "one end-user with the number: {users:?}");
    assert_eq!(
        app.count_requests("POST", "/api/v2/users/create_or_update")
            .await,
        1,
        "created once"
    );
    assert_eq!(
        app.count_requests("GET", "/api/v2/users/search").await,
        1,
        "looked up once"
    );
    let user_id = users[0]["id"].as_u64().expect("user id");
    for i in 0..6 {
        let tickets = app
            .tickets_with_external_id(&format!("{SOURCE}:first-{i}"))
            .await;
        assert_eq!(tickets.len(), 1, "call first-{i}");
        assert_eq!(tickets[0]["requester_id"], user_id, "call first-{i}");
    }
    app.clear_faults().await;
    other.shutdown().await;
    app.stop().await;
}
