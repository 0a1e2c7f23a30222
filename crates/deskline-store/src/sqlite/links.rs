//! Links: what belongs together (provider call ↔ ticket, phone ↔ Zendesk user, ...).

use chrono::{DateTime, Utc};
use sqlx::{Row, SqlitePool};

use super::codec::{get_ts, ts};
use crate::error::StoreError;
use crate::types::Link;

/// Creates or overwrites a link; `created_at` keeps the first write's time.
pub(super) async fn put_link(
    pool: &SqlitePool,
    kind: &str,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO link (kind, key, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (kind, key) DO UPDATE SET
             value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(kind)
    .bind(key)
    .bind(value)
    .bind(ts(now))
    .execute(pool)
    .await?;
    Ok(())
}

/// The link for `kind`/`key`.
pub(super) async fn get_link(
    pool: &SqlitePool,
    kind: &str,
    key: &str,
) -> Result<Option<Link>, StoreError> {
    let row = sqlx::query(
        "SELECT kind, key, value, created_at, updated_at FROM link WHERE kind = $1 AND key = $2",
    )
    .bind(kind)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Link {
            kind: row.try_get("kind")?,
            key: row.try_get("key")?,
            value: row.try_get("value")?,
            created_at: get_ts(&row, "created_at")?,
            updated_at: get_ts(&row, "updated_at")?,
        })
    })
    .transpose()
}

/// Removes a link; true if it existed.
pub(super) async fn delete_link(
    pool: &SqlitePool,
    kind: &str,
    key: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM link WHERE kind = $1 AND key = $2")
        .bind(kind)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
