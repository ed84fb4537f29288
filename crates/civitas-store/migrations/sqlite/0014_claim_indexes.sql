-- A round reads back the rows it claimed by their claim token: without an index that was a scan
-- of every delivery and message ever written, once per round.
CREATE INDEX webhook_deliveries_claim ON webhook_deliveries (claim) WHERE delivered_at IS NULL AND dead = 0;
CREATE INDEX outbox_messages_claim ON outbox_messages (claim) WHERE sent_at IS NULL;
