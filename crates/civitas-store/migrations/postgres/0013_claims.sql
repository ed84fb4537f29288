-- Work claimed in the database, so that several servers on one database do each item once.
--
-- A lease per job kind: the one server that may run a job at a time (sweeps, purges, event
-- followers). It expires if the holder dies; another server then takes it over.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Items claimed by a server for one round: the claim token of the round, and the time until
-- which it holds them (next_attempt_at moves forward by the lease; a dead holder's items become
-- due again when it passes). Results are recorded only by the claim's holder.
ALTER TABLE webhook_deliveries ADD COLUMN claim TEXT;
ALTER TABLE outbox_messages ADD COLUMN claim TEXT;
ALTER TABLE outbox_messages ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_messages_due ON outbox_messages (next_attempt_at, id) WHERE sent_at IS NULL;

-- Outbound delivery (webhooks, SMS, e-mail) can be paused: a restored copy starts paused, so it
-- never replays old messages to real endpoints until an operator resumes it.
CREATE TABLE switches (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
