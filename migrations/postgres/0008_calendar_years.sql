-- Years of the national holiday table loaded by an admin at run time (PUT /api/calendar/years/{year},
-- `wangge calendar load`). A stored year replaces the built-in table of that year.
CREATE TABLE calendar_years (
    year       INTEGER PRIMARY KEY,
    region     TEXT NOT NULL,
    source     TEXT NOT NULL,
    body       TEXT NOT NULL,
    loaded_at  TIMESTAMPTZ NOT NULL,
    loaded_by  TEXT
);
