-- The request budget of an outside API (Zendesk counts requests per account), shared by every
-- instance on this database: one row per bucket holds its GCRA state, the theoretical arrival
-- time of the next request in microseconds since the Unix epoch. An integer rather than a
-- timestamp so taking a slot is one upsert whose arithmetic is the same in every backend.
CREATE TABLE rate_bucket (
    name   TEXT    PRIMARY KEY CHECK (name <> ''),
    tat_us INTEGER NOT NULL
);
