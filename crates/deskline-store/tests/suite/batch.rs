//! Group commit: `ingest_batch` answers each delivery as `ingest` would answer it alone.

use deskline_store::{EventFilter, Ingested, JobState, StoreError};

use super::{event, job, Harness};

pub async fn batch_answers_each_item_in_order(h: &dyn Harness) {
    let store = h.open().await;
    let answers = store
        .ingest_batch(vec![
            (
                event("myoperator", "b-1"),
                vec![job("create_call_ticket").ordering_key("call:b-1")],
            ),
            (event("myoperator", "b-2"), vec![job("create_call_ticket")]),
            (event("twilio", "b-1"), vec![]),
        ])
        .await;
    assert_eq!(answers.len(), 3);
    let mut ids = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        match answer {
            Ok(Ingested::Stored { event_id, .. }) => ids.push(*event_id),
            other => panic!("item {i}: expected Stored, got {other:?}"),
        }
    }
    for (id, key) in ids.iter().zip(["b-1", "b-2", "b-1"]) {
        let stored = store.get_event(*id).await.expect("get").expect("stored");
        assert_eq!(stored.dedupe_key, key);
    }
    let jobs = store.jobs_for_event(ids[0]).await.expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Available);
    assert_eq!(jobs[0].ordering_key.as_deref(), Some("call:b-1"));
    assert!(store.jobs_for_event(ids[2]).await.expect("jobs").is_empty());
}

pub async fn duplicates_inside_and_across_batches(h: &dyn Harness) {
    let store = h.open().await;
    let before = store
        .ingest(event("myoperator", "old"), vec![job("create_call_ticket")])
        .await
        .expect("ingest");
    let answers = store
        .ingest_batch(vec![
            (event("myoperator", "new"), vec![job("create_call_ticket")]),
            // The same delivery twice in one batch: the second is the redelivery.
            (event("myoperator", "new"), vec![job("create_call_ticket")]),
            // Stored by an earlier request.
            (event("myoperator", "old"), vec![job("create_call_ticket")]),
        ])
        .await;
    let first = match &answers[0] {
        Ok(Ingested::Stored { event_id, .. }) => *event_id,
        other => panic!("expected Stored, got {other:?}"),
    };
    assert!(
        matches!(answers[1], Ok(Ingested::Duplicate { event_id }) if event_id == first),
        "the repeat inside the batch names the first: {:?}",
        answers[1]
    );
    assert!(
        matches!(answers[2], Ok(Ingested::Duplicate { event_id }) if event_id == before.event_id()),
        "the redelivery names the stored event: {:?}",
        answers[2]
    );
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(
        counts.values().sum::<u64>(),
        2,
        "one job per distinct event"
    );
    let events = store
        .list_events(&EventFilter::default())
        .await
        .expect("list");
    assert_eq!(events.len(), 2);
}

pub async fn a_bad_item_fails_alone(h: &dyn Harness) {
    let store = h.open().await;
    let answers = store
        .ingest_batch(vec![
            (
                event("myoperator", "good-1"),
                vec![job("create_call_ticket")],
            ),
            // max_attempts 0 is refused by the database after the event row was written.
            (
                event("myoperator", "bad"),
                vec![job("create_call_ticket"), job("broken").max_attempts(0)],
            ),
            (
                event("myoperator", "good-2"),
                vec![job("create_call_ticket")],
            ),
        ])
        .await;
    assert!(
        matches!(answers[0], Ok(Ingested::Stored { .. })),
        "{answers:?}"
    );
    assert!(
        matches!(answers[1], Err(StoreError::Rejected(_))),
        "expected Rejected, got {:?}",
        answers[1]
    );
    assert!(
        matches!(answers[2], Ok(Ingested::Stored { .. })),
        "{answers:?}"
    );
    let keys: Vec<String> = store
        .list_events(&EventFilter::default())
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.dedupe_key)
        .collect();
    assert_eq!(
        keys,
        ["good-1", "good-2"],
        "nothing of the bad item is stored"
    );
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts.values().sum::<u64>(), 2);
    // The bad delivery was not acknowledged: sent again, it is new work.
    let again = store
        .ingest(event("myoperator", "bad"), vec![job("create_call_ticket")])
        .await
        .expect("ingest");
    assert!(matches!(again, Ingested::Stored { .. }));
}

pub async fn unique_jobs_across_a_batch(h: &dyn Harness) {
    let store = h.open().await;
    let answers = store
        .ingest_batch(vec![
            (
                event("myoperator", "u-1"),
                vec![job("sync").unique_key("directory-sync")],
            ),
            (
                event("myoperator", "u-2"),
                vec![job("sync").unique_key("directory-sync")],
            ),
        ])
        .await;
    let first_job = match &answers[0] {
        Ok(Ingested::Stored { job_ids, .. }) => job_ids[0],
        other => panic!("expected Stored, got {other:?}"),
    };
    match &answers[1] {
        Ok(Ingested::Stored {
            job_ids,
            existing_unique,
            ..
        }) => {
            assert!(job_ids.is_empty());
            assert_eq!(existing_unique, &vec![first_job]);
        }
        other => panic!("expected Stored, got {other:?}"),
    }
}

pub async fn an_empty_batch_answers_nothing(h: &dyn Harness) {
    let store = h.open().await;
    assert!(store.ingest_batch(Vec::new()).await.is_empty());
}

pub async fn concurrent_batches_store_each_delivery_once(h: &dyn Harness) {
    let store = h.open().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Every batch carries the same ten deliveries, in a different order.
            let items = (0..10)
                .map(|i| {
                    let k = (i + t) % 10;
                    (
                        event("myoperator", &format!("race-{k}")),
                        vec![job("create_call_ticket")],
                    )
                })
                .collect();
            store.ingest_batch(items).await
        }));
    }
    let mut stored = 0;
    for task in tasks {
        for answer in task.await.expect("task") {
            if matches!(answer.expect("ingest"), Ingested::Stored { .. }) {
                stored += 1;
            }
        }
    }
    assert_eq!(stored, 10, "each delivery is stored exactly once");
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts.values().sum::<u64>(), 10);
}
