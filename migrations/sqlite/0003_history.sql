-- Historical problem reports (e.g. a 12345 hotline export or a previous system's cases), each
-- assigned to its owners at import. Coordinates are WGS84 degrees.
CREATE TABLE history_reports (
    id             TEXT PRIMARY KEY,
    reported_at    TEXT NOT NULL,
    category       TEXT NOT NULL,
    channel        TEXT NOT NULL,
    closed_at      TEXT,
    lon            REAL NOT NULL,
    lat            REAL NOT NULL,
    grid_code      TEXT,
    community_code TEXT,
    street_code    TEXT,
    district_code  TEXT,
    frontage_code  TEXT,
    urban_village  TEXT,
    railway_m      REAL,
    back_alley     TEXT,
    source         TEXT NOT NULL,
    imported_at    TEXT NOT NULL
);
CREATE INDEX history_reported_at ON history_reports (reported_at);
CREATE INDEX history_grid ON history_reports (grid_code);
CREATE INDEX history_lonlat ON history_reports (lon, lat);
