//! Links, the agent directory, agent mismatches, durability and health.

use deskline_store::{DirectoryAgent, DirectoryGroup, EventFilter, Ingested, JobState, Store};

use super::{at, event, job, Harness};

pub async fn links_upsert_get_delete(h: &dyn Harness) {
    let store = h.open().await;
    assert!(store
        .get_link("call_ticket", "mo-123")
        .await
        .expect("get")
        .is_none());

    store
        .put_link("call_ticket", "mo-123", "4411", at(0))
        .await
        .expect("put");
    store
        .put_link("phone_user", "+919876543210", "900001", at(0))
        .await
        .expect("put");
    let link = store
        .get_link("call_ticket", "mo-123")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(link.value, "4411");
    assert_eq!((link.created_at, link.updated_at), (at(0), at(0)));

    // Upsert: the value and updated_at change, created_at stays.
    store
        .put_link("call_ticket", "mo-123", "4412", at(30))
        .await
        .expect("put");
    let link = store
        .get_link("call_ticket", "mo-123")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(link.value, "4412");
    assert_eq!((link.created_at, link.updated_at), (at(0), at(30)));

    // Kinds are separate namespaces.
    assert!(store
        .get_link("phone_user", "mo-123")
        .await
        .expect("get")
        .is_none());

    assert!(store
        .delete_link("call_ticket", "mo-123")
        .await
        .expect("delete"));
    assert!(!store
        .delete_link("call_ticket", "mo-123")
        .await
        .expect("delete"));
    assert!(store
        .get_link("call_ticket", "mo-123")
        .await
        .expect("get")
        .is_none());
    assert!(store
        .get_link("phone_user", "+919876543210")
        .await
        .expect("get")
        .is_some());
}

fn agent(id: i64, email: &str, active: bool) -> DirectoryAgent {
    DirectoryAgent {
        zendesk_id: id,
        email: email.to_owned(),
        name: format!("Agent {id}"),
        phone: Some("+1 415-555-0100".to_owned()),
        group_ids: vec![10, 20],
        active,
    }
}

fn group(id: i64, name: &str) -> DirectoryGroup {
    DirectoryGroup {
        zendesk_id: id,
        name: name.to_owned(),
    }
}

pub async fn directory_replace_and_lookup(h: &dyn Harness) {
    let store = h.open().await;
    let before = store.directory_status().await.expect("status");
    assert_eq!(before.last_synced_at, None);
    assert_eq!(before.agent_count, 0);

    let replaced = store
        .replace_directory(
            vec![
                agent(1, "Alice.Agent@Example.com", true),
                agent(2, "bob@example.com", true),
                // Same email as an active agent: the active one must win the lookup.
                agent(3, "ALICE.agent@example.com", false),
            ],
            vec![group(10, "Support"), group(20, "Billing Team")],
            at(0),
        )
        .await
        .expect("replace");
    assert_eq!((replaced.agents, replaced.groups), (3, 2));

    let alice = store
        .agent_by_email("  alice.agent@EXAMPLE.COM \n")
        .await
        .expect("lookup")
        .expect("found after trim + case-fold");
    assert_eq!(alice.zendesk_id, 1);
    assert_eq!(
        alice.email, "Alice.Agent@Example.com",
        "stored as Zendesk has it"
    );
    assert_eq!(alice.group_ids, vec![10, 20]);
    assert!(alice.active);
    assert!(store.agent_by_email("").await.expect("lookup").is_none());
    assert!(store
        .agent_by_email("carol@example.com")
        .await
        .expect("lookup")
        .is_none());

    // Agents identified by number: Zendesk's stored formatting is ignored, and the active
    // agent wins when a number is shared.
    let by_phone = store
        .agent_by_phone("+14155550100")
        .await
        .expect("lookup")
        .expect("found by phone");
    assert!(by_phone.active);
    assert!(store
        .agent_by_phone("+919999999999")
        .await
        .expect("lookup")
        .is_none());
    assert!(store.agent_by_phone("").await.expect("lookup").is_none());

    let inactive = store
        .agent_by_zendesk_id(3)
        .await
        .expect("lookup")
        .expect("found");
    assert!(!inactive.active);
    assert_eq!(
        store
            .group_by_name(" billing team")
            .await
            .expect("lookup")
            .map(|g| g.zendesk_id),
        Some(20)
    );
    assert_eq!(
        store.group_by_id(10).await.expect("lookup").map(|g| g.name),
        Some("Support".to_owned())
    );

    // A failed sync keeps the directory and says why.
    store
        .record_directory_sync_failure("401 from Zendesk", at(50))
        .await
        .expect("record failure");
    let status = store.directory_status().await.expect("status");
    assert_eq!(status.last_synced_at, Some(at(0)));
    assert_eq!(status.last_error.as_deref(), Some("401 from Zendesk"));
    assert_eq!(status.last_error_at, Some(at(50)));
    assert!(store
        .agent_by_zendesk_id(2)
        .await
        .expect("lookup")
        .is_some());

    // The next sync replaces everything and clears the error.
    store
        .replace_directory(vec![agent(4, "dana@example.com", true)], vec![], at(100))
        .await
        .expect("replace");
    assert!(store
        .agent_by_zendesk_id(1)
        .await
        .expect("lookup")
        .is_none());
    assert!(store
        .agent_by_email("bob@example.com")
        .await
        .expect("lookup")
        .is_none());
    assert!(store.group_by_id(10).await.expect("lookup").is_none());
    let status = store.directory_status().await.expect("status");
    assert_eq!(status.last_synced_at, Some(at(100)));
    assert_eq!((status.agent_count, status.group_count), (1, 0));
    assert_eq!(status.last_error, None);

    // A sync that the database rejects (duplicate ids) leaves the previous directory whole.
    let rejected = store
        .replace_directory(
            vec![
                agent(5, "e@example.com", true),
                agent(5, "f@example.com", true),
            ],
            vec![],
            at(200),
        )
        .await;
    assert!(rejected.is_err());
    assert!(store
        .agent_by_zendesk_id(4)
        .await
        .expect("lookup")
        .is_some());
    assert_eq!(
        store
            .directory_status()
            .await
            .expect("status")
            .last_synced_at,
        Some(at(100))
    );
}

pub async fn agent_mismatches_are_counted_and_resolved(h: &dyn Harness) {
    let store = h.open().await;
    store
        .record_agent_mismatch("Carol@Example.com", Some("call-1"), "myoperator", at(0))
        .await
        .expect("record");
    store
        .record_agent_mismatch(" carol@example.com", Some("call-2"), "myoperator", at(10))
        .await
        .expect("record");
    // The same call again (a retried job) is not a new occurrence.
    store
        .record_agent_mismatch("carol@example.com", Some("call-2"), "myoperator", at(20))
        .await
        .expect("record");
    store
        .record_agent_mismatch("dave@example.com", None, "aircall", at(5))
        .await
        .expect("record");

    let list = store.list_agent_mismatches().await.expect("list");
    assert_eq!(list.len(), 2);
    let carol = &list[0];
    assert_eq!(carol.email_normalized, "carol@example.com");
    assert_eq!(carol.email_as_sent, "carol@example.com");
    assert_eq!(carol.count, 2);
    assert_eq!((carol.first_seen, carol.last_seen), (at(0), at(20)));
    assert_eq!(carol.last_call_id.as_deref(), Some("call-2"));
    assert_eq!(list[1].email_normalized, "dave@example.com");
    assert_eq!(list[1].source, "aircall");

    // Nothing resolves them while the directory does not know the emails.
    assert_eq!(store.clear_resolved_mismatches().await.expect("clear"), 0);

    // A sync that finds Carol resolves her mismatch in the same transaction.
    let replaced = store
        .replace_directory(vec![agent(7, "CAROL@example.com", true)], vec![], at(30))
        .await
        .expect("replace");
    assert_eq!(replaced.resolved_mismatches, 1);
    let list = store.list_agent_mismatches().await.expect("list");
    assert_eq!(
        list.iter()
            .map(|m| m.email_normalized.as_str())
            .collect::<Vec<_>>(),
        vec!["dave@example.com"]
    );
    assert_eq!(store.clear_resolved_mismatches().await.expect("clear"), 0);
}

pub async fn reopening_keeps_everything(h: &dyn Harness) {
    let (event_id, job_ids) = {
        let store = h.open().await;
        let ingested = store
            .ingest(
                event("myoperator", "call-durable"),
                vec![job("create_ticket"), job("add_note")],
            )
            .await
            .expect("ingest");
        let Ingested::Stored {
            event_id, job_ids, ..
        } = ingested
        else {
            panic!("expected Stored");
        };
        let claimed = store.claim("zendesk", 1, at(1), "w").await.expect("claim");
        store
            .complete(claimed[0].id, at(2))
            .await
            .expect("complete");
        store
            .put_link("call_ticket", "call-durable", "4411", at(2))
            .await
            .expect("put_link");
        store
            .replace_directory(vec![agent(1, "alice@example.com", true)], vec![], at(3))
            .await
            .expect("replace");
        store
            .pause_queue("zendesk", at(600), "429")
            .await
            .expect("pause");
        (event_id, job_ids)
        // Every handle to the store is dropped here, as at process exit.
    };

    let store = h.open().await;
    let ev = store
        .get_event(event_id)
        .await
        .expect("get_event")
        .expect("event survived");
    assert_eq!(ev.dedupe_key, "call-durable");
    let again = store
        .ingest(
            event("myoperator", "call-durable"),
            vec![job("create_ticket")],
        )
        .await
        .expect("ingest");
    assert_eq!(again, Ingested::Duplicate { event_id });

    let jobs = store.jobs_for_event(event_id).await.expect("jobs");
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), job_ids);
    assert_eq!(jobs[0].state, JobState::Completed);
    assert_eq!(jobs[1].state, JobState::Available);
    assert_eq!(
        store
            .get_link("call_ticket", "call-durable")
            .await
            .expect("get_link")
            .map(|l| l.value),
        Some("4411".to_owned())
    );
    assert_eq!(
        store
            .agent_by_email("ALICE@example.com")
            .await
            .expect("lookup")
            .map(|a| a.zendesk_id),
        Some(1)
    );
    assert!(store
        .queue_paused_until("zendesk", at(10))
        .await
        .expect("pause")
        .is_some());
    assert_eq!(
        store
            .list_events(&EventFilter::default())
            .await
            .expect("list")
            .len(),
        1
    );
    // Reopening an already-migrated database is a no-op, not an error.
    drop(store);
    let _ = h.open().await;
}

pub async fn health_answers(h: &dyn Harness) {
    let store: std::sync::Arc<dyn Store> = h.open().await;
    store.health().await.expect("health");
}
