-- The Open311 api keys' per-minute counts (docs/open311.md), in the database so that every
-- replica behind a load balancer counts against one quota. At most two rows per key: the
-- current minute and the one before; older ones are deleted as posts come in.
CREATE TABLE open311_rate (
    key_id  INTEGER NOT NULL REFERENCES open311_keys (id),
    -- Unix minute (seconds since 1970 divided by 60).
    minute  INTEGER NOT NULL,
    n       INTEGER NOT NULL CHECK (n >= 1),
    PRIMARY KEY (key_id, minute)
);
