-- 0013 is PostgreSQL-only (LISTEN/NOTIFY triggers for replicas); SQLite has no 0013.
-- Open311 GeoReport v2 (docs/open311.md): the applications an admin issues api keys to, and
-- what a request submitted through Open311 said that is not part of the case (the reporter's
-- private contact, the client's own ids, the media URL).
CREATE TABLE open311_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    -- SHA-256 of the key, as bearer tokens are kept: the key itself is shown once.
    key_hash    TEXT NOT NULL UNIQUE,
    per_minute  INTEGER NOT NULL CHECK (per_minute BETWEEN 1 AND 10000),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE open311_submissions (
    case_id     INTEGER PRIMARY KEY REFERENCES cases (id),
    key_id      INTEGER NOT NULL REFERENCES open311_keys (id),
    email       TEXT,
    phone       TEXT,
    first_name  TEXT,
    last_name   TEXT,
    account_id  TEXT,
    device_id   TEXT,
    media_url   TEXT,
    created_at  TEXT NOT NULL
);
-- `servicerequestupdates` reads the case events of a time window.
CREATE INDEX events_at ON events (at);
-- `GET tokens/{token}` finds the case of a follow token.
CREATE INDEX cases_follow_token ON cases (follow_token_hash);
