//! The PostgreSQL schema, embedded in the binary like SQLite's, applied at connect unless the
//! caller asks only to check it (`deskline serve --no-migrate`).
//!
//! sqlx's migrator takes a session advisory lock while it migrates, so instances starting
//! together apply each migration once. A database already migrated by a newer deskline is
//! accepted (`ignore_missing`): during a rolling upgrade the old instances keep running on the
//! schema the new ones brought, which is why migrations only ever add.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::PgPool;

use crate::error::StoreError;

/// (version, description, SQL), in order. Append only: an applied migration's text must never
/// change, or sqlx refuses to start on a database it was applied to.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "leases",
        include_str!("../../migrations/postgres/0002_leases.sql"),
    ),
    (
        3,
        "rate buckets",
        include_str!("../../migrations/postgres/0003_rate_buckets.sql"),
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

/// Brings the schema up to date; returns the versions it applied.
pub(super) async fn run(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    let before = pending(pool).await?;
    let mut migrator = Migrator::new(Embedded).await?;
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(before)
}

/// The versions this deskline knows that the database has not applied, without changing
/// anything (not even creating sqlx's bookkeeping table).
pub(super) async fn pending(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = if exists.is_some() {
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
