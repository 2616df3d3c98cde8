-- onboarding schema, version 1 (SQLite).
-- Times are INTEGER unix microseconds in UTC: they sort correctly and round-trip exactly.
-- JSON is stored as TEXT. STRICT tables reject values of the wrong type.

CREATE TABLE customers (
    id           TEXT    NOT NULL PRIMARY KEY,
    partner_id   TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    cpf          TEXT    NOT NULL,
    cnpj         TEXT    NOT NULL DEFAULT '',
    tax_key      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    email        TEXT    NOT NULL,
    phone        TEXT    NOT NULL,
    trading_name TEXT    NOT NULL DEFAULT '',
    legal_nature TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN ('pending_kyc', 'under_review', 'active', 'denied')),
    kyc          TEXT    NOT NULL DEFAULT 'null',
    version      INTEGER NOT NULL CHECK (version > 0),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CONSTRAINT customers_partner_id_key UNIQUE (partner_id, id),
    CONSTRAINT customers_external_id_key UNIQUE (partner_id, external_id),
    CONSTRAINT customers_tax_key_key UNIQUE (partner_id, tax_key)
) STRICT;

--bun:split

CREATE INDEX customers_updated_at_idx ON customers (partner_id, updated_at, id);

--bun:split

CREATE INDEX customers_cpf_idx ON customers (partner_id, cpf);

--bun:split

CREATE TABLE transitions (
    seq         INTEGER NOT NULL PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    partner_id  TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    from_status TEXT    NOT NULL DEFAULT '' CHECK (from_status IN ('', 'pending_kyc', 'under_review', 'active', 'denied')),
    to_status   TEXT    NOT NULL CHECK (to_status IN ('pending_kyc', 'under_review', 'active', 'denied')),
    actor       TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) STRICT;

--bun:split

CREATE INDEX transitions_customer_idx ON transitions (customer_id, seq);

--bun:split

CREATE TABLE documents (
    id               TEXT    NOT NULL PRIMARY KEY,
    partner_id       TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    requirement_id   TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected', 'superseded')),
    content_type     TEXT    NOT NULL,
    size             INTEGER NOT NULL CHECK (size >= 0),
    sha256           TEXT    NOT NULL,
    blob_key         TEXT    NOT NULL,
    filename         TEXT    NOT NULL DEFAULT '',
    rejection_reason TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CONSTRAINT documents_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
) STRICT;

--bun:split

CREATE INDEX documents_customer_idx ON documents (customer_id, id);

--bun:split

CREATE INDEX documents_blob_key_idx ON documents (blob_key);

--bun:split

CREATE TABLE credit_offers (
    id                    TEXT    NOT NULL PRIMARY KEY,
    partner_id            TEXT    NOT NULL,
    customer_id           TEXT    NOT NULL,
    external_id           TEXT    NOT NULL DEFAULT '',
    status                TEXT    NOT NULL CHECK (status IN ('available', 'accepted', 'expired')),
    approved_amount       INTEGER NOT NULL CHECK (approved_amount >= 0),
    min_amount            INTEGER NOT NULL CHECK (min_amount >= 0),
    monthly_interest_rate INTEGER NOT NULL CHECK (monthly_interest_rate >= 0),
    installments          INTEGER NOT NULL DEFAULT 0 CHECK (installments >= 0),
    min_installments      INTEGER NOT NULL DEFAULT 0 CHECK (min_installments >= 0),
    max_installments      INTEGER NOT NULL DEFAULT 0 CHECK (max_installments >= 0),
    due_date_rule         TEXT    NOT NULL DEFAULT '',
    valid_until           INTEGER NOT NULL,
    model                 TEXT    NOT NULL DEFAULT '',
    version               INTEGER NOT NULL CHECK (version > 0),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    CONSTRAINT credit_offers_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
) STRICT;

--bun:split

CREATE INDEX credit_offers_partner_idx ON credit_offers (partner_id, id);

--bun:split

CREATE INDEX credit_offers_customer_idx ON credit_offers (customer_id, id);

--bun:split

CREATE TABLE events (
    id          TEXT    NOT NULL PRIMARY KEY,
    partner_id  TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    customer_id TEXT    NOT NULL DEFAULT '',
    data        TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

--bun:split

CREATE INDEX events_partner_idx ON events (partner_id, id);

--bun:split

CREATE INDEX events_customer_idx ON events (customer_id, id);

--bun:split

CREATE TABLE jobs (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    partner_id   TEXT    NOT NULL DEFAULT '',
    customer_id  TEXT    NOT NULL DEFAULT '',
    args         TEXT,
    state        TEXT    NOT NULL CHECK (state IN ('available', 'running', 'completed', 'dead')),
    attempt      INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    locked_by    TEXT    NOT NULL DEFAULT '',
    locked_until INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
) STRICT;

--bun:split

-- Claiming scans only the live jobs, oldest run_at first.
CREATE INDEX jobs_claim_idx ON jobs (run_at, id) WHERE state IN ('available', 'running');

--bun:split

CREATE INDEX jobs_customer_idx ON jobs (customer_id, id);

--bun:split

CREATE TABLE idempotency_keys (
    partner_id      TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    completed       INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    response_status INTEGER NOT NULL DEFAULT 0,
    response_body   BLOB,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (partner_id, idempotency_key)
) STRICT, WITHOUT ROWID;

--bun:split

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
