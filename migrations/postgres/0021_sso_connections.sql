-- Organizations' single sign-on connections (SAML 2.0 identity providers) and the logins
-- waiting at one. `settings` is the identity provider as its metadata described it (JSON: its
-- entity id, login URL and pinned signing certificates, which are public). A login is kept by
-- the hash of its request's ID (`hash`), spent once (`used_at`) by the answer that names it;
-- `binding_hash` is the hash of the cookie that binds it to the browser that started it.
-- `saml_assertions` remembers each assertion used (the hash of the connection and its ID) until
-- it expires, so that one assertion logs in once.
CREATE TABLE sso_connections (
    id           UUID PRIMARY KEY NOT NULL,
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    default_role TEXT NOT NULL,
    settings     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sso_connections_by_org ON sso_connections (org_id);

CREATE TABLE saml_requests (
    hash              BYTEA PRIMARY KEY NOT NULL,
    connection_id     UUID NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    binding_hash      BYTEA NOT NULL,
    redirect_to       TEXT,
    handoff_browser   BYTEA,
    handoff_challenge TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    used_at           TIMESTAMPTZ
);
CREATE INDEX saml_requests_by_expiry ON saml_requests (expires_at);

CREATE TABLE saml_assertions (
    hash       BYTEA PRIMARY KEY NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX saml_assertions_by_expiry ON saml_assertions (expires_at);
