-- Automatic dispatch, duplicates, per-step deadlines and the versioned category catalogue.
ALTER TABLE cases
    ADD COLUMN category_version INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN external_ref TEXT,
    ADD COLUMN dispatch_rule TEXT,
    ADD COLUMN owner_chain JSONB,
    ADD COLUMN co_owner_unit TEXT,
    ADD COLUMN queue TEXT,
    ADD COLUMN triage_unit TEXT,
    ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN escalation_due_at TIMESTAMPTZ,
    ADD COLUMN enforcement_unit TEXT,
    ADD COLUMN linked_to BIGINT REFERENCES cases (id),
    ADD COLUMN linked_count INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN step_started_at TIMESTAMPTZ,
    ADD COLUMN step_due_at TIMESTAMPTZ,
    ADD COLUMN due_at TIMESTAMPTZ;
CREATE INDEX cases_open_category ON cases (category, reported_at) WHERE status NOT IN ('closed', 'voided', 'merged');
CREATE INDEX cases_queue ON cases (queue) WHERE queue IS NOT NULL;
CREATE INDEX cases_escalation ON cases (escalation_due_at) WHERE escalation_due_at IS NOT NULL;
CREATE INDEX cases_reported_at ON cases (reported_at);

-- The category catalogue (部件/事件 分类): every edit is a new version; a case keeps the version it
-- was opened under, so its time limit never changes behind its back.
CREATE TABLE category_versions (
    code        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    definition  JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT,
    PRIMARY KEY (code, version)
);
