-- The governed exchange (issue #15, part 5). Every access record says how the data was read
-- (api, page, userinfo, counter card, follow-up, exchange), on whose behalf (the acting
-- official of an agency), under which legal basis and for which case; a refused call of an
-- agency is recorded too (outcome = the refusal's code; NULL = the data was read).
ALTER TABLE access_log ADD COLUMN how TEXT;
ALTER TABLE access_log ADD COLUMN official TEXT;
ALTER TABLE access_log ADD COLUMN legal_basis TEXT;
ALTER TABLE access_log ADD COLUMN case_id TEXT;
ALTER TABLE access_log ADD COLUMN outcome TEXT;
-- The auditor's search by agency system and by official.
CREATE INDEX access_log_actor ON access_log (actor, id);
CREATE INDEX access_log_official ON access_log (official, id);

-- The systems (OpenID clients with role agency-system) of each agency.
CREATE TABLE agency_systems (
    client_id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- What an agency's system may do: one service (register, verify, attributes, events) for one
-- purpose under one legal basis, these fields (and, for events, these life events), in these
-- administrative units, until a day. Revoked grants stay (the log refers to them).
CREATE TABLE exchange_grants (
    id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL,
    system_id TEXT NOT NULL,
    service TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    fields TEXT NOT NULL,
    events TEXT NOT NULL,
    units TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT,
    revoke_reason TEXT
);
CREATE INDEX exchange_grants_system ON exchange_grants (system_id, service);

-- Life-event subscriptions of agency systems, each under an events grant.
CREATE TABLE exchange_subscriptions (
    id TEXT PRIMARY KEY,
    system_id TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ended_at TEXT
);
