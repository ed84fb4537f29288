-- Civil-status certificates: the signed payload their QR carries (a compact JWS over the
-- essential fields, the registration number and the issuing key's id), and their status:
-- valid, revoked, or superseded by a corrected re-issue.
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    dossier_code TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    subject_pid TEXT NOT NULL,
    other_pid TEXT,
    registration_number TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    superseded_by TEXT,
    reason TEXT,
    document_id TEXT,
    issued_at TEXT NOT NULL
);
CREATE INDEX certificates_subject ON certificates (subject_pid);
CREATE INDEX certificates_other ON certificates (other_pid);
CREATE INDEX certificates_unit ON certificates (unit_code, issued_at);
