-- Organizations: groups of accounts of the one user pool, each member with a role there. The
-- slug is unique (it names the organization in paths, beside its id). A membership goes with
-- its organization or its account.
CREATE TABLE organizations (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    data       JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    joined_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, account_id)
);
-- An account's memberships.
CREATE INDEX memberships_account ON memberships (account_id);
-- An organization's members in the order they joined, for its paged list.
CREATE INDEX memberships_joined ON memberships (org_id, joined_at, account_id);
