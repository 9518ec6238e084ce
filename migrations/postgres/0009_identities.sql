-- Social login: the identities linked to accounts, and the logins waiting at a provider.

-- An account's identity at a provider, keyed on (issuer, subject) and never on an address:
-- `email` is what the provider said when it was linked, for showing only.
CREATE TABLE identities (
    id            UUID PRIMARY KEY,
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    email         TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ,
    UNIQUE (issuer, subject)
);
CREATE INDEX identities_by_account ON identities (account_id);

-- A login (or a link to `link_account_id`) sent to a provider and waiting for its callback.
-- `state_hash` finds it; `binding_hash` is the hash of the cookie that binds it to the browser
-- that started it; `pkce_verifier` is sealed; the row is spent once (`used_at`). A link starts
-- by an API call (`start_hash`, the one-time token of the URL the browser then opens), which
-- fills the rest when the browser comes.
CREATE TABLE oidc_logins (
    id              UUID PRIMARY KEY,
    provider        TEXT NOT NULL,
    state_hash      BYTEA UNIQUE CHECK (octet_length(state_hash) = 32),
    binding_hash    BYTEA CHECK (octet_length(binding_hash) = 32),
    start_hash      BYTEA UNIQUE CHECK (octet_length(start_hash) = 32),
    nonce           TEXT,
    pkce_verifier   BYTEA,
    redirect_to     TEXT,
    link_account_id UUID REFERENCES accounts (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ
);
CREATE INDEX oidc_logins_by_account ON oidc_logins (link_account_id);
CREATE INDEX oidc_logins_by_expiry ON oidc_logins (expires_at);
