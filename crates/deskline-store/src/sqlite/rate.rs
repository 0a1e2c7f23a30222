//! Taking a slot from a shared request budget (see [`crate::rate`]): one upsert decides and
//! records the grant; only a refusal reads the bucket again, to say how long to wait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use crate::error::StoreError;
use crate::rate::{micros, wait_after_refusal, RateQuota, TAKE_SLOT};

/// Takes one request's slot from `bucket`: `None` when granted, else how long to wait.
pub(super) async fn take_slot(
    pool: &SqlitePool,
    bucket: &str,
    quota: RateQuota,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, StoreError> {
    let now_us = micros(now);
    let granted: Option<i64> = sqlx::query_scalar(TAKE_SLOT)
        .bind(bucket)
        .bind(now_us)
        .bind(quota.interval_us())
        .bind(quota.limit_us())
        .fetch_optional(pool)
        .await?;
    if granted.is_some() {
        return Ok(None);
    }
    let tat: Option<i64> = sqlx::query_scalar("SELECT tat_us FROM rate_bucket WHERE name = $1")
        .bind(bucket)
        .fetch_optional(pool)
        .await?;
    Ok(Some(wait_after_refusal(tat, now_us, quota)))
}
