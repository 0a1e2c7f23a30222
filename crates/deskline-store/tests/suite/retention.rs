//! Retention: finished work is removed after its period in bounded batches, dead letters and
//! pending work stay, and under continuous load the database stays bounded.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deskline_store::{
    AttemptOutcome, EventFilter, EventId, Ingested, JobId, JobLease, JobState, NewAttempt, NewJob,
    Pruned, Settlement, Store,
};

use super::{at, event, job, Harness};

/// Ingests an event received at `secs` with `kinds` jobs; returns the event and job ids.
async fn ingest(
    store: &Arc<dyn Store>,
    key: &str,
    secs: i64,
    kinds: &[&str],
) -> (EventId, Vec<JobId>) {
    let mut ev = event("myoperator", key);
    ev.received_at = at(secs);
    let jobs: Vec<NewJob> = kinds
        .iter()
        .map(|k| {
            let mut j = job(k);
            j.scheduled_at = at(secs);
            j
        })
        .collect();
    match store.ingest(ev, jobs).await.expect("ingest") {
        Ingested::Stored {
            event_id, job_ids, ..
        } => (event_id, job_ids),
        other => panic!("expected Stored, got {other:?}"),
    }
}

/// Claims every due job at `secs` and settles the ones in `ids` with `settlement`, recording
/// an attempt for each; the others go back with a retry far in the future.
async fn run(store: &Arc<dyn Store>, secs: i64, ids: &[JobId], settlement: Settlement) {
    let claimed = store
        .claim("zendesk", 1000, at(secs), "w")
        .await
        .expect("claim");
    for j in claimed {
        store
            .record_attempt(NewAttempt {
                job_id: j.id,
                attempt: j.attempt,
                started_at: at(secs),
                duration_ms: 5,
                outcome: AttemptOutcome::Succeeded,
                http_status: Some(201),
                request_summary: None,
                response_summary: None,
            })
            .await
            .expect("record attempt");
        let lease = JobLease::new(&j, "w");
        let s = if ids.contains(&j.id) {
            settlement.clone()
        } else {
            Settlement::Retry {
                error: "not yet".into(),
                retry_at: at(1_000_000),
            }
        };
        store.settle(&lease, &s, at(secs)).await.expect("settle");
    }
}

/// Prunes with `batch` until a pass removes fewer than a batch of each; the sum.
async fn prune_all(store: &Arc<dyn Store>, before: DateTime<Utc>, batch: u32) -> Pruned {
    let mut total = Pruned::default();
    loop {
        let pass = store.prune_finished(before, batch).await.expect("prune");
        total.add(pass);
        if pass.jobs < u64::from(batch) && pass.events < u64::from(batch) {
            return total;
        }
    }
}

async fn job_exists(store: &Arc<dyn Store>, id: JobId) -> bool {
    store.get_job(id).await.expect("get_job").is_some()
}

async fn event_exists(store: &Arc<dyn Store>, id: EventId) -> bool {
    store.get_event(id).await.expect("get_event").is_some()
}

pub async fn pruning_removes_finished_work_and_keeps_dead_letters(h: &dyn Harness) {
    let store = h.open().await;
    let (done_ev, done) = ingest(&store, "done", 0, &["create_ticket"]).await;
    let (dead_ev, dead) = ingest(&store, "dead", 0, &["create_ticket"]).await;
    let (mixed_ev, mixed) = ingest(&store, "mixed", 0, &["create_ticket", "update"]).await;
    let (cancelled_ev, cancelled) = ingest(&store, "cancelled", 0, &["create_ticket"]).await;
    run(&store, 10, &[done[0], mixed[0]], Settlement::Complete).await;
    // (`run` left the others retryable far in the future.)
    store
        .discard(dead[0], "422 RecordInvalid", at(10))
        .await
        .expect("discard");
    store.cancel(cancelled[0], at(10)).await.expect("cancel");
    let (recent_ev, recent) = ingest(&store, "recent", 900, &["create_ticket"]).await;
    run(&store, 900, &recent, Settlement::Complete).await;

    // Retention of 500 s, applied at +1000: finished before +500 goes.
    let pruned = prune_all(&store, at(500), 100).await;
    assert_eq!(
        pruned,
        Pruned {
            jobs: 3,
            attempts: 3,
            events: 2
        },
        "the completed jobs (with their attempts), the cancelled one, and the two events left \
         without jobs"
    );
    for (id, kept) in [
        (done[0], false),
        (mixed[0], false),
        (cancelled[0], false),
        (dead[0], true),
        (mixed[1], true),
        (recent[0], true),
    ] {
        assert_eq!(job_exists(&store, id).await, kept, "job {id}");
    }
    for (id, kept) in [
        (done_ev, false),
        (cancelled_ev, false),
        (dead_ev, true),
        (mixed_ev, true),
        (recent_ev, true),
    ] {
        assert_eq!(event_exists(&store, id).await, kept, "event {id:?}");
    }
    let dead_letter = store.get_job(dead[0]).await.expect("get").expect("kept");
    assert_eq!(dead_letter.job.state, JobState::Discarded);
    assert_eq!(
        dead_letter.attempts.len(),
        1,
        "its attempts are kept with it"
    );
    assert!(dead_letter.event.is_some());

    // A second pass finds nothing more.
    assert_eq!(prune_all(&store, at(500), 100).await, Pruned::default());

    // Once an operator cancels the dead letter, it is finished work like any other.
    store.cancel(dead[0], at(1000)).await.expect("cancel");
    let pruned = prune_all(&store, at(999), 100).await;
    assert_eq!(
        (pruned.jobs, pruned.events),
        (1, 1),
        "the recent call's turn came; the cancelled one finished at +1000: {pruned:?}"
    );
    assert!(job_exists(&store, dead[0]).await);
    let pruned = prune_all(&store, at(1001), 100).await;
    assert_eq!(
        (pruned.jobs, pruned.attempts, pruned.events),
        (1, 1, 1),
        "the cancelled dead letter, with its attempt and event: {pruned:?}"
    );
    assert!(!event_exists(&store, dead_ev).await);
    assert!(
        event_exists(&store, mixed_ev).await,
        "its other job is pending"
    );
}

pub async fn pruning_goes_in_bounded_batches(h: &dyn Harness) {
    let store = h.open().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let (_, jobs) = ingest(&store, &format!("call-{i}"), 0, &["create_ticket"]).await;
        ids.extend(jobs);
    }
    run(&store, 1, &ids, Settlement::Complete).await;
    let mut passes = Vec::new();
    loop {
        let pass = store.prune_finished(at(100), 10).await.expect("prune");
        passes.push((pass.jobs, pass.events));
        if pass.jobs == 0 && pass.events == 0 {
            break;
        }
    }
    assert_eq!(passes, vec![(10, 10), (10, 10), (5, 5), (0, 0)]);
    assert_eq!(
        store.prune_finished(at(100), 0).await.expect("prune"),
        Pruned::default(),
        "a zero batch removes nothing"
    );
}

pub async fn the_database_stays_bounded_under_continuous_load(h: &dyn Harness) {
    let store = h.open().await;
    // Every 60 s a burst of 40 calls arrives and is worked; retention is 120 s and pruning runs
    // after each burst, in batches of 25. A few calls fail for good and stay as dead letters.
    const PER_CYCLE: i64 = 40;
    const CYCLES: i64 = 12;
    let mut dead_letters = 0u64;
    let mut peak = (0u64, 0usize);
    for cycle in 0..CYCLES {
        let now = cycle * 60;
        let mut done = Vec::new();
        let mut failing = Vec::new();
        for i in 0..PER_CYCLE {
            let (_, jobs) = ingest(&store, &format!("c{cycle}-{i}"), now, &["create_ticket"]).await;
            if i == 0 {
                failing.extend(jobs);
            } else {
                done.extend(jobs);
            }
        }
        run(&store, now, &done, Settlement::Complete).await;
        for id in failing {
            store
                .discard(id, "422 RecordInvalid", at(now))
                .await
                .expect("discard");
            dead_letters += 1;
        }
        prune_all(&store, at(now - 120), 25).await;

        let counts = store.count_jobs_by_state().await.expect("counts");
        let jobs: u64 = counts.values().sum();
        let events = store
            .list_events(&EventFilter {
                limit: 1000,
                ..EventFilter::default()
            })
            .await
            .expect("events")
            .len();
        assert_eq!(
            counts[&JobState::Discarded],
            dead_letters,
            "dead letters stay"
        );
        peak = (peak.0.max(jobs), peak.1.max(events));
    }
    // At most three cycles of finished work (the retention window and the cycle in progress)
    // plus the dead letters, however long the load goes on.
    let bound = 3 * PER_CYCLE as u64 + dead_letters;
    assert!(peak.0 <= bound, "jobs peaked at {}, bound {bound}", peak.0);
    assert!(
        peak.1 as u64 <= bound,
        "events peaked at {}, bound {bound}",
        peak.1
    );
    assert!(
        (CYCLES * PER_CYCLE) as u64 > 2 * bound,
        "the load outgrew the bound many times over"
    );
}
