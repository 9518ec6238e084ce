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
ALTER TABLE memberships ADD COLUMN suspended_at DATETIME(6) NULL, ADD COLUMN group_names TEXT NULL;

CREATE TABLE scim_tokens (
    id           CHAR(36)     NOT NULL PRIMARY KEY,
    org_id       CHAR(36)     NOT NULL,
    name         VARCHAR(200) NOT NULL,
    hash         BINARY(32)   NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    last_used_at DATETIME(6),
    UNIQUE KEY scim_tokens_hash (hash),
    KEY scim_tokens_by_org (org_id),
    CONSTRAINT scim_tokens_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE scim_users (
    org_id           CHAR(36)     NOT NULL,
    account_id       CHAR(36)     NOT NULL,
    user_name        VARCHAR(255) NOT NULL,
    user_name_key    VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
    external_id      VARCHAR(255),
    created_account  BOOLEAN      NOT NULL,
    disabled_account BOOLEAN      NOT NULL DEFAULT FALSE,
    attributes       MEDIUMTEXT,
    created_at       DATETIME(6)  NOT NULL,
    updated_at       DATETIME(6)  NOT NULL,
    PRIMARY KEY (org_id, account_id),
    UNIQUE KEY scim_users_user_name (org_id, user_name_key),
    KEY scim_users_by_external_id (org_id, external_id),
    CONSTRAINT scim_users_membership_fk FOREIGN KEY (org_id, account_id) REFERENCES memberships (org_id, account_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE scim_groups (
    id           CHAR(36)     NOT NULL PRIMARY KEY,
    org_id       CHAR(36)     NOT NULL,
    display_name VARCHAR(255) NOT NULL,
    display_key  VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
    external_id  VARCHAR(255),
    created_at   DATETIME(6)  NOT NULL,
    updated_at   DATETIME(6)  NOT NULL,
    UNIQUE KEY scim_groups_display_name (org_id, display_key),
    CONSTRAINT scim_groups_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE scim_group_members (
    group_id   CHAR(36) NOT NULL,
    org_id     CHAR(36) NOT NULL,
    account_id CHAR(36) NOT NULL,
    PRIMARY KEY (group_id, account_id),
    KEY scim_group_members_by_account (org_id, account_id),
    CONSTRAINT scim_group_members_group_fk FOREIGN KEY (group_id) REFERENCES scim_groups (id) ON DELETE CASCADE,
    CONSTRAINT scim_group_members_membership_fk FOREIGN KEY (org_id, account_id) REFERENCES memberships (org_id, account_id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
