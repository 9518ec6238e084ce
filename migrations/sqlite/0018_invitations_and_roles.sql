-- An organization's custom roles (the built-in owner, admin and member are not stored) and its
-- invitations. A role's permissions are space-separated `resource:action` strings. An
-- invitation's link token is kept only hashed; one pending invitation per organization and
-- address (a new one replaces it). Both go with their organization.
CREATE TABLE org_roles (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, name)
) STRICT;

CREATE TABLE org_invitations (
    id         TEXT PRIMARY KEY NOT NULL,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    invited_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    UNIQUE (org_id, email)
) STRICT;
-- The invitations to an address.
CREATE INDEX org_invitations_email ON org_invitations (email);
-- Expired invitations, for the sweep.
CREATE INDEX org_invitations_expiry ON org_invitations (expires_at);
