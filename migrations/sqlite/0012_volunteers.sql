-- no-transaction
-- 市民找差团 volunteers get their own role, `volunteer`, and list their own reports.
--
-- SQLite cannot change a CHECK constraint in place, so `users` is rebuilt the documented way
-- (https://www.sqlite.org/lang_altertable.html#otheralter): a new table, the rows copied, the old
-- one dropped, the new one renamed. Foreign keys must be off while the old table is dropped, or
-- the drop would cascade into `api_tokens` and `user_grids` (ON DELETE CASCADE); the pragma is a
-- no-op inside a transaction, hence `no-transaction` above and an explicit transaction below.
-- Rerunning the file after a crash between COMMIT and sqlx's bookkeeping does the same again.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('inspector', 'intake_clerk', 'shift_lead', 'dispatcher', 'handler', 'planner', 'admin', 'volunteer')),
    unit_code     TEXT REFERENCES responsible_units (code),
    password_hash TEXT NOT NULL,
    is_demo       BOOLEAN NOT NULL DEFAULT 0,
    disabled      BOOLEAN NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    -- a handler always acts for exactly one responsible unit
    CHECK (role <> 'handler' OR unit_code IS NOT NULL)
);
INSERT INTO users_new (id, username, display_name, role, unit_code, password_hash, is_demo, disabled, created_at)
    SELECT id, username, display_name, role, unit_code, password_hash, is_demo, disabled, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
-- A volunteer's list of their own reports, newest first (`GET /api/volunteer/reports`).
CREATE INDEX IF NOT EXISTS cases_reported_by ON cases (reported_by, id);
COMMIT;
PRAGMA foreign_keys = ON;
