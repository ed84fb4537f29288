-- Other agencies (social insurance, labour office, a separate police residence system) as
-- registered endpoints; each follow-up of an interconnected procedure is a signed webhook
-- delivery (at least once, idempotency id = delivery id, retried with back-off, dead-lettered
-- when refused or exhausted) and a sub-dossier with its own deadline.
CREATE TABLE agencies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_pid TEXT NOT NULL,
    dossier_code TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at TEXT,
    dead INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    response TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND dead = 0;
CREATE INDEX webhook_deliveries_dossier ON webhook_deliveries (dossier_code);

CREATE TABLE sub_dossiers (
    id TEXT PRIMARY KEY,
    parent_code TEXT NOT NULL,
    agency_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL,
    state TEXT NOT NULL,
    due_on TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    reference TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX sub_dossiers_parent ON sub_dossiers (parent_code);
