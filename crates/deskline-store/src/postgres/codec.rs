//! Converting between the store's types and PostgreSQL's columns, in one place.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;

use crate::error::StoreError;
use crate::types::{EventId, Job, JobId, JobState};

/// A time as stored: whole microseconds (truncated, not rounded) within years 1–9999, exactly
/// as the SQLite encoding keeps it, so both backends give back the same instants.
pub(super) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    let t = t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t);
    let min = NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |n| n.and_utc());
    let max = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map_or(DateTime::<Utc>::MAX_UTC, |n| n.and_utc());
    t.clamp(min, max)
}

/// A time as text inside JSON (a job's error history), in the form the SQLite store writes.
pub(super) fn ts_text(t: DateTime<Utc>) -> String {
    ts(t).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reads a JSON or JSONB column into `T`.
pub(super) fn get_json<T: DeserializeOwned>(row: &PgRow, column: &str) -> Result<T, StoreError> {
    let Json(value): Json<T> = row
        .try_get(column)
        .map_err(|err| StoreError::Corrupt(format!("bad JSON in column {column}: {err}")))?;
    Ok(value)
}

/// Reads a BIGINT column that must fit a u32 (attempt counts).
pub(super) fn get_u32(row: &PgRow, column: &str) -> Result<u32, StoreError> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("column {column} out of range: {value}")))
}

/// Reads a BIGINT column that must not be negative (counts, durations).
pub(super) fn get_u64(row: &PgRow, column: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("column {column} is negative: {value}")))
}

/// Reads a nullable BIGINT column that must not be negative (ticket and agent ids).
pub(super) fn get_opt_u64(row: &PgRow, column: &str) -> Result<Option<u64>, StoreError> {
    let value: Option<i64> = row.try_get(column)?;
    value
        .map(|v| {
            u64::try_from(v)
                .map_err(|_| StoreError::Corrupt(format!("column {column} is negative: {v}")))
        })
        .transpose()
}

/// Converts a count, duration or id for binding; BIGINT is signed.
pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads the job state column.
pub(super) fn get_state(row: &PgRow, column: &str) -> Result<JobState, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(StoreError::Corrupt)
}

/// Builds a [`Job`] from a row holding every job column.
pub(super) fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    let event_id: Option<i64> = row.try_get("event_id")?;
    Ok(Job {
        id: JobId(row.try_get("id")?),
        kind: row.try_get("kind")?,
        queue: row.try_get("queue")?,
        args: get_json(row, "args")?,
        state: get_state(row, "state")?,
        priority: row.try_get("priority")?,
        attempt: get_u32(row, "attempt")?,
        max_attempts: get_u32(row, "max_attempts")?,
        scheduled_at: row.try_get("scheduled_at")?,
        attempted_at: row.try_get("attempted_at")?,
        attempted_by: row.try_get("attempted_by")?,
        errors: get_json(row, "errors")?,
        snoozes: get_u32(row, "snoozes")?,
        snooze_reason: row.try_get("snooze_reason")?,
        unique_key: row.try_get("unique_key")?,
        ordering_key: row.try_get("ordering_key")?,
        event_id: event_id.map(EventId),
        created_at: row.try_get("created_at")?,
        finalized_at: row.try_get("finalized_at")?,
    })
}

/// Builds every job in `rows`.
pub(super) fn jobs_from_rows(rows: &[PgRow]) -> Result<Vec<Job>, StoreError> {
    rows.iter().map(job_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_times_are_clamped_like_the_sqlite_encoding() {
        assert_eq!(
            ts_text(DateTime::<Utc>::MAX_UTC),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            ts_text(DateTime::<Utc>::MIN_UTC),
            "0001-01-01T00:00:00.000000Z"
        );
    }
}
