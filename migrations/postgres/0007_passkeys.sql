-- Passkeys (WebAuthn credentials) and the ceremonies waiting for a browser's answer.

-- One row per passkey. `passkey` is the credential as the WebAuthn library keeps it (JSON: the
-- public key, counter and flags; nothing secret). `credential_id` is unique across accounts:
-- a passwordless login finds the account by it. The backup flags are kept apart to audit
-- their changes (synced passkeys change them; that is accepted).
CREATE TABLE passkeys (
    id              UUID PRIMARY KEY,
    account_id      UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id   BYTEA NOT NULL UNIQUE,
    passkey         TEXT NOT NULL,
    name            TEXT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    last_used_at    TIMESTAMPTZ
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- A registration or authentication waiting for the browser: the server-side state, found by
-- the SHA-256 of its challenge (which the browser's answer carries), single use, 5 minutes.
CREATE TABLE webauthn_challenges (
    hash       BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    account_id UUID REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX webauthn_challenges_by_account ON webauthn_challenges (account_id);
CREATE INDEX webauthn_challenges_by_expiry ON webauthn_challenges (expires_at);
