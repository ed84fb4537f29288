-- Remote onboarding (issue #16, part 5): a citizen's phone reads the chip card and talks to
-- civitas without a visit to the police. A session is bound to an ID number and a phone (an SMS
-- code), holds the single-use Active Authentication challenge, the card's evidence (which CSCA
-- verified it, the AA result, the register match) and, for level 2, the selfie and the chip's
-- portrait until a registry officer of the holder's commune decides.
CREATE TABLE onboarding_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    pid TEXT NOT NULL,
    phone TEXT NOT NULL,
    -- the level asked for: 1 (at once) or 2 (after an officer's review)
    level INTEGER NOT NULL,
    -- started, phone-verified, active, review, approved, delivering, delivered, refused, failed
    state TEXT NOT NULL,
    code_hash TEXT,
    code_attempts INTEGER NOT NULL DEFAULT 0,
    challenge TEXT,
    challenge_expires BIGINT,
    card_attempts INTEGER NOT NULL DEFAULT 0,
    failure TEXT,
    commune TEXT,
    csca TEXT,
    aa TEXT,
    evidence TEXT,
    selfie TEXT,
    selfie_type TEXT,
    portrait TEXT,
    portrait_type TEXT,
    decided_by TEXT,
    decision_reason TEXT,
    decided_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX onboarding_review ON onboarding_sessions (state, commune, updated_at);
CREATE INDEX onboarding_pid ON onboarding_sessions (pid, created_at);
