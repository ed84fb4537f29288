-- Codes of digitised documents and results (issue #18): every component a dossier digitises
-- (scanned at the counter, uploaded online) and every result gets a code whose parts are kept
-- as fields and printed by the configured format. One code per document: a document attached
-- again to a later dossier keeps its code (that is what "reused" means). The number part of
-- a code is allocated from daily_sequences (scope 'code:' || prefix), atomically.
CREATE TABLE document_codes (
    code TEXT PRIMARY KEY,
    -- component or result
    kind TEXT NOT NULL,
    document_id TEXT NOT NULL UNIQUE,
    owner_pid TEXT NOT NULL,
    -- the national procedure code (component) or the result code (result)
    subject TEXT NOT NULL,
    -- the component's document type code (empty for results)
    doc_type TEXT NOT NULL,
    -- the result's number/symbol (empty for components)
    number TEXT NOT NULL,
    seq BIGINT NOT NULL,
    dossier_code TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    -- counter (scanned by an officer), online (uploaded by the applicant), issued (a result)
    source TEXT NOT NULL,
    digitiser TEXT NOT NULL,
    coded_at TEXT NOT NULL,
    -- results: the agency's signature (compact JWS over the code, the document and its SHA-256)
    signature TEXT,
    UNIQUE (owner_pid, kind, subject, doc_type, number, seq)
);
CREATE INDEX document_codes_dossier ON document_codes (dossier_code);
