-- 督查 and 测评点位: checklist versions, inspection rounds, the visits of their points, the
-- problems found (each with its case), re-inspections (复查) and frozen notices (通报).
-- Checklists and notices are append-only; a finding changes only when a re-inspection passes it
-- or reopens it with a new case, and each re-inspection is its own row.
CREATE TABLE checklist_versions (
    version     INTEGER PRIMARY KEY,
    document    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT
);
CREATE TRIGGER checklist_versions_append_only_update BEFORE UPDATE ON checklist_versions
BEGIN
    SELECT RAISE(ABORT, 'checklist versions are append-only');
END;
CREATE TRIGGER checklist_versions_append_only_delete BEFORE DELETE ON checklist_versions
BEGIN
    SELECT RAISE(ABORT, 'checklist versions are append-only');
END;

CREATE TABLE inspection_rounds (
    id                 INTEGER PRIMARY KEY,
    title              TEXT NOT NULL,
    organiser          TEXT NOT NULL CHECK (organiser IN ('city', 'district', 'undercover', 'volunteers')),
    round_date         TEXT NOT NULL,
    checklist_version  INTEGER NOT NULL,
    points             TEXT NOT NULL,
    inspectors         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    created_by         TEXT
);

CREATE TABLE inspection_visits (
    round_id      INTEGER NOT NULL REFERENCES inspection_rounds (id),
    point_code    TEXT NOT NULL,
    inspector_id  INTEGER REFERENCES users (id),
    visited_at    TEXT NOT NULL,
    digest        TEXT NOT NULL,
    marks         TEXT NOT NULL,
    PRIMARY KEY (round_id, point_code)
);

CREATE TABLE inspection_findings (
    id          INTEGER PRIMARY KEY,
    round_id    INTEGER NOT NULL REFERENCES inspection_rounds (id),
    point_code  TEXT NOT NULL,
    criterion   TEXT NOT NULL,
    category    TEXT NOT NULL,
    note        TEXT NOT NULL,
    deduction   REAL NOT NULL,
    deadline    TEXT NOT NULL,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    passed_at   TEXT,
    created_at  TEXT NOT NULL,
    UNIQUE (round_id, point_code, criterion)
);
CREATE INDEX inspection_findings_point ON inspection_findings (point_code);
CREATE INDEX inspection_findings_case ON inspection_findings (case_id);

CREATE TABLE inspection_rechecks (
    id            INTEGER PRIMARY KEY,
    finding_id    INTEGER NOT NULL REFERENCES inspection_findings (id),
    pass          INTEGER NOT NULL,
    note          TEXT,
    case_id       INTEGER NOT NULL REFERENCES cases (id),
    new_case_id   INTEGER REFERENCES cases (id),
    inspector_id  INTEGER REFERENCES users (id),
    at            TEXT NOT NULL,
    UNIQUE (finding_id, case_id)
);

CREATE TABLE inspection_notices (
    id            INTEGER PRIMARY KEY,
    round_id      INTEGER NOT NULL REFERENCES inspection_rounds (id),
    version       INTEGER NOT NULL,
    document      TEXT NOT NULL,
    published_at  TEXT NOT NULL,
    published_by  TEXT,
    UNIQUE (round_id, version)
);
CREATE TRIGGER inspection_notices_append_only_update BEFORE UPDATE ON inspection_notices
BEGIN
    SELECT RAISE(ABORT, 'inspection notices are append-only');
END;
CREATE TRIGGER inspection_notices_append_only_delete BEFORE DELETE ON inspection_notices
BEGIN
    SELECT RAISE(ABORT, 'inspection notices are append-only');
END;
