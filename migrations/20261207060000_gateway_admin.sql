-- The admin API (/admin/v1): providers get an on/off switch and say where their key lives
-- (`vault`: sealed in secret_enc; `env`: read from the variable api_key_env names; `config`:
-- read from the config file at each load, never stored; `none`);
-- routing defaults are a stored setting; every admin mutation leaves an audit row.
ALTER TABLE gateway_providers ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE gateway_providers ADD COLUMN cred_store TEXT NOT NULL DEFAULT 'vault'
    CHECK (cred_store IN ('vault', 'env', 'config', 'none'));
-- The config file's keys are read from the file from now on: drop the stored copies.
UPDATE gateway_providers SET cred_store = 'config', secret_enc = NULL WHERE source = 'config';
ALTER TABLE gateway_providers ADD COLUMN api_key_env TEXT;

CREATE TABLE gateway_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Who changed what, with the object before and after (views: secrets never appear).
CREATE TABLE admin_audit (
    id         TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    before     TEXT,
    after      TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX admin_audit_created ON admin_audit(created_at, id);

-- API keys managed from /admin/v1/apikeys: an expiry (the key stops working then), a
-- rotation period (rotation_due_at is shown), an on/off switch and when it was last rotated.
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN rotation_days INTEGER;
ALTER TABLE api_keys ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN rotated_at TEXT;

-- The `thompson` routing mode: a Beta posterior per model and input-size bucket, and a reward
-- row per routed request with the probability the chosen model had (offline evaluation).
CREATE TABLE gateway_posteriors (
    model      TEXT NOT NULL,
    bucket     TEXT NOT NULL,
    alpha      REAL NOT NULL,
    beta       REAL NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (model, bucket)
);

CREATE TABLE gateway_rewards (
    id          TEXT PRIMARY KEY,
    model       TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    probability REAL NOT NULL,
    reward      REAL NOT NULL,
    success     INTEGER NOT NULL,
    latency_ms  REAL NOT NULL,
    cost_usd    REAL NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX gateway_rewards_created ON gateway_rewards(created_at, id);

-- The admin's time series (/admin/v1/tsdb): per metric and model, one row per minute (raw)
-- or per hour (rolled up once raw points age past the raw window), written with the usage
-- rows they come from.
CREATE TABLE tsdb_points (
    metric        TEXT NOT NULL,
    model         TEXT NOT NULL,
    resolution_ms INTEGER NOT NULL,
    ts            INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    sum           REAL NOT NULL,
    min           REAL NOT NULL,
    max           REAL NOT NULL,
    PRIMARY KEY (metric, model, resolution_ms, ts)
);
CREATE INDEX tsdb_points_time ON tsdb_points(ts);
