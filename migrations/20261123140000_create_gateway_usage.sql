-- One row per gateway request (the seed's UsageRow), written when the answer is complete.
CREATE TABLE gateway_usage (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    api_key_id       TEXT,
    workspace_id     TEXT,
    metadata         TEXT NOT NULL,
    tier             TEXT NOT NULL,
    model            TEXT NOT NULL,
    provider         TEXT NOT NULL,
    upstream_model   TEXT NOT NULL,
    routing_method   TEXT NOT NULL,
    execution_source TEXT NOT NULL,
    billing_mode     TEXT NOT NULL,
    request_type     TEXT NOT NULL,
    input_tokens     INTEGER NOT NULL,
    output_tokens    INTEGER NOT NULL,
    actual_cost_usd  REAL NOT NULL,
    charged_usd      REAL NOT NULL,
    baseline_usd     REAL NOT NULL,
    latency_ms       REAL,
    created_at       TEXT NOT NULL
);
CREATE INDEX gateway_usage_account ON gateway_usage(account_id, created_at);
