-- One counter that every change of the data the assignment index is built from (layers, basemap,
-- units) increments in its own transaction; replicas poll it to know when to rebuild.
CREATE TABLE data_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO data_revision (id, n) VALUES (1, (SELECT COUNT(*) FROM layer_versions));
