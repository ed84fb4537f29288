-- Synchronisation with the National Public Service Portal (issue #18): every change of a
-- dossier writes, in its own transaction, the facts the portal must learn (the dossier as it
-- now is, and the progress step). The adapter renders them in the portal's wire format when it
-- sends them, in id order per dossier: a dossier's next message waits until the previous one
-- was accepted.
CREATE TABLE portal_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dossier_code TEXT NOT NULL,
    -- DongBoHoSoMC (the dossier) or CapNhatTienDoHoSoMC (a progress step).
    service TEXT NOT NULL,
    facts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claim TEXT,
    delivered_at TEXT,
    dead INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    response TEXT
);
CREATE INDEX portal_outbox_dossier ON portal_outbox (dossier_code, id);
CREATE INDEX portal_outbox_due ON portal_outbox (next_attempt_at, id) WHERE delivered_at IS NULL AND dead = 0;
CREATE INDEX portal_outbox_claim ON portal_outbox (claim) WHERE delivered_at IS NULL AND dead = 0;
CREATE INDEX portal_outbox_dead ON portal_outbox (id) WHERE dead = 1;
