-- deskline's schema, PostgreSQL dialect: table for table the SQLite schema
-- (migrations/sqlite), with native types where SQLite has conventions.
--
-- Times are timestamptz (microseconds, like the SQLite encoding). Payloads that came from
-- outside (headers, normalized events, job args, contacts) are `json`, which keeps the text as
-- written and accepts every string JSON can carry; the columns the store appends to or reads
-- structurally (a job's error history, an agent's groups) are `jsonb`.
-- Identity ids are never reused after retention deletes rows, so "lower id = earlier" holds
-- as in SQLite; ids of one ordering key also follow commit order because ingest takes a
-- transaction-level advisory lock per ordering key before inserting.

CREATE TABLE inbound_event (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT        NOT NULL CHECK (source <> ''),
    kind        TEXT        NOT NULL CHECK (kind <> ''),
    dedupe_key  TEXT        NOT NULL CHECK (dedupe_key <> ''),
    received_at TIMESTAMPTZ NOT NULL,
    headers     JSON        NOT NULL DEFAULT '{}',
    raw_body    BYTEA       NOT NULL,
    normalized  JSON        NOT NULL DEFAULT 'null',
    UNIQUE (source, dedupe_key)
);
CREATE INDEX inbound_event_received ON inbound_event (received_at);

CREATE TABLE job (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT        NOT NULL CHECK (kind <> ''),
    queue         TEXT        NOT NULL CHECK (queue <> ''),
    args          JSON        NOT NULL DEFAULT '{}',
    state         TEXT        NOT NULL DEFAULT 'available' CHECK (state IN
                      ('available', 'running', 'retryable', 'completed', 'discarded', 'cancelled')),
    priority      INTEGER     NOT NULL DEFAULT 0,
    attempt       BIGINT      NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts  BIGINT      NOT NULL CHECK (max_attempts >= 1),
    scheduled_at  TIMESTAMPTZ NOT NULL,
    attempted_at  TIMESTAMPTZ,
    attempted_by  TEXT,
    errors        JSONB       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(errors) = 'array'),
    snoozes       BIGINT      NOT NULL DEFAULT 0,
    snooze_reason TEXT,
    -- NULLs are distinct, so only keyed jobs are deduplicated.
    unique_key    TEXT        UNIQUE,
    ordering_key  TEXT,
    event_id      BIGINT      REFERENCES inbound_event (id),
    created_at    TIMESTAMPTZ NOT NULL,
    finalized_at  TIMESTAMPTZ
);
CREATE INDEX job_claimable ON job (queue, priority, scheduled_at, id)
    WHERE state IN ('available', 'retryable');
CREATE INDEX job_ordering ON job (ordering_key, id) WHERE ordering_key IS NOT NULL;
CREATE INDEX job_running ON job (attempted_at) WHERE state = 'running';
CREATE INDEX job_state ON job (state, id);
CREATE INDEX job_event ON job (event_id) WHERE event_id IS NOT NULL;

CREATE TABLE attempt (
    id               BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id           BIGINT      NOT NULL REFERENCES job (id),
    attempt          BIGINT      NOT NULL CHECK (attempt >= 0),
    started_at       TIMESTAMPTZ NOT NULL,
    duration_ms      BIGINT      NOT NULL CHECK (duration_ms >= 0),
    outcome          TEXT        NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'snoozed', 'discarded')),
    http_status      BIGINT,
    request_summary  TEXT,
    response_summary TEXT
);
CREATE INDEX attempt_job ON attempt (job_id, id);

CREATE TABLE link (
    kind       TEXT        NOT NULL CHECK (kind <> ''),
    key        TEXT        NOT NULL,
    value      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE TABLE directory_agent (
    zendesk_id       BIGINT      PRIMARY KEY,
    -- trim + lowercase, computed by the store, as in SQLite.
    email_normalized TEXT        NOT NULL,
    email            TEXT        NOT NULL,
    name             TEXT        NOT NULL,
    phone            TEXT,
    group_ids        JSONB       NOT NULL DEFAULT '[]',
    active           BOOLEAN     NOT NULL DEFAULT TRUE,
    synced_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX directory_agent_email ON directory_agent (email_normalized);

CREATE TABLE directory_group (
    zendesk_id      BIGINT      PRIMARY KEY,
    name            TEXT        NOT NULL,
    name_normalized TEXT        NOT NULL,
    synced_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX directory_group_name ON directory_group (name_normalized);

CREATE TABLE directory_sync (
    id             INTEGER     PRIMARY KEY CHECK (id = 1),
    last_synced_at TIMESTAMPTZ,
    agent_count    BIGINT      NOT NULL DEFAULT 0,
    group_count    BIGINT      NOT NULL DEFAULT 0,
    last_error     TEXT,
    last_error_at  TIMESTAMPTZ
);
INSERT INTO directory_sync (id) VALUES (1);

CREATE TABLE agent_mismatch (
    email_normalized TEXT        PRIMARY KEY,
    email_as_sent    TEXT        NOT NULL,
    first_seen       TIMESTAMPTZ NOT NULL,
    last_seen        TIMESTAMPTZ NOT NULL,
    count            BIGINT      NOT NULL DEFAULT 1,
    last_call_id     TEXT,
    source           TEXT        NOT NULL
);

CREATE TABLE queue_pause (
    queue        TEXT        PRIMARY KEY,
    paused_until TIMESTAMPTZ NOT NULL,
    reason       TEXT        NOT NULL
);

CREATE TABLE conversation (
    id                  BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source              TEXT        NOT NULL CHECK (source <> ''),
    session_id          TEXT        NOT NULL CHECK (session_id <> ''),
    channel             TEXT        NOT NULL CHECK (channel <> ''),
    email               TEXT,
    phone               TEXT,
    contact_external_id TEXT,
    contact             JSON        NOT NULL DEFAULT '{}',
    ticket_id           BIGINT,
    state               TEXT        NOT NULL CHECK (state IN ('open', 'assigned', 'closed')),
    agent_id            BIGINT,
    last_customer_at    TIMESTAMPTZ,
    closed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (source, session_id)
);
CREATE INDEX conversation_ticket ON conversation (ticket_id);
CREATE INDEX conversation_email ON conversation (email);
CREATE INDEX conversation_phone ON conversation (phone);
