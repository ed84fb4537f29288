-- The two append-only tables that grow without end, events and the access log, are partitioned
-- by calendar month of their time (RFC 3339 text in the byte-wise collation "C"), so that old
-- months can be archived and dropped whole (`civitas archive`). A DEFAULT partition takes rows
-- of months that have no partition of their own; the `store.partitions` job creates the
-- partitions of this month and the next two ahead of time.

CREATE FUNCTION civitas_month_partition(parent TEXT, month TEXT) RETURNS VOID AS $$
DECLARE
    first DATE := to_date(month || '-01', 'YYYY-MM-DD');
    name TEXT := parent || '_' || to_char(first, 'YYYY_MM');
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            name, parent, to_char(first, 'YYYY-MM'), to_char(first + interval '1 month', 'YYYY-MM'));
    END IF;
END
$$ LANGUAGE plpgsql;

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER INDEX events_pkey RENAME TO events_unpartitioned_pkey;
ALTER INDEX events_subject RENAME TO events_unpartitioned_subject;
ALTER SEQUENCE events_id_seq OWNED BY NONE;
CREATE TABLE events (
    id BIGINT NOT NULL DEFAULT nextval('events_id_seq'),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    actor TEXT NOT NULL,
    occurred_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX events_id ON events (id);
CREATE INDEX events_subject ON events (subject, id);
CREATE TABLE events_default PARTITION OF events DEFAULT;
SELECT civitas_month_partition('events', m)
FROM (SELECT DISTINCT substr(occurred_at, 1, 7) AS m FROM events_unpartitioned
      WHERE occurred_at ~ '^[0-9]{4}-(0[1-9]|1[0-2])'
      UNION SELECT to_char(now() + (k || ' month')::interval, 'YYYY-MM') FROM generate_series(0, 2) AS k) AS months;
INSERT INTO events SELECT id, kind, subject, payload, actor, occurred_at FROM events_unpartitioned;
DROP TABLE events_unpartitioned;
ALTER SEQUENCE events_id_seq OWNED BY events.id;

ALTER TABLE access_log RENAME TO access_log_unpartitioned;
ALTER INDEX access_log_pkey RENAME TO access_log_unpartitioned_pkey;
ALTER INDEX access_log_subject RENAME TO access_log_unpartitioned_subject;
ALTER SEQUENCE access_log_id_seq OWNED BY NONE;
CREATE TABLE access_log (
    id BIGINT NOT NULL DEFAULT nextval('access_log_id_seq'),
    at TEXT COLLATE "C" NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    unit TEXT NOT NULL,
    purpose TEXT,
    subject_pid TEXT NOT NULL,
    fields TEXT NOT NULL,
    request_id TEXT,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX access_log_id ON access_log (id);
CREATE INDEX access_log_subject ON access_log (subject_pid, id);
CREATE TABLE access_log_default PARTITION OF access_log DEFAULT;
SELECT civitas_month_partition('access_log', m)
FROM (SELECT DISTINCT substr(at, 1, 7) AS m FROM access_log_unpartitioned
      WHERE at ~ '^[0-9]{4}-(0[1-9]|1[0-2])'
      UNION SELECT to_char(now() + (k || ' month')::interval, 'YYYY-MM') FROM generate_series(0, 2) AS k) AS months;
INSERT INTO access_log SELECT id, at, actor, role, unit, purpose, subject_pid, fields, request_id FROM access_log_unpartitioned;
DROP TABLE access_log_unpartitioned;
ALTER SEQUENCE access_log_id_seq OWNED BY access_log.id;
