-- Historical problem reports (e.g. a 12345 hotline export or a previous system's cases), each
-- assigned to its owners at import. Coordinates are WGS84 degrees; `geom` is derived from them.
CREATE TABLE history_reports (
    id             TEXT PRIMARY KEY,
    reported_at    TIMESTAMPTZ NOT NULL,
    category       TEXT NOT NULL,
    channel        TEXT NOT NULL,
    closed_at      TIMESTAMPTZ,
    lon            DOUBLE PRECISION NOT NULL,
    lat            DOUBLE PRECISION NOT NULL,
    geom           geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    grid_code      TEXT,
    community_code TEXT,
    street_code    TEXT,
    district_code  TEXT,
    frontage_code  TEXT,
    urban_village  TEXT,
    railway_m      DOUBLE PRECISION,
    back_alley     TEXT,
    source         TEXT NOT NULL,
    imported_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX history_reported_at ON history_reports (reported_at);
CREATE INDEX history_grid ON history_reports (grid_code);
CREATE INDEX history_geom ON history_reports USING GIST (geom);
