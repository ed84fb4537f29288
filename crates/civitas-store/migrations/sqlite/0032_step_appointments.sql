-- The appointment day after each step of the control sheet (the national portal's supplement
-- entries report the appointment before a supplement request and after the supplement).
-- NULL for steps written before this column and for steps that do not move the appointment.
ALTER TABLE dossier_steps ADD COLUMN appointment_on TEXT;
