-- Civil-status records (birth, marriage, death) registered by approving a dossier, with the
-- registration number per commune and year, the flags an officer saw (late, confirmed not a
-- duplicate, a household head to confirm), and whether the household confirmed its new head.
CREATE TABLE civil_records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    dossier_code TEXT NOT NULL UNIQUE,
    registration_number TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    subject_pid TEXT NOT NULL,
    other_pid TEXT,
    event_date TEXT NOT NULL,
    registered_on TEXT NOT NULL,
    certificate_ref TEXT,
    flags TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX civil_records_subject ON civil_records (subject_pid);
CREATE INDEX civil_records_certificate ON civil_records (kind, certificate_ref);
ALTER TABLE households ADD COLUMN head_to_confirm INTEGER NOT NULL DEFAULT 0;
