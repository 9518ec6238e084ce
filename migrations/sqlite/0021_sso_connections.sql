-- Organizations' single sign-on connections (SAML 2.0 identity providers) and the logins
-- waiting at one. `settings` is the identity provider as its metadata described it (JSON: its
-- entity id, login URL and pinned signing certificates, which are public). A login is kept by
-- the hash of its request's ID (`hash`), spent once (`used_at`) by the answer that names it;
-- `binding_hash` is the hash of the cookie that binds it to the browser that started it.
-- `saml_assertions` remembers each assertion used (the hash of the connection and its ID) until
-- it expires, so that one assertion logs in once.
CREATE TABLE sso_connections (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    default_role TEXT NOT NULL,
    settings     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX sso_connections_by_org ON sso_connections (org_id);

CREATE TABLE saml_requests (
    hash              BLOB PRIMARY KEY NOT NULL,
    connection_id     TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    binding_hash      BLOB NOT NULL,
    redirect_to       TEXT,
    handoff_browser   BLOB,
    handoff_challenge TEXT,
    created_at        TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    used_at           TEXT
) STRICT;
CREATE INDEX saml_requests_by_expiry ON saml_requests (expires_at);

CREATE TABLE saml_assertions (
    hash       BLOB PRIMARY KEY NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX saml_assertions_by_expiry ON saml_assertions (expires_at);
