-- Identity: e-ID accounts, credentials, throttling, the notification outbox, and the state of
-- the OpenID Connect provider (clients, browser sessions, pending requests, codes, refresh
-- tokens, consents). Instants the code compares are unix seconds; audit times are RFC 3339 text.

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    pid TEXT PRIMARY KEY,
    level INTEGER NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT,
    phone TEXT,
    email TEXT,
    password_hash TEXT,
    totp_secret BLOB,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    level2_by TEXT,
    level2_place TEXT,
    level2_at TEXT,
    registered_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Officers are e-ID account holders with a role over administrative units.
CREATE TABLE officer_roles (
    pid TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    units TEXT NOT NULL
);

CREATE TABLE recovery_codes (
    pid TEXT NOT NULL,
    code_hash BLOB NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (pid, code_hash)
);

CREATE TABLE one_time_codes (
    pid TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pid, purpose)
);

-- Failed sign-ins per key ("account:<pid>" or "ip:<addr>"), for exponential back-off.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);

-- Messages to people (SMS, e-mail), delivered by a pluggable sender.
CREATE TABLE outbox_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_messages_pending ON outbox_messages (sent_at, id);

-- Where each event consumer has read up to.
CREATE TABLE event_cursors (
    consumer TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);

CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash BLOB,
    jwks TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    role TEXT,
    units TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE browser_sessions (
    id_hash BLOB PRIMARY KEY,
    pid TEXT NOT NULL,
    level INTEGER NOT NULL,
    amr TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    ip TEXT NOT NULL,
    ended_at INTEGER
);
CREATE INDEX browser_sessions_pid ON browser_sessions (pid);

-- A validated authorization request waiting for the user (or pushed by PAR).
CREATE TABLE authorization_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    pushed INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash BLOB PRIMARY KEY,
    client_id TEXT NOT NULL,
    pid TEXT NOT NULL,
    session_hash BLOB NOT NULL,
    grant_data TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    family TEXT NOT NULL
);

-- A refresh token is "<id>.<secret>": ids come from a sequence (new rows append), only the
-- secret's SHA-256 is stored.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    secret_hash BLOB NOT NULL,
    -- The token this one replaced. A token is used once another names it here: the unique
    -- index makes rotation single-use in one statement.
    parent_id INTEGER,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX refresh_tokens_parent ON refresh_tokens (parent_id);
-- A family is revoked through its grant row.

-- Access tokens revoked before they expire (by jti), and families revoked wholesale.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE consents (
    pid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (pid, client_id)
);

-- One row per authorization (a code and the refresh tokens that descend from it). Revoking the
-- grant ends every token of the family.
CREATE TABLE grants (
    family TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    pid TEXT NOT NULL,
    -- What the grant is (scope, level, nonce ...), JSON; never changes.
    grant_data TEXT NOT NULL,
    -- The browser session its refresh tokens end with (none with offline_access).
    session_hash BLOB,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX grants_pid ON grants (pid);
