-- The dossiers that closed and wait for their archive packages (issue #18): written in the
-- transaction that closes a dossier, taken by the archive.prepare job (so it never scans the
-- dossiers table). The dossiers already closed are queued here once.
CREATE TABLE archive_queue (
    subject TEXT PRIMARY KEY,
    queued_at TEXT NOT NULL
);
INSERT INTO archive_queue (subject, queued_at)
SELECT code, COALESCE(finished_on, received_at) FROM dossiers
WHERE state IN ('returned', 'refused', 'rejected_at_receipt', 'withdrawn', 'lapsed')
  AND code NOT IN (SELECT subject FROM archive_packages);
