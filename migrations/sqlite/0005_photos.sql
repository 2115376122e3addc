-- Case photos (现场照片). The bytes live in the photo folder, named by their SHA-256
-- (content-addressed, stored once); here is what is known about each, and which case shows it at
-- which stage. Adding a photo to a case also appends a `case.photo_added` event.
CREATE TABLE photos (
    sha256       TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    content_type TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE TABLE case_photos (
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    sha256   TEXT NOT NULL REFERENCES photos (sha256),
    stage    TEXT NOT NULL CHECK (stage IN ('before', 'after')),
    added_by INTEGER REFERENCES users (id),
    added_at TEXT NOT NULL,
    PRIMARY KEY (case_id, stage, sha256)
);
