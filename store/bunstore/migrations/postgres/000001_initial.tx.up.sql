-- onboarding schema, version 1 (PostgreSQL).
-- Identifiers use the "C" collation: byte order, so ID order is creation order whatever the
-- database's locale. Times are TIMESTAMPTZ (microseconds). Money and rates are exact
-- BIGINTs (centavos; 0.0001 percentage points). Payloads are json, which keeps their bytes.

CREATE TABLE customers (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id   TEXT COLLATE "C" NOT NULL,
    external_id  TEXT COLLATE "C" NOT NULL,
    cpf          TEXT COLLATE "C" NOT NULL,
    cnpj         TEXT COLLATE "C" NOT NULL DEFAULT '',
    tax_key      TEXT COLLATE "C" NOT NULL,
    name         TEXT        NOT NULL,
    email        TEXT        NOT NULL,
    phone        TEXT        NOT NULL,
    trading_name TEXT        NOT NULL DEFAULT '',
    legal_nature TEXT        NOT NULL DEFAULT '',
    status       TEXT        NOT NULL CHECK (status IN ('pending_kyc', 'under_review', 'active', 'denied')),
    kyc          json        NOT NULL DEFAULT 'null',
    version      BIGINT      NOT NULL CHECK (version > 0),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT customers_partner_id_key UNIQUE (partner_id, id),
    CONSTRAINT customers_external_id_key UNIQUE (partner_id, external_id),
    CONSTRAINT customers_tax_key_key UNIQUE (partner_id, tax_key)
);

CREATE INDEX customers_updated_at_idx ON customers (partner_id, updated_at, id);

CREATE INDEX customers_cpf_idx ON customers (partner_id, cpf);

CREATE TABLE transitions (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    partner_id  TEXT COLLATE "C" NOT NULL,
    customer_id TEXT COLLATE "C" NOT NULL,
    event       TEXT        NOT NULL,
    from_status TEXT        NOT NULL DEFAULT '' CHECK (from_status IN ('', 'pending_kyc', 'under_review', 'active', 'denied')),
    to_status   TEXT        NOT NULL CHECK (to_status IN ('pending_kyc', 'under_review', 'active', 'denied')),
    actor       TEXT        NOT NULL DEFAULT '',
    reason      TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX transitions_customer_idx ON transitions (customer_id, seq);

CREATE TABLE documents (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id       TEXT COLLATE "C" NOT NULL,
    customer_id      TEXT COLLATE "C" NOT NULL,
    requirement_id   TEXT COLLATE "C" NOT NULL,
    type             TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected', 'superseded')),
    content_type     TEXT        NOT NULL,
    size             BIGINT      NOT NULL CHECK (size >= 0),
    sha256           TEXT COLLATE "C" NOT NULL,
    blob_key         TEXT COLLATE "C" NOT NULL,
    filename         TEXT        NOT NULL DEFAULT '',
    rejection_reason TEXT        NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT documents_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
);

CREATE INDEX documents_customer_idx ON documents (customer_id, id);

CREATE INDEX documents_blob_key_idx ON documents (blob_key);

CREATE TABLE credit_offers (
    id                    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id            TEXT COLLATE "C" NOT NULL,
    customer_id           TEXT COLLATE "C" NOT NULL,
    external_id           TEXT COLLATE "C" NOT NULL DEFAULT '',
    status                TEXT        NOT NULL CHECK (status IN ('available', 'accepted', 'expired')),
    approved_amount       BIGINT      NOT NULL CHECK (approved_amount >= 0),
    min_amount            BIGINT      NOT NULL CHECK (min_amount >= 0),
    monthly_interest_rate BIGINT      NOT NULL CHECK (monthly_interest_rate >= 0),
    installments          INTEGER     NOT NULL DEFAULT 0 CHECK (installments >= 0),
    min_installments      INTEGER     NOT NULL DEFAULT 0 CHECK (min_installments >= 0),
    max_installments      INTEGER     NOT NULL DEFAULT 0 CHECK (max_installments >= 0),
    due_date_rule         TEXT        NOT NULL DEFAULT '',
    valid_until           TIMESTAMPTZ NOT NULL,
    model                 TEXT        NOT NULL DEFAULT '',
    version               BIGINT      NOT NULL CHECK (version > 0),
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    CONSTRAINT credit_offers_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
);

CREATE INDEX credit_offers_partner_idx ON credit_offers (partner_id, id);

CREATE INDEX credit_offers_customer_idx ON credit_offers (customer_id, id);

CREATE TABLE events (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id  TEXT COLLATE "C" NOT NULL,
    type        TEXT        NOT NULL,
    customer_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    data        json,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX events_partner_idx ON events (partner_id, id);

CREATE INDEX events_customer_idx ON events (customer_id, id);

CREATE TABLE jobs (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind         TEXT COLLATE "C" NOT NULL,
    partner_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
    customer_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    args         json,
    state        TEXT        NOT NULL CHECK (state IN ('available', 'running', 'completed', 'dead')),
    attempt      INTEGER     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts INTEGER     NOT NULL DEFAULT 0,
    run_at       TIMESTAMPTZ NOT NULL,
    locked_by    TEXT        NOT NULL DEFAULT '',
    locked_until TIMESTAMPTZ,
    last_error   TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);

-- Claiming scans only the live jobs, oldest run_at first.
CREATE INDEX jobs_claim_idx ON jobs (run_at, id) WHERE state IN ('available', 'running');

CREATE INDEX jobs_customer_idx ON jobs (customer_id, id);

CREATE TABLE idempotency_keys (
    partner_id      TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL,
    request_hash    TEXT COLLATE "C" NOT NULL,
    completed       BOOLEAN     NOT NULL DEFAULT FALSE,
    response_status INTEGER     NOT NULL DEFAULT 0,
    response_body   BYTEA,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (partner_id, idempotency_key)
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
