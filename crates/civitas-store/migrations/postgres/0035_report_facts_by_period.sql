-- The steering facts keyed by their period first (issue #17): (day, unit, dim, measure) and
-- (month, unit, dim, measure). The event log is in time order, so a consumer batch's changes
-- fall on a few days and months: with the period first their key entries land on a few
-- neighbouring index pages instead of being spread over the whole index. The queries name the
-- periods they sum (a list of days or months), so they still find their rows by key.
ALTER TABLE report_facts DROP CONSTRAINT report_facts_pkey;
ALTER TABLE report_facts ADD CONSTRAINT report_facts_pkey PRIMARY KEY (day, unit, dim, measure);
ALTER TABLE report_facts_monthly DROP CONSTRAINT report_facts_monthly_pkey;
ALTER TABLE report_facts_monthly ADD CONSTRAINT report_facts_monthly_pkey PRIMARY KEY (month, unit, dim, measure);
