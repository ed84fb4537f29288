-- Duplicate review of births reads the children of a mother born on a day.
CREATE INDEX people_mother ON people (mother_pid, birth_date);
