-- gatehouse as an OpenID Connect provider: the client apps, the authorization codes waiting
-- to be redeemed, and what each person agreed to share with each client.

-- A client app. `id` is its `client_id`; `secret_hash` the SHA-256 of a confidential client's
-- secret (a 256-bit random string); a public client has none. Lists are space-separated (no item holds a space).
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    confidential              BOOLEAN NOT NULL,
    secret_hash               BYTEA CHECK (octet_length(secret_hash) = 32),
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    first_party               BOOLEAN NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);

-- An authorization code: its SHA-256, what it was issued for (the PKCE S256 challenge, the
-- exact redirect URI, the scopes, the nonce, how the person had authenticated), spent once
-- (`used_at`) within a minute. `session_id` is the client session its redemption starts
-- (named when the code is spent); a second redemption ends it and marks `reused_at`, which the
-- first checks once its session exists, so a replay racing the redemption ends it too
-- (RFC 6749 section 4.1.2).
CREATE TABLE oauth_codes (
    hash               BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    client_id          TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    account_id         UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    browser_session_id UUID NOT NULL,
    redirect_uri       TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    nonce              TEXT,
    code_challenge     TEXT NOT NULL,
    auth               TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    used_at            TIMESTAMPTZ,
    session_id         UUID,
    reused_at          TIMESTAMPTZ
);
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

-- The scopes a person agreed to share with a client; a request within them asks no more.
CREATE TABLE oauth_consents (
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
CREATE INDEX oauth_consents_by_client ON oauth_consents (client_id);
