-- The dispatch rule table (派遣规则) as data: each load by an admin (PUT /api/dispatch/rules,
-- `wangge rules load`, or a city package) is a new version; the highest version is in force and
-- replaces the built-in table or the --dispatch-rules file at start.
CREATE TABLE dispatch_rule_versions (
    version    BIGINT PRIMARY KEY,
    source     TEXT,
    body       TEXT NOT NULL,
    loaded_at  TEXT NOT NULL,
    loaded_by  TEXT
);
