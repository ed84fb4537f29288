-- The one-stop system: the competent unit and current processing step of each dossier (the work
-- queue reads them through an index), the catalogue version it was received under, the
-- applicant's deadline while documents are asked for, the apology (form 04) and its new date,
-- the applicant's rating, and the result placed in their document store.
ALTER TABLE dossiers ADD COLUMN unit_code TEXT NOT NULL DEFAULT '';
ALTER TABLE dossiers ADD COLUMN step_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dossiers ADD COLUMN catalogue_version TEXT NOT NULL DEFAULT '';
ALTER TABLE dossiers ADD COLUMN applicant_name TEXT NOT NULL DEFAULT '';
ALTER TABLE dossiers ADD COLUMN supplement_due_on TEXT;
ALTER TABLE dossiers ADD COLUMN apology_on TEXT;
ALTER TABLE dossiers ADD COLUMN apology_reason TEXT;
ALTER TABLE dossiers ADD COLUMN rating TEXT;
ALTER TABLE dossiers ADD COLUMN result_document TEXT;
CREATE INDEX dossiers_queue ON dossiers (unit_code, state, appointment_on);
CREATE INDEX dossiers_state_due ON dossiers (state, appointment_on);

ALTER TABLE documents ADD COLUMN kind TEXT NOT NULL DEFAULT 'upload';
ALTER TABLE documents ADD COLUMN dossier_code TEXT;
ALTER TABLE documents ADD COLUMN procedure_code TEXT;
CREATE INDEX documents_owner ON documents (owner_pid, created_at);
