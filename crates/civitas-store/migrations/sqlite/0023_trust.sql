-- The CSCA trust store (issue #16, part 3): the Country Signing CAs this installation trusts, as
-- the operator pinned them or imported them from a verified ICAO master list, and their CRLs
-- (each verified by its CSCA). Certificates are kept as base64 DER; an anchor is its SHA-256.
CREATE TABLE trust_anchors (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    country TEXT,
    -- csca (self-signed) or link (a CSCA's new key signed by a trusted one)
    kind TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    -- pinned, or master-list:<the list's fingerprint>
    source TEXT NOT NULL,
    der TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    removed_at TEXT
);
CREATE TABLE trust_crls (
    id TEXT PRIMARY KEY,
    anchor_id TEXT NOT NULL,
    this_update TEXT NOT NULL,
    next_update TEXT,
    der TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE INDEX trust_crls_anchor ON trust_crls (anchor_id, this_update);
