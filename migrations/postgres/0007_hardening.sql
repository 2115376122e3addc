-- Idempotency keys are scoped per caller (the key column holds "<scope>:<key>"), and a retry
-- must carry the same request: its digest is kept to tell a retry from a reused key.
ALTER TABLE cases ADD COLUMN request_digest TEXT;

-- Server-side secrets generated once per installation (e.g. the key the citizens' follow tokens
-- are derived from, so a retried report gets its receipt's token again).
CREATE TABLE service_secrets (
    name    TEXT PRIMARY KEY,
    secret  TEXT NOT NULL
);
