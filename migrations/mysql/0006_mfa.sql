-- Second factors (TOTP and recovery codes), the login challenge between the password and the
-- second factor, the key that seals secrets gatehouse must read back, and how each session
-- was authenticated.

-- One TOTP factor per account. `secret` is sealed (encrypted and authenticated, see
-- `sealing_keys`); the factor counts once `confirmed_at` is set. `last_step` is the time step
-- of the last code accepted: a code of that step or an earlier one is refused, so no code
-- works twice, on any replica (RFC 6238 section 5.2).
CREATE TABLE mfa_totp (
    account_id   CHAR(36)    NOT NULL,
    secret       BLOB        NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    confirmed_at DATETIME(6),
    last_step    BIGINT,
    PRIMARY KEY (account_id),
    CONSTRAINT mfa_totp_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'One sealed TOTP secret per account and the last time step accepted';

-- Recovery codes: only keyed hashes, each spent once.
CREATE TABLE recovery_codes (
    account_id CHAR(36)    NOT NULL,
    hash       BINARY(32)  NOT NULL,
    created_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6),
    PRIMARY KEY (account_id, hash),
    CONSTRAINT recovery_codes_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Keyed hashes of recovery codes, each spent once';

-- A password login of an account with a second factor waits here for it: the hash of the
-- `mfa_token`, single use, short-lived, with its count of wrong codes. `first_factor` is the
-- RFC 8176 method the login began with.
CREATE TABLE mfa_challenges (
    hash         BINARY(32)  NOT NULL,
    account_id   CHAR(36)    NOT NULL,
    first_factor VARCHAR(16) NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    expires_at   DATETIME(6) NOT NULL,
    attempts     INT         NOT NULL DEFAULT 0,
    used_at      DATETIME(6),
    PRIMARY KEY (hash),
    KEY mfa_challenges_by_expiry (expires_at),
    CONSTRAINT mfa_challenges_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Password logins waiting for their second factor';

-- The key that seals secrets at rest when none is configured (GATEHOUSE_ENCRYPTION_KEY):
-- generated once, the first replica's insert wins.
CREATE TABLE sealing_keys (
    id         VARCHAR(64) NOT NULL,
    secret     BLOB        NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'The generated key that seals secrets at rest';

-- How the session was authenticated: "{aal} {unix ms} {amr,…}" (NULL for sessions from
-- before: assurance level 1 by password, long ago).
ALTER TABLE sessions ADD COLUMN auth VARCHAR(64);
