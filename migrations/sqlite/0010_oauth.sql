-- gatehouse as an OpenID Connect provider: the client apps, the authorization codes waiting
-- to be redeemed, and what each person agreed to share with each client.

-- A client app. `id` is its `client_id`; `secret_hash` the SHA-256 of a confidential client's
-- secret (a 256-bit random string); a public client has none. Lists are space-separated (no item holds a space).
CREATE TABLE oauth_clients (
    id                       TEXT PRIMARY KEY NOT NULL,
    name                     TEXT NOT NULL,
    confidential              INTEGER NOT NULL,
    secret_hash              BLOB,
    redirect_uris            TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types              TEXT NOT NULL,
    scopes                   TEXT NOT NULL,
    first_party              INTEGER NOT NULL,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
) STRICT;

-- An authorization code: its SHA-256, what it was issued for (the PKCE S256 challenge, the
-- exact redirect URI, the scopes, the nonce, how the person had authenticated), spent once
-- (`used_at`) within a minute. `session_id` is the client session its redemption starts
-- (named when the code is spent); a second redemption ends it and marks `reused_at`, which the
-- first checks once its session exists, so a replay racing the redemption ends it too
-- (RFC 6749 section 4.1.2).
CREATE TABLE oauth_codes (
    hash               BLOB PRIMARY KEY NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    browser_session_id TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    nonce              TEXT,
    code_challenge     TEXT NOT NULL,
    auth               TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    used_at            TEXT,
    session_id         TEXT,
    reused_at          TEXT
) STRICT;
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

-- The scopes a person agreed to share with a client; a request within them asks no more.
CREATE TABLE oauth_consents (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (account_id, client_id)
) STRICT;
CREATE INDEX oauth_consents_by_client ON oauth_consents (client_id);
