//! Claiming: who gets which job, when, and in what order.

use std::collections::BTreeSet;

use deskline_store::{Enqueued, Ingested, JobId, JobState, NewJob};
use serde_json::json;

use super::{at, event, job, t0, Harness};

pub async fn claims_due_jobs_in_order(h: &dyn Harness) {
    let store = h.open().await;
    let low = store
        .enqueue(job("low").priority(5), t0())
        .await
        .expect("enqueue");
    let later = store
        .enqueue(job("later").priority(1), t0())
        .await
        .expect("enqueue");
    let urgent = store
        .enqueue(job("urgent").priority(0), t0())
        .await
        .expect("enqueue");
    let elsewhere = store
        .enqueue(
            NewJob::new("deliver_reply", "channels", json!({}), t0()),
            t0(),
        )
        .await
        .expect("enqueue");
    let ids = |e: Enqueued| match e {
        Enqueued::Inserted(id) => id,
        other => panic!("expected Inserted, got {other:?}"),
    };
    let (low, later, urgent, elsewhere) = (ids(low), ids(later), ids(urgent), ids(elsewhere));

    let claimed = store
        .claim("zendesk", 2, at(1), "worker-a")
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![urgent, later],
        "lower priority value first, then id"
    );
    for j in &claimed {
        assert_eq!(j.state, JobState::Running);
        assert_eq!(j.attempt, 1);
        assert_eq!(j.attempted_at, Some(at(1)));
        assert_eq!(j.attempted_by.as_deref(), Some("worker-a"));
    }

    let rest = store
        .claim("zendesk", 10, at(1), "worker-b")
        .await
        .expect("claim");
    assert_eq!(rest.iter().map(|j| j.id).collect::<Vec<_>>(), vec![low]);
    assert!(store
        .claim("zendesk", 10, at(1), "worker-b")
        .await
        .expect("claim")
        .is_empty());
    assert!(store
        .claim("channels", 0, at(1), "worker-c")
        .await
        .expect("claim")
        .is_empty());
    let other = store
        .claim("channels", 10, at(1), "worker-c")
        .await
        .expect("claim");
    assert_eq!(
        other.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![elsewhere]
    );
}

pub async fn scheduled_at_is_respected(h: &dyn Harness) {
    let store = h.open().await;
    let mut delayed = job("delayed");
    delayed.scheduled_at = at(60);
    store.enqueue(delayed, t0()).await.expect("enqueue");

    assert!(store
        .claim("zendesk", 10, at(59), "w")
        .await
        .expect("claim")
        .is_empty());
    let claimed = store
        .claim("zendesk", 10, at(60), "w")
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "delayed");
}

pub async fn concurrent_claimers_never_share_a_job(h: &dyn Harness) {
    let store = h.open().await;
    let jobs: Vec<NewJob> = (0..200).map(|i| job(&format!("job-{i}"))).collect();
    let Ingested::Stored { job_ids, .. } = store
        .ingest(event("myoperator", "bulk"), jobs)
        .await
        .expect("ingest")
    else {
        panic!("expected Stored");
    };
    assert_eq!(job_ids.len(), 200);

    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker_id = format!("worker-{worker}");
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim("zendesk", 7, at(1), &worker_id)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    break mine;
                }
                for j in batch {
                    assert_eq!(j.attempted_by.as_deref(), Some(worker_id.as_str()));
                    store.complete(j.id, at(2)).await.expect("complete");
                    mine.push(j.id);
                }
            }
        }));
    }
    let mut claimed: Vec<JobId> = Vec::new();
    for task in tasks {
        claimed.extend(task.await.expect("claimer task"));
    }
    let unique: BTreeSet<JobId> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 200, "every job claimed, none twice");
    assert_eq!(unique, job_ids.iter().copied().collect::<BTreeSet<_>>());
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts[&JobState::Completed], 200);
}

pub async fn paused_queue_yields_nothing_until_the_pause_ends(h: &dyn Harness) {
    let store = h.open().await;
    store.enqueue(job("a"), t0()).await.expect("enqueue");
    store
        .enqueue(
            NewJob::new("deliver_reply", "channels", json!({}), t0()),
            t0(),
        )
        .await
        .expect("enqueue");

    store
        .pause_queue("zendesk", at(60), "429, Retry-After 60")
        .await
        .expect("pause");
    // A second worker seeing a shorter Retry-After must not shorten the pause.
    store
        .pause_queue("zendesk", at(10), "429, Retry-After 10")
        .await
        .expect("pause");

    let pause = store
        .queue_paused_until("zendesk", at(1))
        .await
        .expect("paused_until")
        .expect("paused");
    assert_eq!(pause.paused_until, at(60));
    assert_eq!(pause.reason, "429, Retry-After 60");
    assert!(store
        .claim("zendesk", 10, at(1), "w")
        .await
        .expect("claim")
        .is_empty());
    assert!(store
        .claim("zendesk", 10, at(59), "w")
        .await
        .expect("claim")
        .is_empty());
    // Other queues keep running.
    assert_eq!(
        store
            .claim("channels", 10, at(1), "w")
            .await
            .expect("claim")
            .len(),
        1
    );

    assert!(store
        .queue_paused_until("zendesk", at(60))
        .await
        .expect("paused_until")
        .is_none());
    assert_eq!(
        store
            .claim("zendesk", 10, at(60), "w")
            .await
            .expect("claim")
            .len(),
        1
    );

    // A later, longer pause replaces an expired one.
    store
        .pause_queue("zendesk", at(200), "429 again")
        .await
        .expect("pause");
    let pause = store
        .queue_paused_until("zendesk", at(100))
        .await
        .expect("paused_until")
        .expect("paused");
    assert_eq!(pause.paused_until, at(200));
    assert_eq!(pause.reason, "429 again");
}

pub async fn ordering_key_serialises_jobs(h: &dyn Harness) {
    let store = h.open().await;
    let Ingested::Stored { job_ids, .. } = store
        .ingest(
            event("myoperator", "call-1/answered"),
            vec![
                job("create_ticket").ordering_key("call-1"),
                job("other_call").ordering_key("call-2"),
                job("unordered"),
            ],
        )
        .await
        .expect("ingest")
    else {
        panic!("expected Stored");
    };
    let Ingested::Stored { job_ids: later, .. } = store
        .ingest(
            event("myoperator", "call-1/recording"),
            vec![job("add_recording").ordering_key("call-1")],
        )
        .await
        .expect("ingest")
    else {
        panic!("expected Stored");
    };
    let (first, second) = (job_ids[0], later[0]);

    let claimed = store.claim("zendesk", 10, at(1), "w").await.expect("claim");
    let ids: BTreeSet<JobId> = claimed.iter().map(|j| j.id).collect();
    assert!(ids.contains(&first));
    assert!(
        !ids.contains(&second),
        "waits for the earlier job of its call"
    );
    assert_eq!(ids.len(), 3);

    // Still blocked while the first is running, and while it waits to be retried.
    assert!(store
        .claim("zendesk", 10, at(2), "w")
        .await
        .expect("claim")
        .is_empty());
    store
        .retry(first, "503", at(5), at(2))
        .await
        .expect("retry");
    let again = store.claim("zendesk", 10, at(5), "w").await.expect("claim");
    assert_eq!(again.iter().map(|j| j.id).collect::<Vec<_>>(), vec![first]);

    store.complete(first, at(6)).await.expect("complete");
    let next = store.claim("zendesk", 10, at(6), "w").await.expect("claim");
    assert_eq!(next.iter().map(|j| j.id).collect::<Vec<_>>(), vec![second]);

    // A discarded or cancelled predecessor no longer holds its successors back.
    let Ingested::Stored { job_ids: chain, .. } = store
        .ingest(
            event("myoperator", "call-3"),
            vec![
                job("a").ordering_key("call-3"),
                job("b").ordering_key("call-3"),
                job("c").ordering_key("call-3"),
            ],
        )
        .await
        .expect("ingest")
    else {
        panic!("expected Stored");
    };
    store
        .discard(chain[0], "422", at(7))
        .await
        .expect("discard");
    store.cancel(chain[1], at(7)).await.expect("cancel");
    let last = store.claim("zendesk", 10, at(7), "w").await.expect("claim");
    assert_eq!(
        last.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![chain[2]]
    );
}

pub async fn unique_jobs_are_inserted_once(h: &dyn Harness) {
    let store = h.open().await;
    let first = store
        .enqueue(
            job("directory_sync").unique_key("directory_sync:09:00"),
            t0(),
        )
        .await
        .expect("enqueue");
    let Enqueued::Inserted(id) = first else {
        panic!("expected Inserted, got {first:?}");
    };
    let again = store
        .enqueue(
            job("directory_sync").unique_key("directory_sync:09:00"),
            t0(),
        )
        .await
        .expect("enqueue");
    assert_eq!(again, Enqueued::UniqueExists(id));

    // Any state counts, completed included.
    let claimed = store.claim("zendesk", 1, at(1), "w").await.expect("claim");
    store
        .complete(claimed[0].id, at(2))
        .await
        .expect("complete");
    let after = store
        .enqueue(
            job("directory_sync").unique_key("directory_sync:09:00"),
            at(3),
        )
        .await
        .expect("enqueue");
    assert_eq!(after, Enqueued::UniqueExists(id));

    // Through ingest: the event is stored, the already-existing job is reported, not copied.
    let ingested = store
        .ingest(
            event("myoperator", "call-9"),
            vec![
                job("directory_sync").unique_key("directory_sync:09:00"),
                job("create_ticket").unique_key("ticket:call-9"),
            ],
        )
        .await
        .expect("ingest");
    let Ingested::Stored {
        job_ids,
        existing_unique,
        ..
    } = ingested
    else {
        panic!("expected Stored");
    };
    assert_eq!(existing_unique, vec![id]);
    assert_eq!(job_ids.len(), 1);

    // Jobs without a key are never deduplicated.
    store.enqueue(job("plain"), t0()).await.expect("enqueue");
    store.enqueue(job("plain"), t0()).await.expect("enqueue");
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts.values().sum::<u64>(), 4);
}
