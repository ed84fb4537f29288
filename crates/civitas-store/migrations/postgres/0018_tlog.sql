-- The transparency log of access (issue #15): its state (one row), entries and tiles. Every
-- access record carries the index of its log entry (the per-subject private index of the log).
CREATE TABLE tlog_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    origin TEXT NOT NULL,
    key_seed BYTEA NOT NULL,
    next_index BIGINT NOT NULL,
    size BIGINT NOT NULL,
    checkpoint TEXT NOT NULL
);
CREATE TABLE tlog_entries (
    idx BIGINT PRIMARY KEY,
    entry BYTEA NOT NULL,
    leaf BYTEA NOT NULL
);
CREATE TABLE tlog_tiles (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
ALTER TABLE access_log ADD COLUMN log_index BIGINT;
-- Access records not yet in the log (written before it existed, or by a unit of work): the
-- adoption job finds them here.
CREATE INDEX access_log_unlogged ON access_log (id) WHERE log_index IS NULL;
