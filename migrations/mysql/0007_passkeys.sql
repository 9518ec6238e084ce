-- Passkeys (WebAuthn credentials) and the ceremonies waiting for a browser's answer.

-- One row per passkey. `passkey` is the credential as the WebAuthn library keeps it (JSON: the
-- public key, counter and flags; nothing secret). `credential_id` is unique across accounts:
-- a passwordless login finds the account by it. The backup flags are kept apart to audit
-- their changes (synced passkeys change them; that is accepted).
CREATE TABLE passkeys (
    id              CHAR(36)        NOT NULL,
    account_id      CHAR(36)        NOT NULL,
    credential_id   VARBINARY(1023) NOT NULL,
    passkey         LONGTEXT        NOT NULL,
    name            VARCHAR(200)    NOT NULL,
    backup_eligible BOOLEAN         NOT NULL,
    backup_state    BOOLEAN         NOT NULL,
    created_at      DATETIME(6)     NOT NULL,
    last_used_at    DATETIME(6),
    PRIMARY KEY (id),
    UNIQUE KEY passkeys_credential_id_key (credential_id),
    KEY passkeys_by_account (account_id),
    CONSTRAINT passkeys_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'WebAuthn credentials (passkeys), unique by credential id';

-- A registration or authentication waiting for the browser: the server-side state, found by
-- the SHA-256 of its challenge (which the browser's answer carries), single use, 5 minutes.
CREATE TABLE webauthn_challenges (
    hash       BINARY(32)  NOT NULL,
    account_id CHAR(36),
    purpose    VARCHAR(16) NOT NULL,
    state      LONGTEXT    NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6),
    PRIMARY KEY (hash),
    KEY webauthn_challenges_by_expiry (expires_at),
    CONSTRAINT webauthn_challenges_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'WebAuthn ceremonies waiting for the browser';
