-- Prepaid balance per account, with the amounts reserved by requests in flight, and the
-- ledger of every credit and charge; workspace budgets per month with their reservations.
CREATE TABLE balances (
    account_id   TEXT PRIMARY KEY,
    balance_usd  REAL NOT NULL,
    reserved_usd REAL NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE ledger (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('credit', 'charge')),
    amount_usd  REAL NOT NULL,
    usage_id    TEXT,
    note        TEXT,
    actor       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX ledger_account ON ledger(account_id, created_at);

CREATE TABLE budget_holds (
    workspace_id TEXT NOT NULL,
    month        TEXT NOT NULL,
    spent_usd    REAL NOT NULL,
    reserved_usd REAL NOT NULL,
    PRIMARY KEY (workspace_id, month)
);
