-- Foundation: event log, access log, signing keys, population register.
-- Timestamps are RFC 3339 UTC text with microseconds (text order = time order).

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    actor TEXT NOT NULL,
    occurred_at TEXT NOT NULL
);
CREATE INDEX events_subject ON events (subject, id);

CREATE TABLE access_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    unit TEXT NOT NULL,
    purpose TEXT,
    subject_pid TEXT NOT NULL,
    fields TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX access_log_subject ON access_log (subject_pid, id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key BLOB NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);

CREATE TABLE households (
    id TEXT PRIMARY KEY,
    head_pid TEXT NOT NULL,
    commune TEXT NOT NULL,
    address TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE people (
    pid TEXT PRIMARY KEY,
    full_name TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    family_folded TEXT NOT NULL,
    given_folded TEXT NOT NULL,
    other_names TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    sex TEXT NOT NULL,
    birth_registration_place TEXT,
    hometown TEXT,
    ethnicity TEXT NOT NULL,
    religion TEXT NOT NULL,
    nationality TEXT NOT NULL,
    marital_status TEXT NOT NULL,
    status TEXT NOT NULL,
    father_pid TEXT,
    mother_pid TEXT,
    spouse_pid TEXT,
    permanent_commune TEXT,
    permanent_address TEXT,
    temporary_commune TEXT,
    temporary_address TEXT,
    temporary_until TEXT,
    current_commune TEXT,
    current_address TEXT,
    household_id TEXT,
    relation_to_head TEXT,
    change_kind TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    document_ref TEXT,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
-- Name search looks up (given, family) with one-typo variants and ranks the candidates in
-- memory; the index covers the lookup (no table reads until the few results are fetched).
CREATE INDEX people_given ON people (given_folded, family_folded, name_folded, pid);
CREATE INDEX people_household ON people (household_id);
CREATE INDEX people_permanent_commune ON people (permanent_commune);

CREATE TABLE name_vocab (
    part TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (part, token)
) WITHOUT ROWID;

-- Previous versions of people rows (the current version is the people row itself).
CREATE TABLE person_revisions (
    pid TEXT NOT NULL,
    version INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    change TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    document_ref TEXT,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (pid, version)
) WITHOUT ROWID;
