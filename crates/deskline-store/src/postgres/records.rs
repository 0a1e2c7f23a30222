//! Links (what belongs together) and conversations (AI, chat and phone sessions and their
//! tickets).

use chrono::{DateTime, Utc};
use deskline_core::conversation::{ConversationState, ConversationStatus};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::codec::{get_json, get_opt_u64, to_i64, ts};
use crate::error::StoreError;
use crate::types::{ContactKeys, Conversation, Link};

/// Creates or overwrites a link; `created_at` keeps the first write's time.
pub(super) async fn put_link(
    pool: &PgPool,
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
    pool: &PgPool,
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
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    })
    .transpose()
}

/// Removes a link; true if it existed.
pub(super) async fn delete_link(pool: &PgPool, kind: &str, key: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM link WHERE kind = $1 AND key = $2")
        .bind(kind)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

const COLUMNS: &str = "source, session_id, channel, email, phone, contact_external_id, contact, \
     ticket_id, state, agent_id, last_customer_at, closed_at, created_at, updated_at";

fn conversation_from_row(row: &PgRow) -> Result<Conversation, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(Conversation {
        source: row.try_get("source")?,
        session_id: row.try_get("session_id")?,
        channel: row.try_get("channel")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        contact_external_id: row.try_get("contact_external_id")?,
        contact: get_json(row, "contact")?,
        ticket_id: get_opt_u64(row, "ticket_id")?,
        status: ConversationStatus {
            state: ConversationState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("bad conversation state {state:?}")))?,
            last_customer_at: row.try_get("last_customer_at")?,
            closed_at: row.try_get("closed_at")?,
            agent_id: get_opt_u64(row, "agent_id")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Creates or overwrites the conversation (by source and session id); `created_at` keeps the
/// first write's value and `updated_at` becomes `now`.
pub(super) async fn save_conversation(
    pool: &PgPool,
    c: &Conversation,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO conversation (source, session_id, channel, email, phone, contact_external_id,
             contact, ticket_id, state, agent_id, last_customer_at, closed_at, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10, $11, $12, $13, $13)
         ON CONFLICT (source, session_id) DO UPDATE SET
             channel = excluded.channel, email = excluded.email, phone = excluded.phone,
             contact_external_id = excluded.contact_external_id, contact = excluded.contact,
             ticket_id = excluded.ticket_id, state = excluded.state,
             agent_id = excluded.agent_id, last_customer_at = excluded.last_customer_at,
             closed_at = excluded.closed_at, updated_at = excluded.updated_at",
    )
    .bind(&c.source)
    .bind(&c.session_id)
    .bind(&c.channel)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.contact_external_id)
    .bind(c.contact.to_string())
    .bind(c.ticket_id.map(to_i64))
    .bind(c.status.state.as_str())
    .bind(c.status.agent_id.map(to_i64))
    .bind(c.status.last_customer_at.map(ts))
    .bind(c.status.closed_at.map(ts))
    .bind(ts(now))
    .execute(pool)
    .await?;
    Ok(())
}

/// One conversation.
pub(super) async fn get_conversation(
    pool: &PgPool,
    source: &str,
    session_id: &str,
) -> Result<Option<Conversation>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM conversation WHERE source = $1 AND session_id = $2");
    let row = sqlx::query(&sql)
        .bind(source)
        .bind(session_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// The conversations on a ticket, most recently changed first.
pub(super) async fn conversations_for_ticket(
    pool: &PgPool,
    ticket_id: u64,
) -> Result<Vec<Conversation>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM conversation WHERE ticket_id = $1 ORDER BY updated_at DESC, id DESC"
    );
    let rows = sqlx::query(&sql)
        .bind(to_i64(ticket_id))
        .fetch_all(pool)
        .await?;
    rows.iter().map(conversation_from_row).collect()
}

/// The most recently changed conversation with a ticket whose contact matches any of `keys`
/// (the external id only within `source`).
pub(super) async fn latest_with_ticket_for_contact(
    pool: &PgPool,
    source: &str,
    keys: &ContactKeys,
) -> Result<Option<Conversation>, StoreError> {
    if keys.email.is_none() && keys.phone.is_none() && keys.external_id.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM conversation
         WHERE ticket_id IS NOT NULL
           AND (($1::text IS NOT NULL AND email = $1) OR ($2::text IS NOT NULL AND phone = $2)
                OR ($3::text IS NOT NULL AND source = $4 AND contact_external_id = $3))
         ORDER BY updated_at DESC, id DESC LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(&keys.email)
        .bind(&keys.phone)
        .bind(&keys.external_id)
        .bind(source)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// The newest phone conversation with exactly this E.164 number that has no ticket yet and is
/// not closed.
pub(super) async fn open_phone_session(
    pool: &PgPool,
    e164: &str,
) -> Result<Option<Conversation>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM conversation
         WHERE phone = $1 AND channel = 'phone' AND ticket_id IS NULL AND state <> 'closed'
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let row = sqlx::query(&sql).bind(e164).fetch_optional(pool).await?;
    row.as_ref().map(conversation_from_row).transpose()
}
