-- An organization's custom roles (the built-in owner, admin and member are not stored) and its
-- invitations. A role's permissions are space-separated `resource:action` strings. An
-- invitation's link token is kept only hashed; one pending invitation per organization and
-- address (a new one replaces it). Both go with their organization.
CREATE TABLE org_roles (
    org_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE org_invitations (
    id         UUID PRIMARY KEY,
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    invited_by UUID REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, email)
);
-- The invitations to an address.
CREATE INDEX org_invitations_email ON org_invitations (email);
-- Expired invitations, for the sweep.
CREATE INDEX org_invitations_expiry ON org_invitations (expires_at);
