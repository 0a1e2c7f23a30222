//! Retention in the running service: once finished work is older than `retention.period`, the
//! elected instance prunes it, and a dead letter stays. deskline's clock is moved forward
//! instead of waiting a month.

mod common;

use std::time::Duration;

use common::*;
use deskline_store::{JobFilter, JobState};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_calls_are_pruned_after_the_period_and_dead_letters_stay() {
    let app = spawn_app_with(sandbox_config(), |c| {
        c.retention.period = Duration::from_secs(30 * 24 * 3600);
        c.retention.interval = Duration::from_millis(100);
        // The dead letter: a 5xx with no attempt left.
        c.worker.max_attempts = 1;
    })
    .await;
    let store = app.service.state.store.clone();

    // One call becomes a ticket; another fails with its only attempt and is dead-lettered.
    app.deliver(&with_call_id(missed_call(), "kept-a-month"))
        .await;
    let done = app.wait_for_completed_jobs(1).await;
    let done_event = done[0]["event_id"].as_i64().expect("an event id");
    app.set_faults(json!({"error_rate": 1.0, "error_statuses": [500]}))
        .await;
    app.deliver(&with_call_id(missed_call(), "dead-letter"))
        .await;
    let dead = eventually("the dead letter", || async {
        let dead = app.jobs(Some("discarded")).await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    app.clear_faults().await;
    let dead_id = dead[0]["id"].as_i64().expect("a job id");
    let dead_event = dead[0]["event_id"].as_i64().expect("an event id");

    // A day later nothing is pruned.
    app.clock.shift(chrono::Duration::days(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = app.admin_get(&format!("/admin/events/{done_event}")).await;
    assert_eq!(status, StatusCode::OK, "the first call's event is kept");

    // Thirty-one days later the finished call is gone with its event; the dead letter stays.
    app.clock.shift(chrono::Duration::days(31));
    eventually("the finished call to be pruned", || async {
        let (status, _) = app.admin_get(&format!("/admin/events/{done_event}")).await;
        (status == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    let left = store
        .list_jobs(&JobFilter::default())
        .await
        .expect("list jobs");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].id.0, left[0].state),
        (dead_id, JobState::Discarded)
    );
    let (status, _) = app.admin_get(&format!("/admin/events/{dead_event}")).await;
    assert_eq!(status, StatusCode::OK, "the dead letter's event is kept");
    app.stop().await;
}
