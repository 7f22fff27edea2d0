-- Accounts own everything; users log in to an account; workspaces partition an account's data;
-- API keys are runtime credentials bound to an account and optionally one workspace.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created_at    TEXT NOT NULL
);
CREATE INDEX users_account ON users(account_id);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

CREATE TABLE workspaces (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    workspace_id        TEXT NOT NULL,
    name                TEXT NOT NULL,
    status              TEXT NOT NULL,
    metadata            TEXT NOT NULL DEFAULT '{}',
    monthly_budget_usd  REAL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (account_id, workspace_id)
);

CREATE TABLE api_keys (
    id                     TEXT PRIMARY KEY,
    account_id             TEXT NOT NULL REFERENCES accounts(id),
    workspace_id           TEXT REFERENCES workspaces(id),
    name                   TEXT NOT NULL,
    prefix                 TEXT NOT NULL,
    key_hash               TEXT NOT NULL UNIQUE,
    metadata               TEXT NOT NULL DEFAULT '{}',
    rate_limit_per_minute  INTEGER,
    last_used_at           TEXT,
    created_at             TEXT NOT NULL,
    revoked_at             TEXT
);
CREATE INDEX api_keys_account ON api_keys(account_id);
