-- The steering facts keyed by their period first (issue #17): (day, unit, dim, measure) and
-- (month, unit, dim, measure). The event log is in time order, so a consumer batch's changes
-- fall on a few days and months: with the period first they land on a few neighbouring pages
-- at the end of each B-tree, where keyed by the measure first they were spread over every page
-- (each batch rewrote most of the tables' pages into the WAL, more as the history grew). The
-- queries name the periods they sum (an IN list of days or months), so they still seek by key.
CREATE TABLE report_facts_new (
    measure TEXT NOT NULL,
    unit TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (day, unit, dim, measure)
) WITHOUT ROWID;
INSERT INTO report_facts_new SELECT measure, unit, dim, day, value FROM report_facts ORDER BY day, unit, dim, measure;
DROP TABLE report_facts;
ALTER TABLE report_facts_new RENAME TO report_facts;

CREATE TABLE report_facts_monthly_new (
    measure TEXT NOT NULL,
    unit TEXT NOT NULL,
    dim TEXT NOT NULL,
    month TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (month, unit, dim, measure)
) WITHOUT ROWID;
INSERT INTO report_facts_monthly_new
    SELECT measure, unit, dim, month, value FROM report_facts_monthly ORDER BY month, unit, dim, measure;
DROP TABLE report_facts_monthly;
ALTER TABLE report_facts_monthly_new RENAME TO report_facts_monthly;
