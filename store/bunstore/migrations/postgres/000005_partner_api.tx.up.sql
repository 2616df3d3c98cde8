-- onboarding schema, version 5 (PostgreSQL): the partner API of the official SDK.
-- Webhook endpoints remember their wire format; bank accounts (history kept), API
-- credentials, loan simulations and biometrics session codes.

-- An empty format is the guide's (endpoints created before formats existed).
ALTER TABLE webhook_endpoints ADD COLUMN format TEXT NOT NULL DEFAULT '' CHECK (format IN ('', 'guide', 'sdk'));

-- One row per account ever set; the newest (highest id) is the customer's current one.
CREATE TABLE bank_accounts (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id  TEXT COLLATE "C" NOT NULL,
    customer_id TEXT COLLATE "C" NOT NULL,
    bank_id     TEXT        NOT NULL,
    bank_name   TEXT        NOT NULL,
    branch      TEXT        NOT NULL,
    number      TEXT        NOT NULL,
    digit       TEXT        NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('checking', 'saving', 'payment')),
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT bank_accounts_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
);

CREATE INDEX bank_accounts_customer_idx ON bank_accounts (customer_id, id);

-- The secret is stored as its SHA-256 only.
CREATE TABLE credentials (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id   TEXT COLLATE "C" NOT NULL,
    name         TEXT        NOT NULL,
    secret_hash  TEXT        NOT NULL,
    scopes       json        NOT NULL DEFAULT '[]',
    status       TEXT        NOT NULL CHECK (status IN ('active', 'revoked')),
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX credentials_partner_idx ON credentials (partner_id, id);

CREATE TABLE simulations (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id      TEXT COLLATE "C" NOT NULL,
    customer_id     TEXT COLLATE "C" NOT NULL,
    credit_offer_id TEXT COLLATE "C" NOT NULL,
    terms           json        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT simulations_customer_fkey FOREIGN KEY (partner_id, customer_id) REFERENCES customers (partner_id, id)
);

CREATE INDEX simulations_offer_idx ON simulations (credit_offer_id, id);

-- hash is the hex SHA-256 of the one-time code.
CREATE TABLE biometrics_codes (
    hash        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    partner_id  TEXT COLLATE "C" NOT NULL,
    customer_id TEXT COLLATE "C" NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);

CREATE INDEX biometrics_codes_expires_at_idx ON biometrics_codes (expires_at);
