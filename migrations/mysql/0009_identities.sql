-- Social login: the identities linked to accounts, and the logins waiting at a provider.

-- An account's identity at a provider, keyed on (issuer, subject) and never on an address:
-- `email` is what the provider said when it was linked, for showing only.
CREATE TABLE identities (
    id            CHAR(36)     NOT NULL,
    account_id    CHAR(36)     NOT NULL,
    provider      VARCHAR(64)  NOT NULL,
    issuer        VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    subject       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    email         VARCHAR(254),
    created_at    DATETIME(6)  NOT NULL,
    last_login_at DATETIME(6),
    PRIMARY KEY (id),
    UNIQUE KEY identities_subject_key (issuer, subject),
    KEY identities_by_account (account_id),
    CONSTRAINT identities_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Identities at social login providers, keyed on (issuer, subject)';

-- A login (or a link to `link_account_id`) sent to a provider and waiting for its callback.
-- `state_hash` finds it; `binding_hash` is the hash of the cookie that binds it to the browser
-- that started it; `pkce_verifier` is sealed; the row is spent once (`used_at`). A link starts
-- by an API call (`start_hash`, the one-time token of the URL the browser then opens), which
-- fills the rest when the browser comes.
CREATE TABLE oidc_logins (
    id              CHAR(36)       NOT NULL,
    provider        VARCHAR(64)    NOT NULL,
    state_hash      BINARY(32),
    binding_hash    BINARY(32),
    start_hash      BINARY(32),
    nonce           VARCHAR(255),
    pkce_verifier   VARBINARY(512),
    redirect_to     TEXT,
    link_account_id CHAR(36),
    created_at      DATETIME(6)    NOT NULL,
    expires_at      DATETIME(6)    NOT NULL,
    used_at         DATETIME(6),
    PRIMARY KEY (id),
    UNIQUE KEY oidc_logins_state_key (state_hash),
    UNIQUE KEY oidc_logins_start_key (start_hash),
    KEY oidc_logins_by_account (link_account_id),
    KEY oidc_logins_by_expiry (expires_at),
    CONSTRAINT oidc_logins_account_fk FOREIGN KEY (link_account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Social logins waiting for the provider''s callback';
