-- Project 06 steering (issue #17): facts kept from the event log by the `reports` consumer.
-- A fact is a count per (measure, unit, dimension, day): flows are summed over a period, stocks
-- (open dossiers, open and overdue) are flows too — +1 the day a dossier opens, -1 the day it
-- leaves — summed up to the period's end. Units are written at every level (commune, province,
-- `VN`), so a province's or the nation's figure is one range scan, never a sum over communes.
-- `dim` is '' for the total, `p:<procedure>` per procedure, `o:<official>` per official.
CREATE TABLE report_facts (
    measure TEXT NOT NULL,
    unit TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (measure, unit, dim, day)
);

-- What the consumer remembers of each dossier, taken from the events only (so `reports rebuild`
-- recomputes it): where it belongs, its promised date, and the day its "open and overdue" +1
-- was booked (a future day while it is still on time; retracted if it ends or pauses first).
CREATE TABLE report_dossiers (
    code TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    procedure TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_on TEXT NOT NULL,
    appointment_on TEXT NOT NULL,
    overdue_on TEXT,
    state TEXT NOT NULL,
    supplements INTEGER NOT NULL DEFAULT 0
);
