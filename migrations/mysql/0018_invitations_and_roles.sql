-- An organization's custom roles (the built-in owner, admin and member are not stored) and its
-- invitations. A role's permissions are space-separated `resource:action` strings. An
-- invitation's link token is kept only hashed; one pending invitation per organization and
-- address (a new one replaces it). Both go with their organization. Role names and addresses
-- are lower case by the rules, so the default collation compares them as the other databases do.
CREATE TABLE org_roles (
    org_id      CHAR(36)    NOT NULL,
    name        VARCHAR(48) NOT NULL,
    permissions TEXT        NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (org_id, name),
    CONSTRAINT org_roles_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE org_invitations (
    id         CHAR(36)     NOT NULL,
    org_id     CHAR(36)     NOT NULL,
    email      VARCHAR(320) NOT NULL,
    role       VARCHAR(48)  NOT NULL,
    hash       BINARY(32)   NOT NULL,
    invited_by CHAR(36),
    created_at DATETIME(6)  NOT NULL,
    expires_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY org_invitations_hash (hash),
    UNIQUE KEY org_invitations_org_email (org_id, email),
    KEY org_invitations_email (email),
    KEY org_invitations_expiry (expires_at),
    CONSTRAINT org_invitations_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT org_invitations_by_fk FOREIGN KEY (invited_by) REFERENCES accounts (id) ON DELETE SET NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
