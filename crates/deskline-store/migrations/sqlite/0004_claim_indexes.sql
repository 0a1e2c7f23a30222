-- The claim's ordering-key check looks for an earlier job of the same key that is not
-- finished. With only the (ordering_key, id) index it walked every finished job of the key
-- too (a ticket with years of comments has thousands), under the write lock. This index holds
-- only unfinished jobs, so the check reads the few that matter; its WHERE is the claim's
-- condition word for word, which is what lets SQLite use a partial index.
CREATE INDEX job_ordering_open ON job (ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled');
