-- wangge foundation schema, PostgreSQL + PostGIS flavour. Geometry lives in real PostGIS columns
-- (EPSG:4326, lon/lat degrees) with GiST indexes, so QGIS opens the tables (or the per-layer views
-- below) as they are.

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE responsible_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('department', 'street_office', 'community_committee', 'shop', 'organisation')),
    parent_code TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('inspector', 'intake_clerk', 'shift_lead', 'dispatcher', 'handler', 'planner', 'admin')),
    unit_code     TEXT REFERENCES responsible_units (code),
    password_hash TEXT NOT NULL,
    is_demo       BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    CHECK (role <> 'handler' OR unit_code IS NOT NULL)
);

CREATE TABLE user_grids (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grid_code TEXT NOT NULL,
    PRIMARY KEY (user_id, grid_code)
);

CREATE TABLE api_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE layer_versions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer         TEXT NOT NULL,
    version       BIGINT NOT NULL,
    valid_from    TIMESTAMPTZ NOT NULL,
    published_at  TIMESTAMPTZ NOT NULL,
    source        TEXT NOT NULL,
    feature_count BIGINT NOT NULL,
    published_by  BIGINT REFERENCES users (id),
    UNIQUE (layer, version)
);

CREATE TABLE jurisdictions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer       TEXT NOT NULL CHECK (layer IN ('district', 'street', 'community', 'grid', 'frontage', 'zone')),
    code        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    parent_code TEXT,
    unit_code   TEXT REFERENCES responsible_units (code),
    kind        TEXT,
    props       JSONB NOT NULL DEFAULT '{}',
    geom        geometry(Geometry, 4326) NOT NULL,
    min_lon     DOUBLE PRECISION NOT NULL,
    min_lat     DOUBLE PRECISION NOT NULL,
    max_lon     DOUBLE PRECISION NOT NULL,
    max_lat     DOUBLE PRECISION NOT NULL,
    valid_from  TIMESTAMPTZ NOT NULL,
    valid_to    TIMESTAMPTZ,
    UNIQUE (layer, code, version)
);
CREATE UNIQUE INDEX jurisdictions_current ON jurisdictions (layer, code) WHERE valid_to IS NULL;
CREATE INDEX jurisdictions_geom ON jurisdictions USING GIST (geom);
CREATE INDEX jurisdictions_current_geom ON jurisdictions USING GIST (geom) WHERE valid_to IS NULL;

-- One view per current layer with a typed geometry, for QGIS and ad-hoc SQL.
CREATE VIEW current_district AS
    SELECT id, code, name, parent_code, unit_code, kind, props, valid_from,
           ST_Multi(geom)::geometry(MultiPolygon, 4326) AS geom
    FROM jurisdictions WHERE layer = 'district' AND valid_to IS NULL;
CREATE VIEW current_street AS
    SELECT id, code, name, parent_code, unit_code, kind, props, valid_from,
           ST_Multi(geom)::geometry(MultiPolygon, 4326) AS geom
    FROM jurisdictions WHERE layer = 'street' AND valid_to IS NULL;
CREATE VIEW current_community AS
    SELECT id, code, name, parent_code, unit_code, kind, props, valid_from,
           ST_Multi(geom)::geometry(MultiPolygon, 4326) AS geom
    FROM jurisdictions WHERE layer = 'community' AND valid_to IS NULL;
CREATE VIEW current_grid AS
    SELECT id, code, name, parent_code, unit_code, kind, props, valid_from,
           ST_Multi(geom)::geometry(MultiPolygon, 4326) AS geom
    FROM jurisdictions WHERE layer = 'grid' AND valid_to IS NULL;
CREATE VIEW current_frontage AS
    SELECT id, code, name, parent_code, unit_code, kind, props, valid_from,
           geom::geometry(LineString, 4326) AS geom
    FROM jurisdictions WHERE layer = 'frontage' AND valid_to IS NULL;
CREATE VIEW current_zone AS
    SELECT id, code, name, parent_code, unit_code, kind, props, valid_from, geom
    FROM jurisdictions WHERE layer = 'zone' AND valid_to IS NULL;

CREATE TABLE basemap_features (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind    TEXT NOT NULL,
    class   TEXT,
    name    TEXT,
    props   JSONB NOT NULL DEFAULT '{}',
    geom    geometry(Geometry, 4326) NOT NULL,
    min_lon DOUBLE PRECISION NOT NULL,
    min_lat DOUBLE PRECISION NOT NULL,
    max_lon DOUBLE PRECISION NOT NULL,
    max_lat DOUBLE PRECISION NOT NULL
);
CREATE INDEX basemap_kind ON basemap_features (kind);
CREATE INDEX basemap_geom ON basemap_features USING GIST (geom);

CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor_id    BIGINT,
    actor_name  TEXT,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    request_id  TEXT,
    detail      JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX events_entity ON events (entity_type, entity_id);
CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_are_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
