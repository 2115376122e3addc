-- wangge foundation schema, SQLite flavour. Geometry is WKB (EPSG:4326, lon/lat degrees) plus a
-- bounding box; timestamps are RFC 3339 text in UTC as written by sqlx.

CREATE TABLE responsible_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('department', 'street_office', 'community_committee', 'shop', 'organisation')),
    parent_code TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('inspector', 'intake_clerk', 'shift_lead', 'dispatcher', 'handler', 'planner', 'admin')),
    unit_code     TEXT REFERENCES responsible_units (code),
    password_hash TEXT NOT NULL,
    is_demo       BOOLEAN NOT NULL DEFAULT 0,
    disabled      BOOLEAN NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    -- a handler always acts for exactly one responsible unit
    CHECK (role <> 'handler' OR unit_code IS NOT NULL)
);

-- The unit grids an inspector (监督员/网格员) patrols.
CREATE TABLE user_grids (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grid_code TEXT NOT NULL,
    PRIMARY KEY (user_id, grid_code)
);

-- Bearer tokens are stored as SHA-256 hashes; the token itself is shown once, at login.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE layer_versions (
    id            INTEGER PRIMARY KEY,
    layer         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    valid_from    TEXT NOT NULL,
    published_at  TEXT NOT NULL,
    source        TEXT NOT NULL,
    feature_count INTEGER NOT NULL,
    published_by  INTEGER REFERENCES users (id),
    UNIQUE (layer, version)
);

CREATE TABLE jurisdictions (
    id          INTEGER PRIMARY KEY,
    layer       TEXT NOT NULL CHECK (layer IN ('district', 'street', 'community', 'grid', 'frontage', 'zone')),
    code        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    parent_code TEXT,
    unit_code   TEXT REFERENCES responsible_units (code),
    kind        TEXT,
    props       TEXT NOT NULL DEFAULT '{}',
    geom        BLOB NOT NULL,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    UNIQUE (layer, code, version)
);
CREATE UNIQUE INDEX jurisdictions_current ON jurisdictions (layer, code) WHERE valid_to IS NULL;
CREATE INDEX jurisdictions_bbox ON jurisdictions (layer, min_lon, max_lon, min_lat, max_lat);

-- Basemap lines and points drawn under the jurisdictions: roads, railway, water, stations.
CREATE TABLE basemap_features (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    class   TEXT,
    name    TEXT,
    props   TEXT NOT NULL DEFAULT '{}',
    geom    BLOB NOT NULL,
    min_lon REAL NOT NULL,
    min_lat REAL NOT NULL,
    max_lon REAL NOT NULL,
    max_lat REAL NOT NULL
);
CREATE INDEX basemap_kind ON basemap_features (kind);

-- Append-only audit log: who, when, what, and from which request.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    request_id  TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_entity ON events (entity_type, entity_id);
CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
