-- A citizen's unfinished application, one per procedure: the answers and the documents chosen
-- so far (JSON), saved with "Lưu nháp" and offered again when the form is opened.
CREATE TABLE drafts (
    pid TEXT NOT NULL,
    procedure_code TEXT NOT NULL,
    data TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (pid, procedure_code)
);
