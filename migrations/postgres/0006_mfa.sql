-- Second factors (TOTP and recovery codes), the login challenge between the password and the
-- second factor, the key that seals secrets gatehouse must read back, and how each session
-- was authenticated.

-- One TOTP factor per account. `secret` is sealed (encrypted and authenticated, see
-- `sealing_keys`); the factor counts once `confirmed_at` is set. `last_step` is the time step
-- of the last code accepted: a code of that step or an earlier one is refused, so no code
-- works twice, on any replica (RFC 6238 section 5.2).
CREATE TABLE mfa_totp (
    account_id   UUID PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret       BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_step    BIGINT
);

-- Recovery codes: only keyed hashes, each spent once.
CREATE TABLE recovery_codes (
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (account_id, hash)
);

-- A password login of an account with a second factor waits here for it: the hash of the
-- `mfa_token`, single use, short-lived, with its count of wrong codes. `first_factor` is the
-- RFC 8176 method the login began with.
CREATE TABLE mfa_challenges (
    hash         BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    account_id   UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    first_factor TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    used_at      TIMESTAMPTZ
);
CREATE INDEX mfa_challenges_by_account ON mfa_challenges (account_id);
CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges (expires_at);

-- The key that seals secrets at rest when none is configured (GATEHOUSE_ENCRYPTION_KEY):
-- generated once, the first replica's insert wins.
CREATE TABLE sealing_keys (
    id         TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- How the session was authenticated: "{aal} {unix ms} {amr,…}" (NULL for sessions from
-- before: assurance level 1 by password, long ago).
ALTER TABLE sessions ADD COLUMN auth TEXT;
