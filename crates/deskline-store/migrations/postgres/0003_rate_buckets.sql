-- The request budget of an outside API (SQLite's 0005_rate_buckets, in PostgreSQL's types): one
-- row per bucket holds its GCRA state, the theoretical arrival time of the next request in
-- microseconds since the Unix epoch, so taking a slot is one upsert under the row lock.
CREATE TABLE rate_bucket (
    name   TEXT   PRIMARY KEY CHECK (name <> ''),
    tat_us BIGINT NOT NULL
);
