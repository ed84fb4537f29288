-- Daily sequence numbers per scope (e.g. a receiving body's dossier codes: body + date +
-- sequence). Allocated by one atomic upsert, so several server processes never hand out the
-- same number.
CREATE TABLE daily_sequences (
    scope TEXT NOT NULL,
    day TEXT NOT NULL,
    last BIGINT NOT NULL,
    PRIMARY KEY (scope, day)
);
