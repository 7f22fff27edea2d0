-- Roles become admin / reviewer / member (seed 003's `user` was the owner of its own account,
-- so it keeps its rights as `reviewer`); API keys get scopes (NULL: the runtime set, which is
-- what every key held before); approvals remember who asked for them.
--
-- SQLite cannot change a CHECK in place, so `users` is rebuilt under the same name. Foreign keys
-- are deferred to the commit: dropping `users` orphans its refresh tokens for a moment, and
-- re-inserting each user under the same id adopts them again before the commit checks.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE users_backup AS SELECT * FROM users;
DROP TABLE users;
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'member')),
    created_at    TEXT NOT NULL
);
INSERT INTO users (id, account_id, email, password_hash, role, created_at)
    SELECT id, account_id, email, password_hash,
           CASE role WHEN 'admin' THEN 'admin' ELSE 'reviewer' END, created_at
    FROM users_backup;
DROP TABLE users_backup;
CREATE INDEX users_account ON users(account_id);

ALTER TABLE api_keys ADD COLUMN scopes TEXT;

-- Who asked for an approval: it may never decide it.
ALTER TABLE action_approvals ADD COLUMN requested_by TEXT;
UPDATE action_approvals SET requested_by = (
    SELECT recorded_by FROM action_audit a
    WHERE a.approval_id = action_approvals.id AND a.event = 'checked' LIMIT 1);
