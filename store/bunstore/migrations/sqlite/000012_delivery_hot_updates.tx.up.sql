-- The retention prune finds old deliveries by created_at (a delivery is delivered after it
-- is created), as on PostgreSQL, where no index may cover the columns an attempt changes.
DROP INDEX webhook_deliveries_delivered_idx;

--bun:split

CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);
