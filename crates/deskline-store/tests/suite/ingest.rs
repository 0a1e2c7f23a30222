//! Ingest: an event and its jobs become durable together, exactly once.

use std::collections::BTreeSet;

use deskline_store::{EventFilter, EventId, Ingested, JobState, StoreError};

use super::{event, job, t0, Harness};

pub async fn stores_event_and_jobs(h: &dyn Harness) {
    let store = h.open().await;
    let ev = event("myoperator", "call-1");
    let jobs = vec![
        job("create_call_ticket").ordering_key("myoperator:call-1"),
        job("link_recording").ordering_key("myoperator:call-1"),
    ];
    let ingested = store.ingest(ev.clone(), jobs).await.expect("ingest");
    let Ingested::Stored {
        event_id,
        job_ids,
        existing_unique,
    } = ingested
    else {
        panic!("expected Stored, got {ingested:?}");
    };
    assert_eq!(job_ids.len(), 2);
    assert!(existing_unique.is_empty());

    let stored = store
        .get_event(event_id)
        .await
        .expect("get_event")
        .expect("event exists");
    assert_eq!(stored.id, event_id);
    assert_eq!(stored.source, ev.source);
    assert_eq!(stored.kind, ev.kind);
    assert_eq!(stored.dedupe_key, ev.dedupe_key);
    assert_eq!(stored.received_at, ev.received_at);
    assert_eq!(stored.headers, ev.headers);
    assert_eq!(stored.raw_body, ev.raw_body);
    assert_eq!(stored.normalized, ev.normalized);

    let jobs = store
        .jobs_for_event(event_id)
        .await
        .expect("jobs_for_event");
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), job_ids);
    assert_eq!(jobs[0].kind, "create_call_ticket");
    assert_eq!(jobs[1].kind, "link_recording");
    for j in &jobs {
        assert_eq!(j.state, JobState::Available);
        assert_eq!(j.attempt, 0);
        assert_eq!(j.event_id, Some(event_id));
        assert_eq!(j.created_at, t0());
        assert_eq!(j.ordering_key.as_deref(), Some("myoperator:call-1"));
        assert!(j.errors.is_empty());
    }
    assert!(store
        .get_event(EventId(event_id.0 + 1000))
        .await
        .expect("get_event")
        .is_none());
}

pub async fn duplicate_writes_nothing(h: &dyn Harness) {
    let store = h.open().await;
    let first = store
        .ingest(
            event("myoperator", "call-1"),
            vec![job("create_call_ticket")],
        )
        .await
        .expect("first ingest");
    // A redelivery may even come with different jobs planned; none of them may be written.
    let again = store
        .ingest(
            event("myoperator", "call-1"),
            vec![job("create_call_ticket"), job("other")],
        )
        .await
        .expect("second ingest");
    assert_eq!(
        again,
        Ingested::Duplicate {
            event_id: first.event_id()
        }
    );
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts.values().sum::<u64>(), 1);
    let events = store
        .list_events(&EventFilter::default())
        .await
        .expect("list_events");
    assert_eq!(events.len(), 1);
}

pub async fn dedupe_key_is_per_source(h: &dyn Harness) {
    let store = h.open().await;
    let a = store
        .ingest(event("myoperator", "42"), vec![job("a")])
        .await
        .expect("ingest a");
    let b = store
        .ingest(event("twilio", "42"), vec![job("b")])
        .await
        .expect("ingest b");
    assert!(matches!(a, Ingested::Stored { .. }));
    assert!(matches!(b, Ingested::Stored { .. }));
    assert_ne!(a.event_id(), b.event_id());
}

pub async fn concurrent_duplicates_store_once(h: &dyn Harness) {
    let store = h.open().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .ingest(
                    event("myoperator", "call-race"),
                    vec![job("create_call_ticket")],
                )
                .await
        }));
    }
    let mut stored = 0;
    let mut ids = BTreeSet::new();
    for task in tasks {
        let ingested = task.await.expect("task").expect("ingest");
        if matches!(ingested, Ingested::Stored { .. }) {
            stored += 1;
        }
        ids.insert(ingested.event_id());
    }
    assert_eq!(stored, 1, "exactly one ingest stores the event");
    assert_eq!(ids.len(), 1, "every duplicate names the stored event");
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(
        counts.values().sum::<u64>(),
        1,
        "the jobs were written once"
    );
}

pub async fn failed_job_insert_stores_nothing(h: &dyn Harness) {
    let store = h.open().await;
    // max_attempts 0 is refused by the database, after the event and the first job were
    // written inside the transaction.
    let result = store
        .ingest(
            event("myoperator", "call-bad"),
            vec![job("create_call_ticket"), job("broken").max_attempts(0)],
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Rejected(_))),
        "expected Rejected, got {result:?}"
    );
    let events = store
        .list_events(&EventFilter::default())
        .await
        .expect("list_events");
    assert!(
        events.is_empty(),
        "the event must not be stored: {events:?}"
    );
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts.values().sum::<u64>(), 0, "no job may be stored");

    // Nothing was acknowledged, so the provider's redelivery is new work, not a duplicate.
    let retried = store
        .ingest(
            event("myoperator", "call-bad"),
            vec![job("create_call_ticket")],
        )
        .await
        .expect("ingest");
    assert!(matches!(retried, Ingested::Stored { .. }));
}

pub async fn list_events_filters_and_pages(h: &dyn Harness) {
    let store = h.open().await;
    for i in 0..5 {
        store
            .ingest(event("myoperator", &format!("m{i}")), vec![])
            .await
            .expect("ingest");
    }
    store
        .ingest(event("twilio", "t0"), vec![])
        .await
        .expect("ingest");

    let all = store
        .list_events(&EventFilter::default())
        .await
        .expect("list");
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));

    let twilio = store
        .list_events(&EventFilter {
            source: Some("twilio".into()),
            ..EventFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(twilio.len(), 1);
    assert_eq!(twilio[0].dedupe_key, "t0");

    let page1 = store
        .list_events(&EventFilter {
            source: Some("myoperator".into()),
            limit: 3,
            ..EventFilter::default()
        })
        .await
        .expect("list");
    let page2 = store
        .list_events(&EventFilter {
            source: Some("myoperator".into()),
            limit: 3,
            after_id: page1.last().map(|e| e.id),
            ..EventFilter::default()
        })
        .await
        .expect("list");
    let keys: Vec<_> = page1
        .iter()
        .chain(&page2)
        .map(|e| e.dedupe_key.as_str())
        .collect();
    assert_eq!(keys, ["m0", "m1", "m2", "m3", "m4"]);

    let none = store
        .list_events(&EventFilter {
            kind: Some("no.such.kind".into()),
            ..EventFilter::default()
        })
        .await
        .expect("list");
    assert!(none.is_empty());
}
