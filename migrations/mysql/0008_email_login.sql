-- Passwordless login by email, and the one-time codes that hand a browser's login to the app.

-- A login by emailed link or code. The link's token and the code are kept only as keyed
-- hashes; the row is spent once (`used_at`), dies after `attempts` wrong codes or at
-- `expires_at`, and a newer request for the same address ends it. `account_id` is NULL for a
-- sign-up by link: the account is made when the link or code is used.
CREATE TABLE email_logins (
    id               CHAR(36)     NOT NULL,
    email            VARCHAR(254) NOT NULL,
    email_normalized VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    account_id       CHAR(36),
    link_hash        BINARY(32)   NOT NULL,
    code_hash        BINARY(32)   NOT NULL,
    attempts         INT          NOT NULL DEFAULT 0,
    created_at       DATETIME(6)  NOT NULL,
    expires_at       DATETIME(6)  NOT NULL,
    used_at          DATETIME(6),
    PRIMARY KEY (id),
    UNIQUE KEY email_logins_link_hash_key (link_hash),
    KEY email_logins_by_address (email_normalized, created_at),
    KEY email_logins_by_account (account_id),
    KEY email_logins_by_expiry (expires_at),
    CONSTRAINT email_logins_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Logins by emailed link or code: keyed hashes only, single use';

-- A login finished in a browser, waiting for the app to exchange the code that the redirect
-- carried: the code's hash, single use, short-lived. `method` is the RFC 8176 method of the
-- login (a second factor, if the account has one, is asked for at the exchange).
CREATE TABLE login_handoffs (
    hash       BINARY(32)  NOT NULL,
    account_id CHAR(36)    NOT NULL,
    method     VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6),
    PRIMARY KEY (hash),
    KEY login_handoffs_by_account (account_id),
    KEY login_handoffs_by_expiry (expires_at),
    CONSTRAINT login_handoffs_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Browser logins waiting for the app to exchange their code';
