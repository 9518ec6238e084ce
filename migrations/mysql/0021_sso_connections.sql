-- Organizations' single sign-on connections (SAML 2.0 identity providers) and the logins
-- waiting at one. `settings` is the identity provider as its metadata described it (JSON: its
-- entity id, login URL and pinned signing certificates, which are public). A login is kept by
-- the hash of its request's ID (`hash`), spent once (`used_at`) by the answer that names it;
-- `binding_hash` is the hash of the cookie that binds it to the browser that started it.
-- `saml_assertions` remembers each assertion used (the hash of the connection and its ID) until
-- it expires, so that one assertion logs in once.
CREATE TABLE sso_connections (
    id           CHAR(36)     NOT NULL PRIMARY KEY,
    org_id       CHAR(36)     NOT NULL,
    kind         VARCHAR(16)  NOT NULL,
    name         VARCHAR(200) NOT NULL,
    default_role VARCHAR(48)  NOT NULL,
    settings     MEDIUMTEXT   NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    updated_at   DATETIME(6)  NOT NULL,
    KEY sso_connections_by_org (org_id),
    CONSTRAINT sso_connections_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE saml_requests (
    hash              BINARY(32)   NOT NULL PRIMARY KEY,
    connection_id     CHAR(36)     NOT NULL,
    binding_hash      BINARY(32)   NOT NULL,
    redirect_to       TEXT,
    handoff_browser   BINARY(32),
    handoff_challenge VARCHAR(128),
    created_at        DATETIME(6)  NOT NULL,
    expires_at        DATETIME(6)  NOT NULL,
    used_at           DATETIME(6),
    KEY saml_requests_by_expiry (expires_at),
    CONSTRAINT saml_requests_connection_fk FOREIGN KEY (connection_id) REFERENCES sso_connections (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE saml_assertions (
    hash       BINARY(32)  NOT NULL PRIMARY KEY,
    expires_at DATETIME(6) NOT NULL,
    KEY saml_assertions_by_expiry (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
