//! The shared store suite against SQLite files in a temporary directory, plus what is
//! specific to SQLite (the file and its directory are created, the pragmas are in force).

mod suite;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use deskline_store::{SqliteStore, Store};
use suite::Harness;
use tempfile::TempDir;

/// One temporary directory per test; the database lives in a subdirectory that does not exist
/// yet, so every test also checks that opening creates it.
struct SqliteHarness {
    dir: TempDir,
}

impl SqliteHarness {
    fn new() -> Self {
        SqliteHarness {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("data").join("deskline.db")
    }
}

#[async_trait]
impl Harness for SqliteHarness {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            SqliteStore::open(self.path())
                .await
                .expect("open SQLite store"),
        )
    }
}

store_suite!(SqliteHarness::new());

#[tokio::test]
async fn opening_creates_the_file_in_wal_mode() {
    let harness = SqliteHarness::new();
    let store = SqliteStore::open(harness.path()).await.expect("open");
    store.close().await;
    assert!(harness.path().exists());
    // The WAL journal mode is persistent in the file; the other pragmas are per connection
    // and are exercised by the suite (foreign keys: the orphan attempt is rejected).
    let header = std::fs::read(harness.path()).expect("read database file");
    assert_eq!(&header[..16], b"SQLite format 3\0");
    assert_eq!(
        (header[18], header[19]),
        (2, 2),
        "file format versions 2 = WAL"
    );
}

/// The file's permission bits, in octal.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    format!("{:o}", mode & 0o777)
}

/// Writes one event, so the WAL and its index exist.
async fn write_something(store: &SqliteStore) {
    let event = deskline_store::NewInboundEvent {
        source: "myoperator".into(),
        kind: "call.ended".into(),
        dedupe_key: "k-1".into(),
        received_at: chrono::Utc::now(),
        headers: serde_json::json!({}),
        raw_body: b"{}".to_vec(),
        normalized: serde_json::json!({}),
    };
    store.ingest(event, Vec::new()).await.expect("ingest");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_the_directory_it_creates_are_the_owners_alone() {
    let harness = SqliteHarness::new();
    let db = harness.path();
    let store = SqliteStore::open(&db).await.expect("open");
    write_something(&store).await;
    let data_dir = db.parent().expect("a directory");
    assert_eq!(mode(data_dir), "700", "the data directory deskline created");
    for file in [
        db.clone(),
        db.with_extension("db-wal"),
        db.with_extension("db-shm"),
    ] {
        assert_eq!(mode(&file), "600", "{}", file.display());
    }
    store.close().await;
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_database_readable_by_others_is_tightened_in_a_directory_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let harness = SqliteHarness::new();
    let db = harness.path();
    let store = SqliteStore::open(&db).await.expect("open");
    write_something(&store).await;
    store.close().await;
    // As an older deskline left it, in a directory the operator chose to share.
    let data_dir = db.parent().expect("a directory");
    let wal = db.with_extension("db-wal");
    std::fs::write(&wal, b"").expect("a WAL file");
    for (path, m) in [
        (data_dir, 0o755),
        (db.as_path(), 0o644),
        (wal.as_path(), 0o664),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).expect("chmod");
    }

    let store = SqliteStore::open(&db).await.expect("open again");
    write_something(&store).await;
    assert_eq!(mode(&db), "600");
    assert_eq!(mode(&wal), "600");
    assert_eq!(mode(&db.with_extension("db-shm")), "600");
    assert_eq!(
        mode(data_dir),
        "755",
        "an existing directory is not deskline's to change"
    );
    store.close().await;
}

#[tokio::test]
async fn without_migrating_a_new_file_is_refused_then_accepted_once_migrated() {
    use deskline_store::{SchemaPolicy, SqliteOptions, StoreError};
    let harness = SqliteHarness::new();
    let check_only = || SqliteOptions {
        schema: SchemaPolicy::RequireCurrent,
        ..SqliteOptions::default()
    };
    match SqliteStore::open_with(harness.path(), check_only()).await {
        Err(StoreError::SchemaBehind { pending }) => assert_eq!(pending, vec![1, 2, 3, 4, 5]),
        other => panic!("expected SchemaBehind, got {other:?}"),
    }
    SqliteStore::open(harness.path())
        .await
        .expect("migrate")
        .close()
        .await;
    let store = SqliteStore::open_with(harness.path(), check_only())
        .await
        .expect("the schema is current");
    store.health().await.expect("health");
}

/// Polls `fut` up to `polls` times, pausing `pause` between polls so the connection's worker
/// thread moves on meanwhile, then drops it unless it finished: a caller whose request is
/// dropped at an arbitrary point (a client that hung up, a timeout).
async fn cancel_after<F: std::future::Future>(fut: F, polls: usize, pause: std::time::Duration) {
    use std::task::Poll;
    let mut fut = std::pin::pin!(fut);
    for _ in 0..polls {
        let done = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await;
        if done {
            return;
        }
        std::thread::sleep(pause);
    }
}

/// The wedge of issue 10: a write transaction whose caller was dropped while it began went back
/// to the pool still open, holding SQLite's write lock. Every other writer then waited out the
/// busy timeout ("database is locked") and every later write on that connection failed with
/// "attempted to call begin_with at non-zero transaction depth", until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_dropped_midway_leave_no_transaction_open() {
    let harness = SqliteHarness::new();
    let store = SqliteStore::open_with(
        harness.path(),
        deskline_store::SqliteOptions {
            max_connections: 2,
            busy_timeout: std::time::Duration::from_millis(500),
            ..deskline_store::SqliteOptions::default()
        },
    )
    .await
    .expect("open");
    let now = chrono::Utc::now();
    for i in 0..1500usize {
        let job = deskline_store::NewJob::new("sync", "zendesk", serde_json::json!({}), now);
        let pause = std::time::Duration::from_micros(5 + (i as u64 * 37) % 120);
        cancel_after(store.enqueue(job, now), 1 + i % 9, pause).await;
    }
    // Every connection must be usable again, and nobody may be holding the write lock.
    for i in 0..20 {
        let job = deskline_store::NewJob::new("sync", "zendesk", serde_json::json!({}), now);
        store
            .enqueue(job, now)
            .await
            .unwrap_or_else(|e| panic!("write {i} after the dropped ones: {e}"));
        let event = deskline_store::NewInboundEvent {
            source: "myoperator".into(),
            kind: "call.ended".into(),
            dedupe_key: format!("after-{i}"),
            received_at: now,
            headers: serde_json::json!({}),
            raw_body: b"{}".to_vec(),
            normalized: serde_json::json!({}),
        };
        store
            .ingest(event, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("ingest {i} after the dropped writes: {e}"));
    }
    store.close().await;
}
