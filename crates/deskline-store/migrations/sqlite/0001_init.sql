-- deskline's schema, SQLite dialect. The Postgres schema mirrors it table for table.
--
-- Timestamps are TEXT in one fixed-width UTC format, YYYY-MM-DDTHH:MM:SS.ffffffZ, written only
-- by the store's encoder: fixed width makes text order equal time order, so `scheduled_at <= ?`
-- and the indexes work, and the rows stay readable in the sqlite3 shell.
-- JSON columns are TEXT checked with json_valid so a bad write fails loudly instead of
-- surfacing later as a decode error on the dashboard.
-- AUTOINCREMENT on event and job ids: ids are never reused after retention deletes rows, so an
-- id in a log line or a dashboard URL always means the same thing, and "lower id = earlier"
-- (which ordering keys rely on) holds.

-- One row per accepted provider / Zendesk delivery. Headers arrive already scrubbed of secrets.
CREATE TABLE inbound_event (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL CHECK (source <> ''),
    kind        TEXT    NOT NULL CHECK (kind <> ''),
    dedupe_key  TEXT    NOT NULL CHECK (dedupe_key <> ''),
    received_at TEXT    NOT NULL,
    headers     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(headers)),
    raw_body    BLOB    NOT NULL,
    normalized  TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(normalized)),
    -- Redelivery of the same provider event is recognised here, race-free.
    UNIQUE (source, dedupe_key)
);
CREATE INDEX inbound_event_received ON inbound_event (received_at);

CREATE TABLE job (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL CHECK (kind <> ''),
    queue        TEXT    NOT NULL CHECK (queue <> ''),
    args         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(args)),
    state        TEXT    NOT NULL DEFAULT 'available' CHECK (state IN
                     ('available', 'running', 'retryable', 'completed', 'discarded', 'cancelled')),
    -- Lower runs first.
    priority     INTEGER NOT NULL DEFAULT 0,
    -- Attempts spent; claim increments it, snooze gives it back.
    attempt      INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    scheduled_at TEXT    NOT NULL,
    attempted_at TEXT,
    attempted_by TEXT,
    -- JSON array of {at, attempt, error}, oldest first; kept on retry_now as the audit trail.
    errors       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(errors)),
    snoozes      INTEGER NOT NULL DEFAULT 0,
    snooze_reason TEXT,
    -- River's unique jobs: NULLs are distinct, so only keyed jobs are deduplicated.
    unique_key   TEXT    UNIQUE,
    -- Jobs sharing a key run one at a time, in id order.
    ordering_key TEXT,
    event_id     INTEGER REFERENCES inbound_event (id),
    created_at   TEXT    NOT NULL,
    finalized_at TEXT
);
-- The claim query's scan: only claimable rows are in it, already in claim order.
CREATE INDEX job_claimable ON job (queue, priority, scheduled_at, id)
    WHERE state IN ('available', 'retryable');
CREATE INDEX job_ordering ON job (ordering_key, id) WHERE ordering_key IS NOT NULL;
CREATE INDEX job_running ON job (attempted_at) WHERE state = 'running';
CREATE INDEX job_state ON job (state, id);
CREATE INDEX job_event ON job (event_id) WHERE event_id IS NOT NULL;

-- What one execution of a job did, for the dashboard and audits. Summaries are scrubbed by the
-- caller.
CREATE TABLE attempt (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           INTEGER NOT NULL REFERENCES job (id),
    attempt          INTEGER NOT NULL CHECK (attempt >= 0),
    started_at       TEXT    NOT NULL,
    duration_ms      INTEGER NOT NULL CHECK (duration_ms >= 0),
    outcome          TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'snoozed', 'discarded')),
    http_status      INTEGER,
    request_summary  TEXT,
    response_summary TEXT
);
CREATE INDEX attempt_job ON attempt (job_id, id);

-- What belongs together: provider call id -> ticket id, phone -> Zendesk user id, ...
CREATE TABLE link (
    kind       TEXT NOT NULL CHECK (kind <> ''),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);

-- The Zendesk agent directory, replaced whole by each sync.
CREATE TABLE directory_agent (
    zendesk_id       INTEGER PRIMARY KEY,
    -- trim + lowercase, computed by the store (SQLite's lower() folds ASCII only).
    email_normalized TEXT    NOT NULL,
    email            TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    phone            TEXT,
    group_ids        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(group_ids)),
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    synced_at        TEXT    NOT NULL
);
-- Not unique: one odd duplicate in Zendesk must not fail the whole sync.
CREATE INDEX directory_agent_email ON directory_agent (email_normalized);

CREATE TABLE directory_group (
    zendesk_id      INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    name_normalized TEXT NOT NULL,
    synced_at       TEXT NOT NULL
);
CREATE INDEX directory_group_name ON directory_group (name_normalized);

-- Singleton: how fresh the directory is and why the last sync failed, if it did.
CREATE TABLE directory_sync (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_synced_at TEXT,
    agent_count    INTEGER NOT NULL DEFAULT 0,
    group_count    INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    last_error_at  TEXT
);
INSERT INTO directory_sync (id) VALUES (1);

-- Emails a provider named as the answering agent that the directory does not know.
CREATE TABLE agent_mismatch (
    email_normalized TEXT    PRIMARY KEY,
    email_as_sent    TEXT    NOT NULL,
    first_seen       TEXT    NOT NULL,
    last_seen        TEXT    NOT NULL,
    count            INTEGER NOT NULL DEFAULT 1,
    last_call_id     TEXT,
    source           TEXT    NOT NULL
);

-- Written on a 429 so every worker of every instance backs off, not just the one that saw it.
CREATE TABLE queue_pause (
    queue        TEXT PRIMARY KEY,
    paused_until TEXT NOT NULL,
    reason       TEXT NOT NULL
);
