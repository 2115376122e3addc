-- Cases (案卷). Their history is the append-only `events` table (entity_type 'case'), written in
-- the same transaction as every change; `version` guards against lost updates.
CREATE TABLE cases (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    source           TEXT NOT NULL,
    category         TEXT NOT NULL,
    description      TEXT NOT NULL,
    lon              REAL NOT NULL,
    lat              REAL NOT NULL,
    input_crs        TEXT NOT NULL,
    grid_code        TEXT,
    community_code   TEXT,
    street_code      TEXT,
    district_code    TEXT,
    frontage_code    TEXT,
    status           TEXT NOT NULL,
    unit_code        TEXT,
    pending_request  TEXT,
    parked_from      TEXT,
    rework_count     INTEGER NOT NULL DEFAULT 0,
    wrong_dispatches INTEGER NOT NULL DEFAULT 0,
    reported_by      INTEGER REFERENCES users (id),
    follow_token_hash TEXT,
    reported_at      TEXT NOT NULL,
    dispatched_at    TEXT,
    deadline_at      TEXT,
    closed_at        TEXT,
    version          INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX cases_status ON cases (status);
CREATE INDEX cases_grid ON cases (grid_code);
CREATE INDEX cases_unit ON cases (unit_code);
