-- The steering facts (issue #17) as WITHOUT ROWID tables: a fact or a dossier memo is then one
-- entry in one B-tree ordered by its key, instead of a row in the rowid table plus an entry in
-- the primary key's index (two B-tree inserts per fact; the consumer's and the rebuild's cost is
-- these inserts). Same columns, same keys, same contents.
CREATE TABLE report_facts_new (
    measure TEXT NOT NULL,
    unit TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (measure, unit, dim, day)
) WITHOUT ROWID;
INSERT INTO report_facts_new SELECT measure, unit, dim, day, value FROM report_facts;
DROP TABLE report_facts;
ALTER TABLE report_facts_new RENAME TO report_facts;

CREATE TABLE report_facts_monthly_new (
    measure TEXT NOT NULL,
    unit TEXT NOT NULL,
    dim TEXT NOT NULL,
    month TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (measure, unit, dim, month)
) WITHOUT ROWID;
INSERT INTO report_facts_monthly_new SELECT measure, unit, dim, month, value FROM report_facts_monthly;
DROP TABLE report_facts_monthly;
ALTER TABLE report_facts_monthly_new RENAME TO report_facts_monthly;

CREATE TABLE report_dossiers_new (
    code TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    procedure TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_on TEXT NOT NULL,
    appointment_on TEXT NOT NULL,
    overdue_on TEXT,
    state TEXT NOT NULL,
    supplements INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO report_dossiers_new
    SELECT code, unit, procedure, channel, received_on, appointment_on, overdue_on, state, supplements FROM report_dossiers;
DROP TABLE report_dossiers;
ALTER TABLE report_dossiers_new RENAME TO report_dossiers;
