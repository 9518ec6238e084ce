-- Passkeys (WebAuthn credentials) and the ceremonies waiting for a browser's answer.

-- One row per passkey. `passkey` is the credential as the WebAuthn library keeps it (JSON: the
-- public key, counter and flags; nothing secret). `credential_id` is unique across accounts:
-- a passwordless login finds the account by it. The backup flags are kept apart to audit
-- their changes (synced passkeys change them; that is accepted).
CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id  BLOB NOT NULL UNIQUE,
    passkey        TEXT NOT NULL CHECK (json_valid(passkey)),
    name           TEXT NOT NULL,
    backup_eligible INTEGER NOT NULL CHECK (backup_eligible IN (0, 1)),
    backup_state   INTEGER NOT NULL CHECK (backup_state IN (0, 1)),
    created_at     TEXT NOT NULL,
    last_used_at   TEXT
) STRICT;
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- A registration or authentication waiting for the browser: the server-side state, found by
-- the SHA-256 of its challenge (which the browser's answer carries), single use, 5 minutes.
CREATE TABLE webauthn_challenges (
    hash       BLOB PRIMARY KEY NOT NULL,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX webauthn_challenges_by_account ON webauthn_challenges (account_id);
CREATE INDEX webauthn_challenges_by_expiry ON webauthn_challenges (expires_at);
