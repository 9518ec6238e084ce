-- Organizations: groups of accounts of the one user pool, each member with a role there. The
-- slug is unique (it names the organization in paths, beside its id). A membership goes with
-- its organization or its account. Slugs and role names are lower case by the rules (the store
-- answers no organization for a slug that is not), so the default collation compares them as
-- the other databases do.
CREATE TABLE organizations (
    id         CHAR(36)    NOT NULL,
    name       VARCHAR(200) NOT NULL,
    slug       VARCHAR(48) NOT NULL,
    data       LONGTEXT    NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY organizations_slug_key (slug),
    CONSTRAINT organizations_data_is_object CHECK (JSON_VALID(data) AND JSON_TYPE(data) = 'OBJECT')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE memberships (
    org_id     CHAR(36)    NOT NULL,
    account_id CHAR(36)    NOT NULL,
    role       VARCHAR(48) NOT NULL,
    joined_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (org_id, account_id),
    KEY memberships_account (account_id),
    KEY memberships_joined (org_id, joined_at, account_id),
    CONSTRAINT memberships_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT memberships_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
