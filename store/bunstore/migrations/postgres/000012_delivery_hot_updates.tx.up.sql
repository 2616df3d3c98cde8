-- A delivery's row is rewritten at every attempt (status, attempts, last error,
-- delivered_at, ...). With no index on the columns an attempt changes, PostgreSQL updates
-- the row within its page without writing any index entry (a heap-only tuple), and the
-- fillfactor keeps room in each page for that. The retention prune finds old deliveries
-- by created_at (a delivery is delivered after it is created), and the back office's list
-- by status walks the primary key, newest first.
DROP INDEX webhook_deliveries_status_idx;

DROP INDEX webhook_deliveries_delivered_idx;

CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);

ALTER TABLE webhook_deliveries SET (fillfactor = 70);

-- Each claim and each end of a job writes an entry in every index of jobs: this one is
-- redundant, counts and lists by state read jobs_claim_idx (live jobs) and jobs_dead_idx.
DROP INDEX jobs_state_kind_idx;
