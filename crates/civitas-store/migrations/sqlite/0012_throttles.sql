-- Failure counters live as long as their window (24 hours after the last failure), not until
-- the next purge: slow guessing is counted too.
ALTER TABLE login_throttle ADD COLUMN last_failure_at INTEGER NOT NULL DEFAULT 0;

-- One-time codes: how many were sent in the current hour-long window, so that asking for a new
-- code neither resets the wrong-guess counter nor sends unlimited SMS.
ALTER TABLE one_time_codes ADD COLUMN issued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE one_time_codes ADD COLUMN window_start INTEGER NOT NULL DEFAULT 0;
