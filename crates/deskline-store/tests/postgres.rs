//! The shared store suite against PostgreSQL, one fresh database per test (dropped after), on
//! the server at `DESKLINE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), plus what is specific to PostgreSQL.
//! `./scripts/test` finds or starts that server; without one these tests fail, never skip.

mod suite;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deskline_store::{
    redact_url, Ingested, PgOptions, PgStore, SchemaPolicy, Store, StoreError, WAKE_CHANNEL,
};
use sqlx::Connection;
use suite::{event, job, Harness};
use tokio::sync::OnceCell;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server's maintenance database, where test databases are created and dropped.
fn admin_url() -> String {
    std::env::var("DESKLINE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// `url` pointing at database `name` instead, its query (sslmode, ...) kept.
fn with_database(url: &str, name: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let (head, rest) = url.split_at(start);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |q| &tail[q..]);
    format!("{head}{authority}/{name}{query}")
}

/// A database name no other test (or run) uses.
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "deskline_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn admin_connection() -> sqlx::PgConnection {
    let url = admin_url();
    match sqlx::PgConnection::connect(&url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "no PostgreSQL answers at {} ({e}). Run ./scripts/test, which finds or starts one, \
             or set DESKLINE_TEST_POSTGRES_URL to a server where this user may create databases",
            redact_url(&url)
        ),
    }
}

/// One database per test, created on first open and dropped (with any connection still open
/// to it) when the harness goes away.
struct PgHarness {
    name: String,
    created: OnceCell<String>,
}

impl PgHarness {
    fn new() -> Self {
        PgHarness {
            name: unique_name(),
            created: OnceCell::new(),
        }
    }

    /// The test database's URL, creating the database the first time.
    async fn url(&self) -> String {
        self.created
            .get_or_init(|| async {
                let mut admin = admin_connection().await;
                sqlx::query(&format!("CREATE DATABASE {}", self.name))
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|e| panic!("create database {}: {e}", self.name));
                let _ = admin.close().await;
                with_database(&admin_url(), &self.name)
            })
            .await
            .clone()
    }

    async fn store(&self, options: PgOptions) -> Result<PgStore, StoreError> {
        PgStore::connect_with(&self.url().await, options).await
    }
}

impl Drop for PgHarness {
    fn drop(&mut self) {
        if self.created.get().is_none() {
            return;
        }
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with its
        // own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let mut admin = admin_connection().await;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .map(|_| ())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

#[async_trait]
impl Harness for PgHarness {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            self.store(PgOptions::default())
                .await
                .expect("connect to the test database"),
        )
    }
}

store_suite!(PgHarness::new());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_migrating_an_empty_database_is_refused_then_accepted_once_migrated() {
    let harness = PgHarness::new();
    let check_only = PgOptions {
        schema: SchemaPolicy::RequireCurrent,
        ..PgOptions::default()
    };
    match harness.store(check_only.clone()).await {
        Err(StoreError::SchemaBehind { pending }) => assert_eq!(pending, vec![1, 2, 3]),
        other => panic!("expected SchemaBehind, got {other:?}"),
    }
    let migrated = harness.store(PgOptions::default()).await.expect("migrate");
    assert!(
        migrated
            .pending_migrations()
            .await
            .expect("pending")
            .is_empty(),
        "nothing left to apply"
    );
    assert!(migrated.migrate().await.expect("migrate again").is_empty());
    let store = harness.store(check_only).await.expect("schema is current");
    store.health().await.expect("health");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_queued_by_one_instance_wake_the_listeners_of_another() {
    let harness = PgHarness::new();
    let listening = harness.store(PgOptions::default()).await.expect("connect");
    let other = harness.store(PgOptions::default()).await.expect("connect");
    let mut wakeups = listening.job_wakeups().expect("PostgreSQL announces jobs");

    // The listener connects in the background; keep queuing until one announcement arrives,
    // so the test does not depend on how fast it connects.
    let mut received = None;
    for attempt in 0..50 {
        let ingested = other
            .ingest(
                event("myoperator", &format!("call-{attempt}")),
                vec![job("a")],
            )
            .await
            .expect("ingest");
        assert!(matches!(ingested, Ingested::Stored { .. }));
        if let Ok(Ok(queue)) =
            tokio::time::timeout(Duration::from_millis(200), wakeups.recv()).await
        {
            received = Some(queue);
            break;
        }
    }
    assert_eq!(
        received.as_deref(),
        Some("zendesk"),
        "a job queued on {WAKE_CHANNEL} names its queue"
    );

    // A redelivery inserts nothing, so it announces nothing.
    while wakeups.try_recv().is_ok() {}
    let again = other
        .ingest(event("myoperator", "call-0"), vec![job("a")])
        .await
        .expect("ingest");
    assert!(matches!(again, Ingested::Duplicate { .. }));
    let nothing = tokio::time::timeout(Duration::from_millis(300), wakeups.recv()).await;
    assert!(nothing.is_err(), "unexpected wake-up: {nothing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_postgres_cannot_hold_is_rejected_as_input_and_changes_nothing() {
    let harness = PgHarness::new();
    let store = harness.store(PgOptions::default()).await.expect("connect");
    let result = store
        .ingest(event("myoperator", "call\0with-nul"), vec![job("a")])
        .await;
    assert!(
        matches!(result, Err(StoreError::Rejected(_))),
        "expected Rejected, got {result:?}"
    );
    let counts = store.count_jobs_by_state().await.expect("counts");
    assert_eq!(counts.values().sum::<u64>(), 0);
}

#[test]
fn test_database_urls_keep_the_server_and_its_options() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h:5433?sslmode=disable", "t2"),
        "postgres://u:p@h:5433/t2?sslmode=disable"
    );
}
