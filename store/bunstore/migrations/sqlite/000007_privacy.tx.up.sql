-- Personal-data lifecycle: the indexes the retention steps of the hourly prune and the
-- erasure's scrubs select by.
CREATE INDEX webhook_delivery_attempts_created_idx ON webhook_delivery_attempts (created_at);

--bun:split

CREATE INDEX webhook_deliveries_delivered_idx ON webhook_deliveries (delivered_at) WHERE status = 'delivered';

--bun:split

CREATE INDEX events_created_idx ON events (created_at);

--bun:split

CREATE INDEX customers_stale_idx ON customers (status, updated_at, id);

--bun:split

CREATE INDEX documents_retired_idx ON documents (id) WHERE status IN ('superseded', 'rejected');
