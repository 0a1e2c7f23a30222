//! Converting between the store's types and SQLite's columns, in one place.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::types::{EventId, Job, JobId, JobState};

/// The job columns every query that returns jobs selects, in the order [`job_from_row`] reads.
macro_rules! job_columns {
    () => {
        "id, kind, queue, args, state, priority, attempt, max_attempts, scheduled_at, \
         attempted_at, attempted_by, errors, snoozes, snooze_reason, unique_key, ordering_key, \
         event_id, created_at, finalized_at"
    };
}
pub(crate) use job_columns;

/// Encodes a time in the schema's fixed-width UTC form, so text order is time order.
///
/// Microsecond precision, like Postgres' timestamptz; times outside years 1–9999 are clamped
/// because a wider year would break the fixed width (and with it every comparison).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    let t = t.clamp(min_time(), max_time());
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn min_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |n| n.and_utc())
}

fn max_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map_or(DateTime::<Utc>::MAX_UTC, |n| n.and_utc())
}

/// Decodes a time written by [`ts`].
pub(crate) fn parse_ts(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| StoreError::Corrupt(format!("bad timestamp {text:?}: {err}")))
}

/// Reads a NOT NULL time column.
pub(crate) fn get_ts(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    let text: String = row.try_get(column)?;
    parse_ts(&text)
}

/// Reads a nullable time column.
pub(crate) fn get_opt_ts(
    row: &SqliteRow,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.as_deref().map(parse_ts).transpose()
}

/// Reads a JSON text column into `T`.
pub(crate) fn get_json<T: DeserializeOwned>(
    row: &SqliteRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text)
        .map_err(|err| StoreError::Corrupt(format!("bad JSON in column {column}: {err}")))
}

/// Reads an integer column that must fit a u32 (attempt counts).
pub(crate) fn get_u32(row: &SqliteRow, column: &str) -> Result<u32, StoreError> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("column {column} out of range: {value}")))
}

/// Reads an integer column that must not be negative (counts, durations).
pub(crate) fn get_u64(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("column {column} is negative: {value}")))
}

/// Converts a count or duration for binding; SQLite integers are signed 64-bit.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads the job state column.
pub(crate) fn get_state(row: &SqliteRow, column: &str) -> Result<JobState, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(StoreError::Corrupt)
}

/// Builds a [`Job`] from a row selected with [`job_columns!`].
pub(crate) fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
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
        scheduled_at: get_ts(row, "scheduled_at")?,
        attempted_at: get_opt_ts(row, "attempted_at")?,
        attempted_by: row.try_get("attempted_by")?,
        errors: get_json(row, "errors")?,
        snoozes: get_u32(row, "snoozes")?,
        snooze_reason: row.try_get("snooze_reason")?,
        unique_key: row.try_get("unique_key")?,
        ordering_key: row.try_get("ordering_key")?,
        event_id: event_id.map(EventId),
        created_at: get_ts(row, "created_at")?,
        finalized_at: get_opt_ts(row, "finalized_at")?,
    })
}

/// Builds every job in `rows`.
pub(crate) fn jobs_from_rows(rows: &[SqliteRow]) -> Result<Vec<Job>, StoreError> {
    rows.iter().map(job_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn encoding_is_fixed_width_and_round_trips() {
        let early = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single();
        let later = early.map(|t| t + chrono::Duration::microseconds(500_001));
        let (Some(early), Some(later)) = (early, later) else {
            panic!("valid test dates");
        };
        let (a, b) = (ts(early), ts(later));
        assert_eq!(a, "2024-01-01T00:00:00.000000Z");
        assert_eq!(a.len(), b.len());
        assert!(a < b);
        assert_eq!(parse_ts(&b).ok(), Some(later));
    }

    #[test]
    fn extreme_times_are_clamped_to_the_fixed_width() {
        assert_eq!(ts(DateTime::<Utc>::MAX_UTC), "9999-12-31T23:59:59.999999Z");
        assert_eq!(ts(DateTime::<Utc>::MIN_UTC), "0001-01-01T00:00:00.000000Z");
    }
}
