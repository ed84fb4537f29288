-- The transparency log of access (issue #15): its state (one row), entries and tiles. Every
-- access record carries the index of its log entry (the per-subject private index of the log).
CREATE TABLE tlog_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    origin TEXT NOT NULL,
    key_seed BLOB NOT NULL,
    next_index INTEGER NOT NULL,
    size INTEGER NOT NULL,
    checkpoint TEXT NOT NULL
);
CREATE TABLE tlog_entries (
    idx INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    leaf BLOB NOT NULL
);
CREATE TABLE tlog_tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);
ALTER TABLE access_log ADD COLUMN log_index INTEGER;
-- Access records not yet in the log (written before it existed, or by a unit of work): the
-- adoption job finds them here.
CREATE INDEX access_log_unlogged ON access_log (id) WHERE log_index IS NULL;
