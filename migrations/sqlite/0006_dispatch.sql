-- Automatic dispatch, duplicates, per-step deadlines and the versioned category catalogue.
ALTER TABLE cases ADD COLUMN category_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE cases ADD COLUMN external_ref TEXT;
ALTER TABLE cases ADD COLUMN dispatch_rule TEXT;
ALTER TABLE cases ADD COLUMN owner_chain TEXT;
ALTER TABLE cases ADD COLUMN co_owner_unit TEXT;
ALTER TABLE cases ADD COLUMN queue TEXT;
ALTER TABLE cases ADD COLUMN triage_unit TEXT;
ALTER TABLE cases ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN escalation_due_at TEXT;
ALTER TABLE cases ADD COLUMN enforcement_unit TEXT;
ALTER TABLE cases ADD COLUMN linked_to INTEGER REFERENCES cases (id);
ALTER TABLE cases ADD COLUMN linked_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN step_started_at TEXT;
ALTER TABLE cases ADD COLUMN step_due_at TEXT;
ALTER TABLE cases ADD COLUMN due_at TEXT;
CREATE INDEX cases_open_category ON cases (category, reported_at) WHERE status NOT IN ('closed', 'voided', 'merged');
CREATE INDEX cases_queue ON cases (queue) WHERE queue IS NOT NULL;
CREATE INDEX cases_escalation ON cases (escalation_due_at) WHERE escalation_due_at IS NOT NULL;
CREATE INDEX cases_reported_at ON cases (reported_at);
CREATE INDEX cases_lon_lat ON cases (lon, lat);

-- The category catalogue (部件/事件 分类): every edit is a new version; a case keeps the version it
-- was opened under, so its time limit never changes behind its back.
CREATE TABLE category_versions (
    code        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT,
    PRIMARY KEY (code, version)
);
