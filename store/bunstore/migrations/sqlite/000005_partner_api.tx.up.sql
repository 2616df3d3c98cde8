-- onboarding schema, version 5 (SQLite): the partner API of the official SDK.
-- Webhook endpoints remember their wire format; bank accounts (history kept), API
-- credentials, loan simulations and biometrics session codes.

-- An empty format is the guide's (endpoints created before formats existed).
ALTER TABLE webhook_endpoints ADD COLUMN format TEXT NOT NULL DEFAULT '' CHECK (format IN ('', 'guide', 'sdk'));

--bun:split

-- One row per account ever set; the newest (highest id) is the customer's current one.
CREATE TABLE bank_accounts (
    id          TEXT    NOT NULL PRIMARY KEY,
    partner_id  TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    bank_id     TEXT    NOT NULL,
    bank_name   TEXT    NOT NULL,
    branch      TEXT    NOT NULL,
    number      TEXT    NOT NULL,
    digit       TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('checking', 'saving', 'payment')),
    created_at  INTEGER NOT NULL,
    CONSTRAINT bank_accounts_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
) STRICT;

--bun:split

CREATE INDEX bank_accounts_customer_idx ON bank_accounts (customer_id, id);

--bun:split

-- The secret is stored as its SHA-256 only.
CREATE TABLE credentials (
    id           TEXT    NOT NULL PRIMARY KEY,
    partner_id   TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL,
    scopes       TEXT    NOT NULL DEFAULT '[]',
    status       TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

--bun:split

CREATE INDEX credentials_partner_idx ON credentials (partner_id, id);

--bun:split

CREATE TABLE simulations (
    id              TEXT    NOT NULL PRIMARY KEY,
    partner_id      TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL,
    credit_offer_id TEXT    NOT NULL,
    terms           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    CONSTRAINT simulations_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
) STRICT;

--bun:split

CREATE INDEX simulations_offer_idx ON simulations (credit_offer_id, id);

--bun:split

-- hash is the hex SHA-256 of the one-time code.
CREATE TABLE biometrics_codes (
    hash        TEXT    NOT NULL PRIMARY KEY,
    partner_id  TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;

--bun:split

CREATE INDEX biometrics_codes_expires_at_idx ON biometrics_codes (expires_at);
