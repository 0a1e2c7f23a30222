-- Heartbeats, the leader lease and retention (SQLite's 0003_leases, in PostgreSQL's types).
--
-- A running job's worker renews `heartbeat_at` while the job runs; the rescuer takes over only
-- jobs whose heartbeat is older than the lease. Claims set it to the claim time.
ALTER TABLE job ADD COLUMN heartbeat_at TIMESTAMPTZ;
-- Jobs running when this migration is applied were claimed by a version without heartbeats:
-- their claim time is the last sign of life they gave.
UPDATE job SET heartbeat_at = attempted_at WHERE state = 'running';
CREATE INDEX job_heartbeat ON job (heartbeat_at) WHERE state = 'running';

-- Retention walks finished jobs oldest first; dead letters (discarded) are not in it.
CREATE INDEX job_prunable ON job (finalized_at, id) WHERE state IN ('completed', 'cancelled');

-- One row per kind of periodic work: the instance holding an unexpired row does it.
CREATE TABLE leader_lease (
    name       TEXT        PRIMARY KEY CHECK (name <> ''),
    holder     TEXT        NOT NULL CHECK (holder <> ''),
    expires_at TIMESTAMPTZ NOT NULL
);
