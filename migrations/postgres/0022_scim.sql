-- SCIM 2.0 provisioning, per organization. A SCIM token is kept by its hash (two may be valid
-- at once, for rotation). A provisioned user is a membership the organization's SCIM client
-- manages: its `userName` (`user_name_key` is its lower case, unique in the organization), its
-- `externalId`, whether SCIM made the account (`created_account`) and whether SCIM disabled it
-- (`disabled_account`, so that it enables again only what it disabled itself), and the
-- attributes the client last wrote (`attributes`, JSON: what it reads back; never a password).
-- A group holds members of its organization; each membership keeps its groups' names
-- (`group_names`, a JSON array, rewritten with every change of them) so that the `org` claim
-- reads them with the membership. A suspended membership (`suspended_at`, SCIM's
-- `active: false`) grants nothing.
ALTER TABLE memberships ADD COLUMN suspended_at TIMESTAMPTZ, ADD COLUMN group_names TEXT;

CREATE TABLE scim_tokens (
    id           UUID PRIMARY KEY NOT NULL,
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX scim_tokens_by_org ON scim_tokens (org_id);

CREATE TABLE scim_users (
    org_id           UUID NOT NULL,
    account_id       UUID NOT NULL,
    user_name        TEXT NOT NULL,
    user_name_key    TEXT NOT NULL,
    external_id      TEXT,
    created_account  BOOLEAN NOT NULL,
    disabled_account BOOLEAN NOT NULL DEFAULT FALSE,
    attributes       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, account_id),
    UNIQUE (org_id, user_name_key),
    FOREIGN KEY (org_id, account_id) REFERENCES memberships (org_id, account_id) ON DELETE CASCADE
);
CREATE INDEX scim_users_by_external_id ON scim_users (org_id, external_id);

CREATE TABLE scim_groups (
    id           UUID PRIMARY KEY NOT NULL,
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    display_key  TEXT NOT NULL,
    external_id  TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, display_key)
);

CREATE TABLE scim_group_members (
    group_id   UUID NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    org_id     UUID NOT NULL,
    account_id UUID NOT NULL,
    PRIMARY KEY (group_id, account_id),
    FOREIGN KEY (org_id, account_id) REFERENCES memberships (org_id, account_id) ON DELETE CASCADE
);
CREATE INDEX scim_group_members_by_account ON scim_group_members (org_id, account_id);
