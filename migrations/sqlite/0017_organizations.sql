-- Organizations: groups of accounts of the one user pool, each member with a role there. The
-- slug is unique (it names the organization in paths, beside its id). A membership goes with
-- its organization or its account.
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    data       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data) AND json_type(data) = 'object'),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    joined_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, account_id)
) STRICT;
-- An account's memberships.
CREATE INDEX memberships_account ON memberships (account_id);
-- An organization's members in the order they joined, for its paged list.
CREATE INDEX memberships_joined ON memberships (org_id, joined_at, account_id);
