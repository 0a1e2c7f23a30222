//! Ingest under pressure, over real HTTP on a real SQLite file: a large paused backlog, and a
//! database whose write lock another process holds past the busy timeout. Acknowledgements
//! never turn into 500s, and nothing wedges: every request after the trouble succeeds.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use deskline_server::worker::call_ticket::ZENDESK_QUEUE;
use deskline_store::JobState;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};

/// Posts distinct calls from `clients` concurrent clients until `until`; returns every
/// answer's status, with the JSON body and `Retry-After` of answers that are not 2xx.
async fn post_calls_until(
    app: &TestApp,
    clients: usize,
    until: Instant,
    prefix: &str,
) -> Vec<(StatusCode, Option<String>, Value)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, next) = (app.http.clone(), app.hook_url(SOURCE), next.clone());
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while Instant::now() < until {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let payload = with_call_id(answered_call(), &format!("{prefix}-{i}"));
                let r = http
                    .post(&url)
                    .header(SECRET_HEADER, SECRET)
                    .json(&payload)
                    .send()
                    .await
                    .expect("deskline answers");
                let status = r.status();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = r.json::<Value>().await.unwrap_or(Value::Null);
                answers.push((status, retry_after, body));
            }
            answers
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    all
}

/// `n` calls posted one after another must each be accepted (202).
async fn every_call_is_accepted(app: &TestApp, prefix: &str, n: usize) {
    for i in 0..n {
        let payload = with_call_id(answered_call(), &format!("{prefix}-{i}"));
        let r = app.post_call(&payload).await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::ACCEPTED, "call {prefix}-{i}: {body}");
    }
}

/// Adds `n` waiting call jobs to the database at `db` in one statement from a connection of
/// its own: seconds faster than through the store, which matters in a debug build.
async fn add_waiting_jobs(db: &std::path::Path, n: u32) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("a second connection to the database");
    // The store's fixed-width timestamp format.
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO job (kind, queue, args, max_attempts, scheduled_at, ordering_key, created_at)
         SELECT 'call_ticket', $2, '{}', 12, $3, 'call:backlog:' || i, $3 FROM n",
    )
    .bind(n)
    .bind(ZENDESK_QUEUE)
    .bind(&now)
    .execute(&mut conn)
    .await
    .expect("insert the backlog");
    conn.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_with_100k_waiting_jobs_keeps_acknowledging_32_clients() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("backlog.db");
    let app = spawn_app_with(sandbox_config(), |config| {
        config.storage.sqlite_path = db.clone();
    })
    .await;
    let store = app.service.state.store.clone();
    store
        .pause_queue(
            ZENDESK_QUEUE,
            chrono::Utc::now() + chrono::Duration::hours(1),
            "test: a long 429",
        )
        .await
        .expect("pause");
    add_waiting_jobs(&db, 100_000).await;

    let answers = post_calls_until(&app, 32, Instant::now() + Duration::from_secs(4), "load").await;
    let failed: Vec<_> = answers
        .iter()
        .filter(|(s, _, _)| *s != StatusCode::ACCEPTED)
        .collect();
    assert!(!answers.is_empty());
    assert!(
        failed.is_empty(),
        "{} of {} answers were not 202, first: {:?}",
        failed.len(),
        answers.len(),
        failed.first()
    );
    every_call_is_accepted(&app, "after", 20).await;

    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(
        counts[&JobState::Available],
        100_000 + answers.len() as u64 + 20,
        "every acknowledged call waits in the paused queue; none was claimed"
    );
    assert_eq!(counts[&JobState::Running], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_past_the_busy_timeout_gets_503_with_retry_after_then_recovers() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("locked.db");
    let app = spawn_app_with(sandbox_config(), |config| {
        config.storage.sqlite_path = db.clone();
        config.storage.busy_timeout = Duration::from_millis(200);
    })
    .await;
    every_call_is_accepted(&app, "before", 3).await;
    let ready = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);

    // Another process takes SQLite's write lock and keeps it for 2 s, ten busy timeouts.
    let mut holder = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("a second connection to the database");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("take the write lock");
    let held_until = Instant::now() + Duration::from_secs(2);
    let readyz = {
        let (http, url) = (app.http.clone(), format!("{}/readyz", app.url));
        tokio::spawn(async move {
            let r = http.get(url).send().await.expect("readyz");
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    let answers =
        post_calls_until(&app, 8, held_until - Duration::from_millis(300), "locked").await;
    let (ready_status, ready_body) = readyz.await.expect("readyz task");
    tokio::time::sleep_until(held_until.into()).await;
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("release the write lock");
    holder.close().await.expect("close the second connection");

    assert!(!answers.is_empty());
    for (status, retry_after, body) in &answers {
        assert_eq!(
            *status,
            StatusCode::SERVICE_UNAVAILABLE,
            "while the lock is held: {body}"
        );
        let secs: u64 = retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("a Retry-After in seconds, got {retry_after:?}"));
        assert!(secs >= 1);
        assert_eq!(body["error"], "storage_unavailable", "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("the event was not stored") && message.contains("locked"),
            "the answer names the problem: {message}"
        );
    }
    assert_eq!(
        ready_status,
        StatusCode::SERVICE_UNAVAILABLE,
        "readyz while locked: {ready_body}"
    );
    assert_eq!(ready_body["status"], "unavailable", "{ready_body}");
    assert_eq!(ready_body["store"], "unavailable", "{ready_body}");
    assert!(
        ready_body["problems"][0]["problem"]
            .as_str()
            .is_some_and(|m| m.contains("locked")),
        "{ready_body}"
    );

    // Released: nothing wedged, every request succeeds at once.
    every_call_is_accepted(&app, "after", 20).await;
    let r = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), StatusCode::OK, "readyz after the release");
    app.stop().await;
}
