//! The SQLite schema, embedded in the binary and applied at open.
//!
//! The migrations are compiled in with `include_str!` rather than `sqlx::migrate!` so the
//! binary needs no migrations directory at run time and the crate needs no proc-macro build of
//! sqlx; sqlx's migrator still records and checksums what was applied.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::SqlitePool;

use crate::error::StoreError;

/// (version, description, SQL), in order. Append only: an applied migration's text must never
/// change, or sqlx refuses to start on a database it was applied to.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "conversation",
        include_str!("../../migrations/sqlite/0002_conversation.sql"),
    ),
    (
        3,
        "leases",
        include_str!("../../migrations/sqlite/0003_leases.sql"),
    ),
    (
        4,
        "claim indexes",
        include_str!("../../migrations/sqlite/0004_claim_indexes.sql"),
    ),
    (
        5,
        "rate buckets",
        include_str!("../../migrations/sqlite/0005_rate_buckets.sql"),
    ),
];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Brings the database's schema up to date.
pub(super) async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    let migrator = Migrator::new(Embedded).await?;
    migrator.run(pool).await?;
    Ok(())
}

/// The versions this deskline knows that the database has not applied, changing nothing.
pub(super) async fn pending(pool: &SqlitePool) -> Result<Vec<i64>, StoreError> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    let applied: Vec<i64> = if table.is_some() {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(MIGRATIONS
        .iter()
        .map(|&(version, _, _)| version)
        .filter(|v| !applied.contains(v))
        .collect())
}
