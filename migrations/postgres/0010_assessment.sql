-- 考评: the versioned scheme (考核办法) and the published ranking snapshots. Both are append-only:
-- a new scheme is a new version, and a re-published period a new snapshot version with a diff;
-- nothing is ever rewritten.
CREATE TABLE assessment_schemes (
    version     INTEGER PRIMARY KEY,
    document    JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT
);

CREATE TABLE assessment_snapshots (
    id              BIGSERIAL PRIMARY KEY,
    period          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    scheme_version  INTEGER NOT NULL,
    digest          TEXT NOT NULL,
    numbers_digest  TEXT NOT NULL,
    as_of           TIMESTAMPTZ NOT NULL,
    published_at    TIMESTAMPTZ NOT NULL,
    published_by    TEXT,
    numbers         JSONB NOT NULL,
    inputs          JSONB NOT NULL,
    diff            JSONB,
    UNIQUE (period, version)
);

CREATE FUNCTION assessment_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER assessment_schemes_append_only BEFORE UPDATE OR DELETE ON assessment_schemes
    FOR EACH ROW EXECUTE FUNCTION assessment_is_append_only();
CREATE TRIGGER assessment_snapshots_append_only BEFORE UPDATE OR DELETE ON assessment_snapshots
    FOR EACH ROW EXECUTE FUNCTION assessment_is_append_only();
CREATE INDEX events_case_log ON events (entity_type, id);
