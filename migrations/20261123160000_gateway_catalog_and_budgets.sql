-- Providers and models live in SQL (config seeds the rows marked source = 'config'); local
-- endpoints belong to an account (optionally one workspace) and add their discovered models.
-- Secrets (provider API keys, endpoint headers) are stored AES-256-GCM encrypted.
CREATE TABLE gateway_providers (
    name         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('openai', 'openai_compatible', 'anthropic')),
    base_url     TEXT NOT NULL,
    secret_enc   TEXT,
    timeout_secs INTEGER NOT NULL,
    source       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE gateway_models (
    name          TEXT PRIMARY KEY,
    provider      TEXT NOT NULL REFERENCES gateway_providers(name) ON DELETE CASCADE,
    upstream      TEXT NOT NULL,
    weight        INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 10),
    context_window INTEGER NOT NULL,
    input_per_1k  REAL NOT NULL,
    output_per_1k REAL NOT NULL,
    aliases       TEXT NOT NULL,
    capabilities  TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    source        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE local_endpoints (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    workspace_id  TEXT REFERENCES workspaces(id),
    url           TEXT NOT NULL,
    label         TEXT NOT NULL,
    default_model TEXT,
    headers_enc   TEXT,
    header_names  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('healthy', 'unreachable')),
    models        TEXT NOT NULL,
    last_error    TEXT,
    checked_at    TEXT,
    enabled       INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX local_endpoints_account ON local_endpoints(account_id, created_at);

-- Monthly spend per workspace or API key. Reservations of requests in flight are held in
-- memory (they end with the process), so only settled spend is stored.
ALTER TABLE api_keys ADD COLUMN monthly_budget_usd REAL;

CREATE TABLE budget_spend (
    scope     TEXT NOT NULL CHECK (scope IN ('workspace', 'key')),
    scope_id  TEXT NOT NULL,
    month     TEXT NOT NULL,
    spent_usd REAL NOT NULL,
    PRIMARY KEY (scope, scope_id, month)
);
INSERT INTO budget_spend (scope, scope_id, month, spent_usd)
    SELECT 'workspace', workspace_id, month, spent_usd FROM budget_holds;
DROP TABLE budget_holds;
UPDATE balances SET reserved_usd = 0;
