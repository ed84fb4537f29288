-- Chip ID cards in the register (issue #16, part 1): every card the register knows, with its
-- lifecycle. The card number is the holder's personal ID number; a holder has one card after
-- another (applied, data collected at the counter, produced, delivered to the commune, returned
-- to the citizen; lost, revoked, expired, replaced).
CREATE TABLE cards (
    id TEXT PRIMARY KEY,
    pid TEXT NOT NULL,
    -- cccd-2021 (căn cước công dân) or can-cuoc-2024 (thẻ căn cước, from 2024-07-01)
    generation TEXT NOT NULL,
    issued_on TEXT,
    -- NULL: no expiry (issued from 58 on), or not produced yet
    expires_on TEXT,
    old_id TEXT,
    state TEXT NOT NULL,
    -- where the card is handed over (the Project 06 counters are per commune)
    commune TEXT NOT NULL,
    dossier_code TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX cards_pid ON cards (pid);
-- Each transition, with its actor: the counters count these.
CREATE TABLE card_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    card_id TEXT NOT NULL,
    pid TEXT NOT NULL,
    commune TEXT NOT NULL,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    at TEXT NOT NULL
);
CREATE INDEX card_events_commune ON card_events (commune, state);
CREATE INDEX card_events_card ON card_events (card_id, id);
