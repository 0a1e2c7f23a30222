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
