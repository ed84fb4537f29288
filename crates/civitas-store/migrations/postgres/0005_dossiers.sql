-- One-stop dossiers and their processing control sheet (form 05: every step with its actor).
CREATE TABLE dossiers (
    code TEXT PRIMARY KEY,
    procedure_code TEXT NOT NULL,
    body_code TEXT NOT NULL,
    applicant_pid TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    received_at TEXT NOT NULL,
    received_on TEXT NOT NULL,
    statutory_days BIGINT NOT NULL,
    appointment_on TEXT NOT NULL,
    pauses TEXT NOT NULL,
    finished_on TEXT,
    timeliness TEXT,
    idempotency_key TEXT,
    version BIGINT NOT NULL,
    UNIQUE (applicant_pid, idempotency_key)
);
CREATE INDEX dossiers_applicant ON dossiers (applicant_pid);

CREATE TABLE dossier_steps (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT
);
CREATE INDEX dossier_steps_code ON dossier_steps (code, id);
