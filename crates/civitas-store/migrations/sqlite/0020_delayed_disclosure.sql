-- Reads that the law lets an agency keep from the person for a time (a security
-- investigation): in the log at once like every read, shown in the person's data tracker only
-- from this instant (RFC 3339, UTC). NULL: shown at once.
ALTER TABLE access_log ADD COLUMN disclose_after TEXT;
