-- Customer provider keys (seed 004 "Provider keys / BYOK"): an account's own key for a
-- provider, optionally for one workspace. The key is sealed like every other secret
-- (`secret_enc`, see gateway::sealed) and only its prefix is ever shown.
CREATE TABLE provider_keys (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    workspace_id      TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    provider          TEXT NOT NULL,
    label             TEXT NOT NULL,
    secret_enc        TEXT NOT NULL,
    prefix            TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'active',
    last_success_at   TEXT,
    last_failure_at   TEXT,
    last_failure_code TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX provider_keys_account ON provider_keys(account_id, created_at);

-- Thompson rewards come from routing (each attempt) or from feedback on a routed reply's trace.
ALTER TABLE gateway_rewards ADD COLUMN source TEXT NOT NULL DEFAULT 'route'
    CHECK (source IN ('route', 'feedback'));
