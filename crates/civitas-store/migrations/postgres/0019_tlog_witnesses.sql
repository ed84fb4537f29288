-- Witnesses of the transparency log: the size each cosigned last, and the latest checkpoint
-- with the cosignatures collected for it.
CREATE TABLE tlog_witnesses (
    url TEXT PRIMARY KEY,
    size BIGINT NOT NULL
);
ALTER TABLE tlog_state ADD COLUMN cosigned TEXT NOT NULL DEFAULT '';
