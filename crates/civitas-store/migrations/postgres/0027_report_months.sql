-- The monthly rollup of the steering facts (issue #17): the same counts summed per calendar
-- month (`YYYY-MM`), written in the transaction of the daily facts, so a year for the nation
-- and its 34 provinces sums twelve rows per unit and measure instead of 365.
CREATE TABLE report_facts_monthly (
    measure TEXT NOT NULL,
    unit TEXT NOT NULL,
    dim TEXT NOT NULL,
    month TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (measure, unit, dim, month)
);
