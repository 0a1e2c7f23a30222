-- Conversations handed over from AI agents, chat widgets and AI phone agents, and their tickets.
-- One row per (source, session_id). The contact's identities have their own columns so "the
-- same contact's latest ticket" and "the open phone session for this number" are index
-- lookups; everything else known about the contact is the JSON column.
CREATE TABLE conversation (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    source              TEXT    NOT NULL CHECK (source <> ''),
    session_id          TEXT    NOT NULL CHECK (session_id <> ''),
    channel             TEXT    NOT NULL CHECK (channel <> ''),
    email               TEXT,
    phone               TEXT,
    contact_external_id TEXT,
    contact             TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(contact)),
    ticket_id           INTEGER,
    state               TEXT    NOT NULL CHECK (state IN ('open', 'assigned', 'closed')),
    agent_id            INTEGER,
    last_customer_at    TEXT,
    closed_at           TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    UNIQUE (source, session_id)
);
CREATE INDEX conversation_ticket ON conversation (ticket_id);
CREATE INDEX conversation_email ON conversation (email);
CREATE INDEX conversation_phone ON conversation (phone);
