-- Documents handed in with dossiers and results issued to people: content-checked (PDF, JPEG,
-- PNG), stored once per owner by SHA-256.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    owner_pid TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (owner_pid, sha256)
);
