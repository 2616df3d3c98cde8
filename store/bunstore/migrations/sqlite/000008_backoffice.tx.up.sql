-- onboarding schema, version 8 (SQLite): the back office's cross-partner reads and its
-- audit log.

-- The queue: customers by status, least recently changed first, across partners.
CREATE INDEX customers_queue_idx ON customers (status, updated_at, id);

--bun:split

-- Searches by external ID, CPF or CNPJ across partners (the unique keys lead with the
-- partner).
CREATE INDEX customers_external_id_idx ON customers (external_id);

--bun:split

CREATE INDEX customers_cpf_any_idx ON customers (cpf);

--bun:split

CREATE INDEX customers_cnpj_idx ON customers (cnpj) WHERE cnpj <> '';

--bun:split

-- Dead deliveries and disabled endpoints across partners.
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (status, id);

--bun:split

CREATE INDEX webhook_endpoints_status_idx ON webhook_endpoints (status, id);

--bun:split

-- Every operator action: logins, decisions, denials, replays, recoveries.
CREATE TABLE audit_log (
    id          TEXT    NOT NULL PRIMARY KEY,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    partner_id  TEXT    NOT NULL DEFAULT '',
    customer_id TEXT    NOT NULL DEFAULT '',
    target      TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) STRICT;

--bun:split

CREATE INDEX audit_log_customer_idx ON audit_log (customer_id, id) WHERE customer_id <> '';

--bun:split

-- Queue depth per kind and state: the jobs not completed.
CREATE INDEX jobs_state_kind_idx ON jobs (state, kind) WHERE state <> 'completed';
