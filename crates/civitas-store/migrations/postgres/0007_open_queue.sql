-- The work queue reads the open dossiers of one unit in appointment order: a partial index of
-- just those rows lets it stop after the first page instead of sorting every open dossier.
CREATE INDEX dossiers_open_queue ON dossiers (unit_code, appointment_on, code)
    WHERE state IN ('received', 'in_processing', 'supplement_requested', 'approved');
