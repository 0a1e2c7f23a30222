//! Heartbeats and leases: a running job's lease is renewed while it runs, only a lapsed one is
//! taken over, a lost lease can neither settle nor renew, and periodic work has one leader.

use std::sync::Arc;
use std::time::Duration;

use deskline_store::{Enqueued, Job, JobId, JobLease, JobState, Settlement, Store, StoreError};

use super::{at, job, t0, Harness};

async fn enqueue(store: &Arc<dyn Store>, kind: &str, max_attempts: u32) -> JobId {
    match store
        .enqueue(job(kind).max_attempts(max_attempts), t0())
        .await
        .expect("enqueue")
    {
        Enqueued::Inserted(id) => id,
        other => panic!("expected Inserted, got {other:?}"),
    }
}

async fn claim(store: &Arc<dyn Store>, secs: i64, worker: &str) -> (Job, JobLease) {
    let mut claimed = store
        .claim("zendesk", 1, at(secs), worker)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "{worker} expected a job at +{secs}s");
    let job = claimed.remove(0);
    let lease = JobLease::new(&job, worker);
    (job, lease)
}

async fn state_of(store: &Arc<dyn Store>, id: JobId) -> (JobState, u32, Option<String>) {
    let job = store
        .get_job(id)
        .await
        .expect("get_job")
        .expect("job exists")
        .job;
    (job.state, job.attempt, job.attempted_by)
}

fn is_lease_lost<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::LeaseLost { .. }))
}

pub async fn renewed_leases_are_not_rescued(h: &dyn Harness) {
    let store = h.open().await;
    let alive = enqueue(&store, "alive", 5).await;
    let dead = enqueue(&store, "dead", 5).await;
    let (_, alive_lease) = claim(&store, 0, "live-worker").await;
    let (_, dead_lease) = claim(&store, 0, "dead-worker").await;
    assert_eq!((alive_lease.job_id, dead_lease.job_id), (alive, dead));

    // The live worker renews every 10 s; the dead one never does.
    for secs in [10, 20, 30] {
        let renewed = store
            .renew_leases(std::slice::from_ref(&alive_lease), at(secs))
            .await
            .expect("renew");
        assert_eq!(renewed, vec![alive]);
    }
    // A 30 s lease, checked at +35: the job claimed at 0 and never renewed has lapsed; the one
    // renewed at +30 has not, although its attempt started just as long ago.
    let rescued = store.rescue(at(5), at(35)).await.expect("rescue");
    assert_eq!(rescued, 1);
    assert_eq!(state_of(&store, alive).await.0, JobState::Running);
    assert_eq!(state_of(&store, dead).await.0, JobState::Retryable);

    // Renewing nothing is a no-op, and a lease for a job that is not running renews nothing.
    assert!(store
        .renew_leases(&[], at(36))
        .await
        .expect("renew")
        .is_empty());
    assert!(store
        .renew_leases(std::slice::from_ref(&dead_lease), at(36))
        .await
        .expect("renew")
        .is_empty());
    let state = store
        .settle(&alive_lease, &Settlement::Complete, at(40))
        .await
        .expect("the live worker settles");
    assert_eq!(state, JobState::Completed);
}

pub async fn a_lapsed_lease_can_neither_settle_nor_renew(h: &dyn Harness) {
    let store = h.open().await;
    let id = enqueue(&store, "create_ticket", 5).await;
    let (_, slow) = claim(&store, 0, "worker-a").await;
    assert_eq!(store.rescue(at(1), at(31)).await.expect("rescue"), 1);

    // Taken over by another worker, and by the same worker id again (a new attempt): the old
    // lease is lost either way.
    let (_, other) = claim(&store, 31, "worker-b").await;
    assert_eq!(other.attempt, 2);
    for settlement in [
        Settlement::Complete,
        Settlement::Retry {
            error: "503".into(),
            retry_at: at(60),
        },
        Settlement::Snooze {
            until: at(60),
            reason: "429".into(),
        },
        Settlement::Discard {
            reason: "422".into(),
        },
    ] {
        let late = store.settle(&slow, &settlement, at(32)).await;
        assert!(is_lease_lost(&late), "{settlement:?}: {late:?}");
    }
    assert!(store
        .renew_leases(std::slice::from_ref(&slow), at(32))
        .await
        .expect("renew")
        .is_empty());
    assert_eq!(
        state_of(&store, id).await,
        (JobState::Running, 2, Some("worker-b".into())),
        "the late answers changed nothing"
    );

    assert_eq!(store.rescue(at(33), at(70)).await.expect("rescue"), 1);
    let (_, again) = claim(&store, 70, "worker-a").await;
    assert_eq!((again.worker_id.as_str(), again.attempt), ("worker-a", 3));
    let stale_attempt = store.settle(&other, &Settlement::Complete, at(71)).await;
    assert!(is_lease_lost(&stale_attempt), "{stale_attempt:?}");
    let lost = JobLease {
        attempt: 2,
        ..again.clone()
    };
    let wrong_attempt = store.settle(&lost, &Settlement::Complete, at(71)).await;
    assert!(
        is_lease_lost(&wrong_attempt),
        "same worker, older attempt: {wrong_attempt:?}"
    );
    assert_eq!(
        store
            .settle(&again, &Settlement::Complete, at(72))
            .await
            .expect("the holder settles"),
        JobState::Completed
    );
    // Once settled, the lease holds nothing any more.
    let twice = store.settle(&again, &Settlement::Complete, at(73)).await;
    assert!(is_lease_lost(&twice), "{twice:?}");

    let missing = JobLease {
        job_id: JobId(987_654),
        ..again
    };
    let result = store.settle(&missing, &Settlement::Complete, at(74)).await;
    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "{result:?}"
    );
}

pub async fn settle_records_each_outcome(h: &dyn Harness) {
    let store = h.open().await;
    let done = enqueue(&store, "done", 5).await;
    let failing = enqueue(&store, "failing", 2).await;
    let snoozed = enqueue(&store, "snoozed", 5).await;
    let dead = enqueue(&store, "dead", 5).await;
    let mut leases = Vec::new();
    for _ in 0..4 {
        leases.push(claim(&store, 0, "w").await.1);
    }

    let s = store
        .settle(&leases[0], &Settlement::Complete, at(1))
        .await
        .expect("complete");
    assert_eq!(s, JobState::Completed);
    let retry = Settlement::Retry {
        error: "503 #1".into(),
        retry_at: at(10),
    };
    let s = store
        .settle(&leases[1], &retry, at(1))
        .await
        .expect("retry");
    assert_eq!(s, JobState::Retryable);
    let s = store
        .settle(
            &leases[2],
            &Settlement::Snooze {
                until: at(30),
                reason: "429, Retry-After 30".into(),
            },
            at(1),
        )
        .await
        .expect("snooze");
    assert_eq!(s, JobState::Available);
    let s = store
        .settle(
            &leases[3],
            &Settlement::Discard {
                reason: "422 RecordInvalid".into(),
            },
            at(1),
        )
        .await
        .expect("discard");
    assert_eq!(s, JobState::Discarded);

    let job = |id| {
        let store = store.clone();
        async move { store.get_job(id).await.expect("get").expect("exists").job }
    };
    assert_eq!(job(done).await.finalized_at, Some(at(1)));
    let j = job(failing).await;
    assert_eq!(j.scheduled_at, at(10));
    assert_eq!(j.last_error().map(|e| e.error.as_str()), Some("503 #1"));
    let j = job(snoozed).await;
    assert_eq!((j.attempt, j.snoozes, j.scheduled_at), (0, 1, at(30)));
    let j = job(dead).await;
    assert_eq!(
        j.last_error().map(|e| e.error.as_str()),
        Some("422 RecordInvalid")
    );

    // The second failure spends the last attempt: the dead letter.
    let (_, second) = claim(&store, 10, "w").await;
    assert_eq!(second.job_id, failing);
    let s = store.settle(&second, &retry, at(11)).await.expect("retry");
    assert_eq!(s, JobState::Discarded);
}

pub async fn one_holder_at_a_time_gets_the_leader_lease(h: &dyn Harness) {
    let store = h.open().await;
    let ttl = Duration::from_secs(30);
    let take = |holder: &'static str, secs: i64| {
        let store = store.clone();
        async move {
            store
                .try_lease("periodic", holder, ttl, at(secs))
                .await
                .expect("try_lease")
        }
    };
    assert!(take("a", 0).await, "a free lease is taken");
    assert!(!take("b", 10).await, "held until +30");
    assert!(take("a", 20).await, "the holder extends it, to +50");
    assert!(!take("b", 45).await);
    assert!(take("b", 50).await, "expired: another instance takes over");
    assert!(!take("a", 51).await, "the old holder does not get it back");
    // Another name is another lease.
    assert!(store
        .try_lease("other", "a", ttl, at(51))
        .await
        .expect("try_lease"));

    assert!(!store.release_lease("periodic", "a").await.expect("release"));
    assert!(store.release_lease("periodic", "b").await.expect("release"));
    assert!(take("a", 52).await, "released: free at once");

    // Racing for a free lease: exactly one winner.
    let mut racers = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            store
                .try_lease("race", &format!("instance-{i}"), ttl, at(100))
                .await
                .expect("try_lease")
        }));
    }
    let mut winners = 0;
    for r in racers {
        if r.await.expect("racer") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}
