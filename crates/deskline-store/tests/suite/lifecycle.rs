//! Job lifecycle: retry, dead letter, snooze, rescue, operator actions, attempts, listings.

use std::sync::Arc;

use deskline_store::{
    AttemptOutcome, Enqueued, Ingested, Job, JobFilter, JobId, JobState, NewAttempt, Store,
    StoreError,
};

use super::{at, event, job, t0, Harness};

async fn enqueue(store: &Arc<dyn Store>, new: deskline_store::NewJob) -> JobId {
    match store.enqueue(new, t0()).await.expect("enqueue") {
        Enqueued::Inserted(id) => id,
        other => panic!("expected Inserted, got {other:?}"),
    }
}

async fn fetch(store: &Arc<dyn Store>, id: JobId) -> Job {
    store
        .get_job(id)
        .await
        .expect("get_job")
        .expect("job exists")
        .job
}

async fn claim_one(store: &Arc<dyn Store>, secs: i64) -> Job {
    let mut claimed = store
        .claim("zendesk", 1, at(secs), "w")
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "expected one job due at +{secs}s");
    claimed.remove(0)
}

fn is_invalid_state(result: Result<(), StoreError>, expected: JobState) -> bool {
    matches!(result, Err(StoreError::InvalidState { state, .. }) if state == expected)
}

pub async fn retry_then_discard_after_max_attempts(h: &dyn Harness) {
    let store = h.open().await;
    let id = enqueue(&store, job("create_ticket").max_attempts(3)).await;

    let j = claim_one(&store, 0).await;
    assert_eq!(j.attempt, 1);
    let state = store
        .retry(id, "503 #1", at(10), at(1))
        .await
        .expect("retry");
    assert_eq!(state, JobState::Retryable);
    let j = fetch(&store, id).await;
    assert_eq!(j.scheduled_at, at(10));
    assert!(store
        .claim("zendesk", 1, at(9), "w")
        .await
        .expect("claim")
        .is_empty());

    assert_eq!(claim_one(&store, 10).await.attempt, 2);
    let state = store
        .retry(id, "503 #2", at(30), at(11))
        .await
        .expect("retry");
    assert_eq!(state, JobState::Retryable);

    assert_eq!(claim_one(&store, 30).await.attempt, 3);
    let state = store
        .retry(id, "503 #3", at(90), at(31))
        .await
        .expect("retry");
    assert_eq!(state, JobState::Discarded, "attempts spent: dead letter");

    let j = fetch(&store, id).await;
    assert_eq!(j.state, JobState::Discarded);
    assert_eq!(j.finalized_at, Some(at(31)));
    let history: Vec<(u32, &str)> = j
        .errors
        .iter()
        .map(|e| (e.attempt, e.error.as_str()))
        .collect();
    assert_eq!(history, vec![(1, "503 #1"), (2, "503 #2"), (3, "503 #3")]);
    assert_eq!(j.errors[0].at, at(1));
    assert_eq!(j.last_error().map(|e| e.error.as_str()), Some("503 #3"));
    assert!(store
        .claim("zendesk", 1, at(1000), "w")
        .await
        .expect("claim")
        .is_empty());

    // Retrying a job that is not running is refused.
    let result = store.retry(id, "late", at(1), at(1)).await.map(|_| ());
    assert!(is_invalid_state(result, JobState::Discarded));
}

pub async fn discard_keeps_the_reason(h: &dyn Harness) {
    let store = h.open().await;
    let id = enqueue(&store, job("create_ticket")).await;
    claim_one(&store, 0).await;
    store
        .discard(id, "422 RecordInvalid: requester email invalid", at(1))
        .await
        .expect("discard");
    let j = fetch(&store, id).await;
    assert_eq!(j.state, JobState::Discarded);
    assert_eq!(j.finalized_at, Some(at(1)));
    let last = j.last_error().expect("reason kept");
    assert_eq!(last.error, "422 RecordInvalid: requester email invalid");
    assert_eq!(last.attempt, 1);

    assert!(is_invalid_state(
        store.complete(id, at(2)).await,
        JobState::Discarded
    ));
    assert!(is_invalid_state(
        store.discard(id, "again", at(2)).await,
        JobState::Discarded
    ));
}

pub async fn snooze_keeps_the_attempt_count(h: &dyn Harness) {
    let store = h.open().await;
    let id = enqueue(&store, job("create_ticket").max_attempts(2)).await;

    assert_eq!(claim_one(&store, 0).await.attempt, 1);
    store
        .snooze(id, at(30), "429, Retry-After 30")
        .await
        .expect("snooze");
    let j = fetch(&store, id).await;
    assert_eq!(j.state, JobState::Available);
    assert_eq!(j.attempt, 0, "the snoozed attempt is given back");
    assert_eq!(j.snoozes, 1);
    assert_eq!(j.snooze_reason.as_deref(), Some("429, Retry-After 30"));
    assert!(j.errors.is_empty(), "a snooze is not a failure");
    assert!(store
        .claim("zendesk", 1, at(29), "w")
        .await
        .expect("claim")
        .is_empty());

    assert_eq!(claim_one(&store, 30).await.attempt, 1);
    store.retry(id, "503", at(40), at(31)).await.expect("retry");
    assert_eq!(claim_one(&store, 40).await.attempt, 2);
    // Snoozing many times never spends the attempts: with max_attempts 2, a snoozed second
    // attempt still leaves the job one real try.
    for round in 0..5 {
        store
            .snooze(id, at(50 + round), "429")
            .await
            .expect("snooze");
        let j = fetch(&store, id).await;
        assert_eq!(j.state, JobState::Retryable, "it failed before");
        assert_eq!(j.attempt, 1);
        assert_eq!(claim_one(&store, 50 + round).await.attempt, 2);
    }
    let state = store.retry(id, "503", at(90), at(60)).await.expect("retry");
    assert_eq!(state, JobState::Discarded);
    assert_eq!(fetch(&store, id).await.snoozes, 6);

    // Only a running job can be snoozed.
    assert!(is_invalid_state(
        store.snooze(id, at(100), "429").await,
        JobState::Discarded
    ));
}

pub async fn rescue_returns_stale_running_jobs(h: &dyn Harness) {
    let store = h.open().await;
    let stale = enqueue(&store, job("stale")).await;
    let exhausted = enqueue(&store, job("exhausted").max_attempts(1)).await;
    let fresh = enqueue(&store, job("fresh")).await;
    let idle = enqueue(&store, job("idle")).await;

    // Two claims early, one later; `idle` is never claimed.
    let early = store
        .claim("zendesk", 2, at(0), "dead-worker")
        .await
        .expect("claim");
    assert_eq!(
        early.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![stale, exhausted]
    );
    let later = store
        .claim("zendesk", 1, at(100), "live-worker")
        .await
        .expect("claim");
    assert_eq!(later[0].id, fresh);

    let rescued = store.rescue(at(50), at(120)).await.expect("rescue");
    assert_eq!(rescued, 2);

    let j = fetch(&store, stale).await;
    assert_eq!(j.state, JobState::Retryable);
    assert_eq!(j.scheduled_at, at(120));
    assert_eq!(
        j.last_error().map(|e| e.error.as_str()),
        Some("rescued: worker stopped without finishing")
    );
    let j = fetch(&store, exhausted).await;
    assert_eq!(
        j.state,
        JobState::Discarded,
        "no attempts left to rescue into"
    );
    assert_eq!(fetch(&store, fresh).await.state, JobState::Running);
    assert_eq!(fetch(&store, idle).await.state, JobState::Available);

    // The rescued job runs again with its next attempt.
    let again = store
        .claim("zendesk", 10, at(120), "w")
        .await
        .expect("claim");
    let again_stale = again
        .iter()
        .find(|j| j.id == stale)
        .expect("stale reclaimed");
    assert_eq!(again_stale.attempt, 2);
    assert_eq!(store.rescue(at(50), at(121)).await.expect("rescue"), 0);
}

pub async fn cancel_and_retry_now_rules(h: &dyn Harness) {
    let store = h.open().await;
    let waiting = enqueue(&store, job("waiting")).await;
    let running = enqueue(&store, job("running")).await;
    let done = enqueue(&store, job("done")).await;
    let dead = enqueue(&store, job("dead")).await;

    store
        .cancel(waiting, at(0))
        .await
        .expect("cancel available");
    let claimed = store.claim("zendesk", 3, at(1), "w").await.expect("claim");
    assert_eq!(claimed.len(), 3);
    store.complete(done, at(2)).await.expect("complete");
    store.discard(dead, "422", at(2)).await.expect("discard");

    assert!(is_invalid_state(
        store.cancel(running, at(3)).await,
        JobState::Running
    ));
    assert!(is_invalid_state(
        store.cancel(done, at(3)).await,
        JobState::Completed
    ));
    assert!(is_invalid_state(
        store.retry_now(running, at(3)).await,
        JobState::Running
    ));
    assert!(is_invalid_state(
        store.retry_now(done, at(3)).await,
        JobState::Completed
    ));

    let j = fetch(&store, waiting).await;
    assert_eq!(j.state, JobState::Cancelled);
    assert_eq!(j.finalized_at, Some(at(0)));

    // From the dead letter and from cancelled: available now, with fresh attempts.
    store.retry_now(dead, at(10)).await.expect("retry_now dead");
    store
        .retry_now(waiting, at(10))
        .await
        .expect("retry_now cancelled");
    for id in [dead, waiting] {
        let j = fetch(&store, id).await;
        assert_eq!(j.state, JobState::Available);
        assert_eq!(j.attempt, 0);
        assert_eq!(j.scheduled_at, at(10));
        assert_eq!(j.finalized_at, None);
    }
    assert_eq!(fetch(&store, dead).await.errors.len(), 1, "history is kept");

    // From retryable: no need to wait for the backoff.
    let claimed = store
        .claim("zendesk", 10, at(10), "w")
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    store
        .retry(dead, "503", at(500), at(11))
        .await
        .expect("retry");
    store
        .retry_now(dead, at(12))
        .await
        .expect("retry_now retryable");
    let again = claim_one(&store, 12).await;
    assert_eq!((again.id, again.attempt), (dead, 1));

    // A discarded job can be cancelled too ("won't fix").
    store
        .discard(dead, "still 422", at(13))
        .await
        .expect("discard");
    store.cancel(dead, at(14)).await.expect("cancel discarded");
    assert!(is_invalid_state(
        store.cancel(dead, at(15)).await,
        JobState::Cancelled
    ));
}

pub async fn transitions_on_a_missing_job_are_not_found(h: &dyn Harness) {
    let store = h.open().await;
    let missing = JobId(987_654);
    let not_found = |r: Result<(), StoreError>| matches!(r, Err(StoreError::NotFound { .. }));
    assert!(not_found(store.complete(missing, t0()).await));
    assert!(not_found(
        store.retry(missing, "x", t0(), t0()).await.map(|_| ())
    ));
    assert!(not_found(store.snooze(missing, t0(), "x").await));
    assert!(not_found(store.discard(missing, "x", t0()).await));
    assert!(not_found(store.cancel(missing, t0()).await));
    assert!(not_found(store.retry_now(missing, t0()).await));
    assert!(store.get_job(missing).await.expect("get_job").is_none());
}

pub async fn attempts_are_recorded_with_the_job(h: &dyn Harness) {
    let store = h.open().await;
    let ingested = store
        .ingest(event("myoperator", "call-7"), vec![job("create_ticket")])
        .await
        .expect("ingest");
    let Ingested::Stored {
        event_id, job_ids, ..
    } = ingested
    else {
        panic!("expected Stored");
    };
    let id = job_ids[0];
    claim_one(&store, 0).await;
    let first = NewAttempt {
        job_id: id,
        attempt: 1,
        started_at: at(0),
        duration_ms: 120,
        outcome: AttemptOutcome::Failed,
        http_status: Some(503),
        request_summary: Some("POST /api/v2/tickets".into()),
        response_summary: Some("503 Service Unavailable".into()),
    };
    let a1 = store.record_attempt(first.clone()).await.expect("record");
    let a2 = store
        .record_attempt(NewAttempt {
            attempt: 2,
            outcome: AttemptOutcome::Succeeded,
            http_status: Some(201),
            response_summary: Some("201 ticket 4411".into()),
            ..first.clone()
        })
        .await
        .expect("record");
    assert!(a1 < a2);

    let detail = store.get_job(id).await.expect("get_job").expect("exists");
    assert_eq!(detail.job.id, id);
    assert_eq!(detail.attempts.len(), 2);
    assert_eq!(detail.attempts[0].id, a1);
    assert_eq!(detail.attempts[0].outcome, AttemptOutcome::Failed);
    assert_eq!(detail.attempts[0].http_status, Some(503));
    assert_eq!(detail.attempts[0].duration_ms, 120);
    assert_eq!(detail.attempts[0].started_at, at(0));
    assert_eq!(
        detail.attempts[0].request_summary.as_deref(),
        Some("POST /api/v2/tickets")
    );
    assert_eq!(detail.attempts[1].outcome, AttemptOutcome::Succeeded);
    let ev = detail.event.expect("event ref");
    assert_eq!(ev.id, event_id);
    assert_eq!(ev.source, "myoperator");
    assert_eq!(ev.dedupe_key, "call-7");

    // An attempt for a job that does not exist is refused, not silently kept.
    let orphan = store
        .record_attempt(NewAttempt {
            job_id: JobId(999_999),
            ..first
        })
        .await;
    assert!(matches!(orphan, Err(StoreError::Rejected(_))), "{orphan:?}");
}

pub async fn list_and_count_jobs(h: &dyn Harness) {
    let store = h.open().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(enqueue(&store, job(if i % 2 == 0 { "even" } else { "odd" })).await);
    }
    let claimed = store.claim("zendesk", 2, at(1), "w").await.expect("claim");
    store
        .complete(claimed[0].id, at(2))
        .await
        .expect("complete");
    store.discard(ids[5], "bad", at(2)).await.expect("discard");

    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts.len(), JobState::ALL.len(), "every state is listed");
    assert_eq!(counts[&JobState::Available], 3);
    assert_eq!(counts[&JobState::Running], 1);
    assert_eq!(counts[&JobState::Completed], 1);
    assert_eq!(counts[&JobState::Discarded], 1);
    assert_eq!(counts[&JobState::Retryable], 0);
    assert_eq!(counts[&JobState::Cancelled], 0);

    let available = store
        .list_jobs(&JobFilter {
            state: Some(JobState::Available),
            ..JobFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        available.iter().map(|j| j.id).collect::<Vec<_>>(),
        ids[2..5].to_vec()
    );

    let even = store
        .list_jobs(&JobFilter {
            kind: Some("even".into()),
            queue: Some("zendesk".into()),
            limit: 2,
            ..JobFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        even.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[0], ids[2]]
    );
    let even_next = store
        .list_jobs(&JobFilter {
            kind: Some("even".into()),
            limit: 2,
            after_id: Some(ids[2]),
            ..JobFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        even_next.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[4]]
    );

    let other_queue = store
        .list_jobs(&JobFilter {
            queue: Some("channels".into()),
            ..JobFilter::default()
        })
        .await
        .expect("list");
    assert!(other_queue.is_empty());
}
