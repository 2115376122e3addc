-- 督查 and 测评点位: checklist versions, inspection rounds, the visits of their points, the
-- problems found (each with its case), re-inspections (复查) and frozen notices (通报).
-- Checklists and notices are append-only; a finding changes only when a re-inspection passes it
-- or reopens it with a new case, and each re-inspection is its own row.
CREATE TABLE checklist_versions (
    version     BIGINT PRIMARY KEY,
    document    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT
);

CREATE TABLE inspection_rounds (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title              TEXT NOT NULL,
    organiser          TEXT NOT NULL CHECK (organiser IN ('city', 'district', 'undercover', 'volunteers')),
    round_date         TEXT NOT NULL,
    checklist_version  BIGINT NOT NULL,
    points             TEXT NOT NULL,
    inspectors         TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    created_by         TEXT
);

CREATE TABLE inspection_visits (
    round_id      BIGINT NOT NULL REFERENCES inspection_rounds (id),
    point_code    TEXT NOT NULL,
    inspector_id  BIGINT REFERENCES users (id),
    visited_at    TIMESTAMPTZ NOT NULL,
    digest        TEXT NOT NULL,
    marks         TEXT NOT NULL,
    PRIMARY KEY (round_id, point_code)
);

CREATE TABLE inspection_findings (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id    BIGINT NOT NULL REFERENCES inspection_rounds (id),
    point_code  TEXT NOT NULL,
    criterion   TEXT NOT NULL,
    category    TEXT NOT NULL,
    note        TEXT NOT NULL,
    deduction   DOUBLE PRECISION NOT NULL,
    deadline    TIMESTAMPTZ NOT NULL,
    case_id     BIGINT NOT NULL REFERENCES cases (id),
    passed_at   TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (round_id, point_code, criterion)
);
CREATE INDEX inspection_findings_point ON inspection_findings (point_code);
CREATE INDEX inspection_findings_case ON inspection_findings (case_id);

CREATE TABLE inspection_rechecks (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id    BIGINT NOT NULL REFERENCES inspection_findings (id),
    pass          BOOLEAN NOT NULL,
    note          TEXT,
    case_id       BIGINT NOT NULL REFERENCES cases (id),
    new_case_id   BIGINT REFERENCES cases (id),
    inspector_id  BIGINT REFERENCES users (id),
    at            TIMESTAMPTZ NOT NULL,
    UNIQUE (finding_id, case_id)
);

CREATE TABLE inspection_notices (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id      BIGINT NOT NULL REFERENCES inspection_rounds (id),
    version       BIGINT NOT NULL,
    document      TEXT NOT NULL,
    published_at  TIMESTAMPTZ NOT NULL,
    published_by  TEXT,
    UNIQUE (round_id, version)
);

CREATE FUNCTION inspection_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER checklist_versions_append_only BEFORE UPDATE OR DELETE ON checklist_versions
    FOR EACH ROW EXECUTE FUNCTION inspection_is_append_only();
CREATE TRIGGER inspection_notices_append_only BEFORE UPDATE OR DELETE ON inspection_notices
    FOR EACH ROW EXECUTE FUNCTION inspection_is_append_only();
