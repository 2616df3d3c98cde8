-- onboarding schema, version 2 (PostgreSQL): webhook endpoints, deliveries and their log.

CREATE TABLE webhook_endpoints (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id  TEXT COLLATE "C" NOT NULL,
    url         TEXT        NOT NULL,
    events      json        NOT NULL DEFAULT 'null',
    description TEXT        NOT NULL DEFAULT '',
    status      TEXT        NOT NULL CHECK (status IN ('active', 'disabled')),
    secrets     json        NOT NULL DEFAULT 'null',
    version     BIGINT      NOT NULL CHECK (version > 0),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_endpoints_partner_idx ON webhook_endpoints (partner_id, id);

-- endpoint_id has no foreign key: deleting an endpoint keeps its deliveries and their log.
CREATE TABLE webhook_deliveries (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id       TEXT COLLATE "C" NOT NULL,
    endpoint_id      TEXT COLLATE "C" NOT NULL,
    event_id         TEXT COLLATE "C" NOT NULL REFERENCES events (id),
    event_type       TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
    attempts         INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status_code INTEGER     NOT NULL DEFAULT 0,
    last_error       TEXT        NOT NULL DEFAULT '',
    next_attempt_at  TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT webhook_deliveries_partner_id_key UNIQUE (partner_id, id)
);

CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);

CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

CREATE TABLE webhook_delivery_attempts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    partner_id  TEXT COLLATE "C" NOT NULL,
    delivery_id TEXT COLLATE "C" NOT NULL,
    attempt     INTEGER     NOT NULL,
    status_code INTEGER     NOT NULL DEFAULT 0,
    latency_ns  BIGINT      NOT NULL DEFAULT 0,
    error       TEXT        NOT NULL DEFAULT '',
    response    TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT webhook_delivery_attempts_delivery_fkey FOREIGN KEY (partner_id, delivery_id) REFERENCES webhook_deliveries (partner_id, id)
);

CREATE INDEX webhook_delivery_attempts_delivery_idx ON webhook_delivery_attempts (delivery_id, seq);
