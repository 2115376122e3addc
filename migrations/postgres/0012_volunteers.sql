-- 市民找差团 volunteers get their own role, `volunteer`, and list their own reports.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('inspector', 'intake_clerk', 'shift_lead', 'dispatcher', 'handler', 'planner', 'admin', 'volunteer'));
-- A volunteer's list of their own reports, newest first (`GET /api/volunteer/reports`).
CREATE INDEX cases_reported_by ON cases (reported_by, id);
