-- The electronic archive (issue #18): one package per closed dossier and per civil-status
-- record ('HT-' || record id), prepared once (the primary key is the claim when several
-- servers prepare at once). The payload's documents stay in the document store and are
-- referenced from files (JSON: path, size, sha512, document); the files rendered for the
-- package (the dossier's JSON record, its control sheet, the Circular 05/2025 metadata) are
-- kept in archive_contents. bag_info is the bag's bag-info.txt; signature a compact JWS of
-- the server's key over the SHA-512 of the tag manifest.
CREATE TABLE archive_packages (
    subject TEXT PRIMARY KEY,
    -- dossier or civil_record
    kind TEXT NOT NULL,
    dossier_code TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    procedure_code TEXT NOT NULL,
    title TEXT NOT NULL,
    closed_on TEXT NOT NULL,
    prepared_at TEXT NOT NULL,
    -- permanent or '<N>y'
    retention TEXT NOT NULL,
    -- the first day it may be proposed for disposal (NULL: permanent)
    dispose_after TEXT,
    files TEXT NOT NULL,
    bag_info TEXT NOT NULL,
    signature TEXT NOT NULL,
    fixity_checked_at TEXT,
    -- unchecked, ok or drift
    fixity TEXT NOT NULL,
    fixity_detail TEXT,
    -- a recorded decision: keep or dispose
    disposal TEXT,
    disposal_by TEXT,
    disposal_at TEXT,
    disposal_note TEXT
);
CREATE INDEX archive_packages_closed ON archive_packages (closed_on);
CREATE INDEX archive_packages_dispose ON archive_packages (dispose_after);
CREATE INDEX archive_packages_fixity ON archive_packages (fixity_checked_at);
CREATE TABLE archive_contents (
    subject TEXT NOT NULL,
    path TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (subject, path)
);
