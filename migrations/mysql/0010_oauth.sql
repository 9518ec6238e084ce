-- gatehouse as an OpenID Connect provider: the client apps, the authorization codes waiting
-- to be redeemed, and what each person agreed to share with each client.

-- A client session records its client, scopes and browser session beside how it was
-- authenticated: more than the 64 characters of 0006.
ALTER TABLE sessions MODIFY COLUMN auth VARCHAR(255);

-- A client app. `id` is its `client_id`; `secret_hash` the SHA-256 of a confidential client's
-- secret (a 256-bit random string); a public client has none. Lists are space-separated (no item holds a space).
CREATE TABLE oauth_clients (
    id                        VARCHAR(64)  NOT NULL,
    name                      VARCHAR(200) NOT NULL,
    confidential              BOOLEAN      NOT NULL,
    secret_hash               BINARY(32),
    redirect_uris             TEXT         NOT NULL,
    post_logout_redirect_uris TEXT         NOT NULL,
    grant_types               VARCHAR(255) NOT NULL,
    scopes                    VARCHAR(255) NOT NULL,
    first_party               BOOLEAN      NOT NULL,
    created_at                DATETIME(6)  NOT NULL,
    updated_at                DATETIME(6)  NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'OpenID Connect client apps';

-- An authorization code: its SHA-256, what it was issued for (the PKCE S256 challenge, the
-- exact redirect URI, the scopes, the nonce, how the person had authenticated), spent once
-- (`used_at`) within a minute. `session_id` is the client session its redemption starts
-- (named when the code is spent); a second redemption ends it and marks `reused_at`, which the
-- first checks once its session exists, so a replay racing the redemption ends it too
-- (RFC 6749 section 4.1.2).
CREATE TABLE oauth_codes (
    hash               BINARY(32)   NOT NULL,
    client_id          VARCHAR(64)  NOT NULL,
    account_id         CHAR(36)     NOT NULL,
    browser_session_id CHAR(36)     NOT NULL,
    redirect_uri       TEXT         NOT NULL,
    scopes             VARCHAR(255) NOT NULL,
    nonce              VARCHAR(255),
    code_challenge     VARCHAR(128) NOT NULL,
    auth               VARCHAR(255) NOT NULL,
    created_at         DATETIME(6)  NOT NULL,
    expires_at         DATETIME(6)  NOT NULL,
    used_at            DATETIME(6),
    session_id         CHAR(36),
    reused_at          DATETIME(6),
    PRIMARY KEY (hash),
    KEY oauth_codes_by_expiry (expires_at),
    CONSTRAINT oauth_codes_client_fk FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT oauth_codes_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Authorization codes waiting to be redeemed';

-- The scopes a person agreed to share with a client; a request within them asks no more.
CREATE TABLE oauth_consents (
    account_id CHAR(36)     NOT NULL,
    client_id  VARCHAR(64)  NOT NULL,
    scopes     VARCHAR(255) NOT NULL,
    granted_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (account_id, client_id),
    KEY oauth_consents_by_client (client_id),
    CONSTRAINT oauth_consents_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE,
    CONSTRAINT oauth_consents_client_fk FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Scopes each person agreed to share with each client';
