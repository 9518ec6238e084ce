-- gatehouse schema, MySQL 8 and MariaDB 10.6+. Timestamps are DATETIME(6) holding UTC (every
-- connection sets time_zone to +00:00). Ids are UUIDv7 in hyphenated text, as MySQL has no UUID
-- type. Secrets are never stored: passwords as Argon2id PHC strings, refresh and one-time
-- tokens as SHA-256 hashes.
--
-- The normalized email and username are compared byte for byte (utf8mb4_bin): the application
-- lower-cases them, and uniqueness must be exact, not the server's case- and accent-blind idea
-- of equal. The unique keys and constraints are named, because the store tells "email taken"
-- from "username taken" by the key named in a duplicate-entry error.
--
-- Each statement ends at its semicolon, and no comment or literal holds one.

-- One row per account. Email and username are unique in lower case, the display forms keep
-- the case the user typed. `data` is the user's own JSON object (JSON is LONGTEXT on MariaDB
-- and a binary type on MySQL, so the portable form is LONGTEXT checked with JSON_VALID).
CREATE TABLE accounts (
    id                  CHAR(36)     NOT NULL,
    email               VARCHAR(254) NOT NULL,
    email_normalized    VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    username            VARCHAR(32),
    username_normalized VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    name                VARCHAR(200),
    data                LONGTEXT     NOT NULL,
    password_hash       VARCHAR(255) NOT NULL,
    role                VARCHAR(16)  NOT NULL,
    status              VARCHAR(16)  NOT NULL,
    email_verified      BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at          DATETIME(6)  NOT NULL,
    updated_at          DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY accounts_email_normalized_key (email_normalized),
    UNIQUE KEY accounts_username_normalized_key (username_normalized),
    CONSTRAINT accounts_data_is_object CHECK (JSON_VALID(data) AND JSON_TYPE(data) = 'OBJECT'),
    CONSTRAINT accounts_role_known CHECK (role IN ('user', 'admin')),
    CONSTRAINT accounts_status_known CHECK (status IN ('pending', 'active', 'disabled')),
    CONSTRAINT accounts_email_verified_bool CHECK (email_verified IN (0, 1))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'One row per account, unique by lower-cased email and username';

-- One row per login. The per-request check reads it by primary key. The user agent is cut to
-- 256 bytes by the application.
CREATE TABLE sessions (
    id           CHAR(36)     NOT NULL,
    account_id   CHAR(36)     NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    last_used_at DATETIME(6)  NOT NULL,
    expires_at   DATETIME(6)  NOT NULL,
    user_agent   VARCHAR(256),
    ip           VARCHAR(45),
    PRIMARY KEY (id),
    KEY sessions_by_account (account_id),
    KEY sessions_by_expiry (expires_at),
    CONSTRAINT sessions_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'One row per login, deleted on logout, revocation or expiry';

-- Every refresh token a session has had. The current one has used_at NULL, and a spent one
-- presented again revokes its session.
CREATE TABLE refresh_tokens (
    hash       BINARY(32)  NOT NULL,
    session_id CHAR(36)    NOT NULL,
    created_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6),
    PRIMARY KEY (hash),
    KEY refresh_tokens_by_session (session_id),
    CONSTRAINT refresh_tokens_session_fk FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'SHA-256 hashes of every refresh token a session has had, spent ones marked used';

-- The links in activation and reset emails, by hash. Single-use and expiring.
CREATE TABLE one_time_tokens (
    hash       BINARY(32)  NOT NULL,
    account_id CHAR(36)    NOT NULL,
    purpose    VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6),
    PRIMARY KEY (hash),
    KEY one_time_tokens_by_account (account_id, purpose),
    KEY one_time_tokens_by_expiry (expires_at),
    CONSTRAINT one_time_tokens_purpose_known CHECK (purpose IN ('activation', 'password_reset')),
    CONSTRAINT one_time_tokens_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'SHA-256 hashes of the one-time links in activation and reset emails';

-- Ed25519 keys that sign access tokens. `generation` is unique so that replicas racing to
-- create the first key cannot both succeed.
CREATE TABLE signing_keys (
    kid         VARCHAR(64) NOT NULL,
    generation  INT         NOT NULL,
    algorithm   VARCHAR(16) NOT NULL DEFAULT 'EdDSA',
    private_key BLOB        NOT NULL,
    public_key  BLOB        NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (kid),
    UNIQUE KEY signing_keys_generation_key (generation)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Ed25519 keys that sign access tokens, one per generation';

-- Emails waiting for, or past, delivery. Rows are written in the same transaction as the
-- change that causes them, and the bodies (which hold one-time links) are erased on delivery.
-- Several replicas claim due rows with SELECT ... FOR UPDATE SKIP LOCKED.
CREATE TABLE outbox (
    id              CHAR(36)     NOT NULL,
    kind            VARCHAR(32)  NOT NULL,
    recipient       VARCHAR(254) NOT NULL,
    subject         TEXT         NOT NULL,
    body_text       MEDIUMTEXT,
    body_html       MEDIUMTEXT,
    message_id      VARCHAR(320) NOT NULL,
    status          VARCHAR(16)  NOT NULL,
    attempts        INT          NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)  NOT NULL,
    claimed_until   DATETIME(6),
    last_error      TEXT,
    created_at      DATETIME(6)  NOT NULL,
    sent_at         DATETIME(6),
    PRIMARY KEY (id),
    KEY outbox_due (status, next_attempt_at),
    CONSTRAINT outbox_status_known CHECK (status IN ('queued', 'sending', 'sent', 'failed'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Emails queued in the transaction that causes them, bodies erased on delivery';
