//! The synced Zendesk agent directory and the agent emails it did not know.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::codec::{get_json, get_u64, to_i64, ts};
use crate::error::StoreError;
use crate::types::{
    normalize_email, normalize_name, AgentMismatch, DirectoryAgent, DirectoryGroup,
    DirectoryReplaced, DirectoryStatus,
};

const AGENT_COLUMNS: &str = "zendesk_id, email, name, phone, group_ids, active";

/// Shared by the sync (inside its transaction) and the standalone clean-up.
const CLEAR_RESOLVED: &str = "DELETE FROM agent_mismatch
     WHERE email_normalized IN (SELECT email_normalized FROM directory_agent)";

/// Swaps in a whole new directory atomically; readers see the old one until commit.
pub(super) async fn replace_directory(
    pool: &PgPool,
    agents: Vec<DirectoryAgent>,
    groups: Vec<DirectoryGroup>,
    synced_at: DateTime<Utc>,
) -> Result<DirectoryReplaced, StoreError> {
    let synced = ts(synced_at);
    let mut tx = pool.begin().await?;
    // Two syncs at once (two instances) take turns instead of failing on each other's rows.
    sqlx::query("SELECT 1 FROM directory_sync WHERE id = 1 FOR UPDATE")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM directory_agent")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM directory_group")
        .execute(&mut *tx)
        .await?;
    for agent in &agents {
        insert_agent(&mut tx, agent, synced).await?;
    }
    for group in &groups {
        sqlx::query(
            "INSERT INTO directory_group (zendesk_id, name, name_normalized, synced_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(group.zendesk_id)
        .bind(&group.name)
        .bind(normalize_name(&group.name))
        .bind(synced)
        .execute(&mut *tx)
        .await?;
    }
    let agent_count = u64::try_from(agents.len()).unwrap_or(u64::MAX);
    let group_count = u64::try_from(groups.len()).unwrap_or(u64::MAX);
    sqlx::query(
        "UPDATE directory_sync SET last_synced_at = $1, agent_count = $2, group_count = $3,
             last_error = NULL, last_error_at = NULL
         WHERE id = 1",
    )
    .bind(synced)
    .bind(to_i64(agent_count))
    .bind(to_i64(group_count))
    .execute(&mut *tx)
    .await?;
    let resolved = sqlx::query(CLEAR_RESOLVED).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(DirectoryReplaced {
        agents: agent_count,
        groups: group_count,
        resolved_mismatches: resolved.rows_affected(),
    })
}

async fn insert_agent(
    conn: &mut PgConnection,
    agent: &DirectoryAgent,
    synced_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let group_ids = serde_json::Value::from(agent.group_ids.clone()).to_string();
    sqlx::query(
        "INSERT INTO directory_agent
             (zendesk_id, email_normalized, email, name, phone, group_ids, active, synced_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)",
    )
    .bind(agent.zendesk_id)
    .bind(normalize_email(&agent.email))
    .bind(&agent.email)
    .bind(&agent.name)
    .bind(&agent.phone)
    .bind(group_ids)
    .bind(agent.active)
    .bind(synced_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps the directory as it is and notes why the sync failed.
pub(super) async fn record_sync_failure(
    pool: &PgPool,
    error: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE directory_sync SET last_error = $1, last_error_at = $2 WHERE id = 1")
        .bind(error)
        .bind(ts(at))
        .execute(pool)
        .await?;
    Ok(())
}

/// The agent with this email, trimmed and case-folded; active agents first.
pub(super) async fn agent_by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<DirectoryAgent>, StoreError> {
    let normalized = normalize_email(email);
    if normalized.is_empty() {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "SELECT {AGENT_COLUMNS} FROM directory_agent WHERE email_normalized = $1
         ORDER BY active DESC, zendesk_id LIMIT 1"
    ))
    .bind(normalized)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(agent_from_row).transpose()
}

/// The agent whose Zendesk phone is this E.164 number (spaces, dashes and brackets in the
/// stored number are ignored).
pub(super) async fn agent_by_phone(
    pool: &PgPool,
    e164: &str,
) -> Result<Option<DirectoryAgent>, StoreError> {
    let wanted: String = e164
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    if wanted.len() < 4 {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "SELECT {AGENT_COLUMNS} FROM directory_agent
         WHERE replace(replace(replace(replace(phone, ' ', ''), '-', ''), '(', ''), ')', '') = $1
         ORDER BY active DESC, zendesk_id LIMIT 1"
    ))
    .bind(wanted)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(agent_from_row).transpose()
}

/// The agent with this Zendesk id.
pub(super) async fn agent_by_zendesk_id(
    pool: &PgPool,
    zendesk_id: i64,
) -> Result<Option<DirectoryAgent>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {AGENT_COLUMNS} FROM directory_agent WHERE zendesk_id = $1"
    ))
    .bind(zendesk_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(agent_from_row).transpose()
}

fn agent_from_row(row: &PgRow) -> Result<DirectoryAgent, StoreError> {
    Ok(DirectoryAgent {
        zendesk_id: row.try_get("zendesk_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        group_ids: get_json(row, "group_ids")?,
        active: row.try_get("active")?,
    })
}

/// The group with this name, trimmed and case-folded.
pub(super) async fn group_by_name(
    pool: &PgPool,
    name: &str,
) -> Result<Option<DirectoryGroup>, StoreError> {
    let row = sqlx::query(
        "SELECT zendesk_id, name FROM directory_group WHERE name_normalized = $1
         ORDER BY zendesk_id LIMIT 1",
    )
    .bind(normalize_name(name))
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(group_from_row).transpose()
}

/// The group with this Zendesk id.
pub(super) async fn group_by_id(
    pool: &PgPool,
    zendesk_id: i64,
) -> Result<Option<DirectoryGroup>, StoreError> {
    let row = sqlx::query("SELECT zendesk_id, name FROM directory_group WHERE zendesk_id = $1")
        .bind(zendesk_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(group_from_row).transpose()
}

fn group_from_row(row: &PgRow) -> Result<DirectoryGroup, StoreError> {
    Ok(DirectoryGroup {
        zendesk_id: row.try_get("zendesk_id")?,
        name: row.try_get("name")?,
    })
}

/// The sync singleton.
pub(super) async fn status(pool: &PgPool) -> Result<DirectoryStatus, StoreError> {
    let row = sqlx::query(
        "SELECT last_synced_at, agent_count, group_count, last_error, last_error_at
         FROM directory_sync WHERE id = 1",
    )
    .fetch_optional(pool)
    .await?;
    let row = row.ok_or_else(|| StoreError::Corrupt("directory_sync row is missing".into()))?;
    Ok(DirectoryStatus {
        last_synced_at: row.try_get("last_synced_at")?,
        agent_count: get_u64(&row, "agent_count")?,
        group_count: get_u64(&row, "group_count")?,
        last_error: row.try_get("last_error")?,
        last_error_at: row.try_get("last_error_at")?,
    })
}

/// Counts one more call naming an unknown agent email; a call seen again (a retried job)
/// refreshes the row without counting twice.
pub(super) async fn record_mismatch(
    pool: &PgPool,
    email: &str,
    call_id: Option<&str>,
    source: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO agent_mismatch
             (email_normalized, email_as_sent, first_seen, last_seen, count, last_call_id, source)
         VALUES ($1, $2, $3, $3, 1, $4, $5)
         ON CONFLICT (email_normalized) DO UPDATE SET
             count = agent_mismatch.count + CASE
                 WHEN excluded.last_call_id IS NOT NULL
                      AND agent_mismatch.last_call_id = excluded.last_call_id THEN 0
                 ELSE 1 END,
             email_as_sent = excluded.email_as_sent,
             last_seen = GREATEST(agent_mismatch.last_seen, excluded.last_seen),
             last_call_id = excluded.last_call_id,
             source = excluded.source",
    )
    .bind(normalize_email(email))
    .bind(email)
    .bind(ts(now))
    .bind(call_id)
    .bind(source)
    .execute(pool)
    .await?;
    Ok(())
}

/// Unknown agent emails, most recently seen first.
pub(super) async fn list_mismatches(pool: &PgPool) -> Result<Vec<AgentMismatch>, StoreError> {
    let rows = sqlx::query(
        "SELECT email_normalized, email_as_sent, first_seen, last_seen, count, last_call_id,
                source
         FROM agent_mismatch ORDER BY last_seen DESC, email_normalized COLLATE \"C\"",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AgentMismatch {
                email_normalized: row.try_get("email_normalized")?,
                email_as_sent: row.try_get("email_as_sent")?,
                first_seen: row.try_get("first_seen")?,
                last_seen: row.try_get("last_seen")?,
                count: get_u64(row, "count")?,
                last_call_id: row.try_get("last_call_id")?,
                source: row.try_get("source")?,
            })
        })
        .collect()
}

/// Removes mismatches the current directory resolves.
pub(super) async fn clear_resolved_mismatches(pool: &PgPool) -> Result<u64, StoreError> {
    let done = sqlx::query(CLEAR_RESOLVED).execute(pool).await?;
    Ok(done.rows_affected())
}
