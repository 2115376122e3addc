-- 考评: the versioned scheme (考核办法) and the published ranking snapshots. Both are append-only:
-- a new scheme is a new version, and a re-published period a new snapshot version with a diff;
-- nothing is ever rewritten.
CREATE TABLE assessment_schemes (
    version     INTEGER PRIMARY KEY,
    document    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT
);
CREATE TRIGGER assessment_schemes_append_only_update BEFORE UPDATE ON assessment_schemes
BEGIN
    SELECT RAISE(ABORT, 'assessment schemes are append-only');
END;
CREATE TRIGGER assessment_schemes_append_only_delete BEFORE DELETE ON assessment_schemes
BEGIN
    SELECT RAISE(ABORT, 'assessment schemes are append-only');
END;

CREATE TABLE assessment_snapshots (
    id              INTEGER PRIMARY KEY,
    period          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    scheme_version  INTEGER NOT NULL,
    digest          TEXT NOT NULL,
    numbers_digest  TEXT NOT NULL,
    as_of           TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    published_by    TEXT,
    numbers         TEXT NOT NULL,
    inputs          TEXT NOT NULL,
    diff            TEXT,
    UNIQUE (period, version)
);
CREATE TRIGGER assessment_snapshots_append_only_update BEFORE UPDATE ON assessment_snapshots
BEGIN
    SELECT RAISE(ABORT, 'assessment snapshots are append-only');
END;
CREATE TRIGGER assessment_snapshots_append_only_delete BEFORE DELETE ON assessment_snapshots
BEGIN
    SELECT RAISE(ABORT, 'assessment snapshots are append-only');
END;
CREATE INDEX events_case_log ON events (entity_type, id);
