-- The email domains organizations claim, and the accounts a verified domain joined. A claim is
-- verified by a DNS TXT record of its `challenge` (published, so not a secret); a verified
-- domain's name is copied to `verified_domain`, unique, so one organization at most holds it.
-- `auto_join_role`: the role accounts with a verified address there join with (none: they do
-- not), offered by `auto_join_by` (none: a gatehouse admin), whose standing is judged again at
-- each join (no foreign key: a deleted account is no member, so its offer is void). `org_auto_joins` remembers each account a domain joined, so that one who leaves or is
-- removed is not joined again. Domain names are lower-case ASCII by the rules, so the default
-- collation compares them as the other databases do.
CREATE TABLE org_domains (
    org_id          CHAR(36)     NOT NULL,
    domain          VARCHAR(253) NOT NULL,
    challenge       VARCHAR(128) NOT NULL,
    verified_domain VARCHAR(253),
    verified_at     DATETIME(6),
    auto_join_role  VARCHAR(48),
    auto_join_by    CHAR(36),
    created_at      DATETIME(6)  NOT NULL,
    PRIMARY KEY (org_id, domain),
    UNIQUE KEY org_domains_verified (verified_domain),
    CONSTRAINT org_domains_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE org_auto_joins (
    org_id     CHAR(36)    NOT NULL,
    account_id CHAR(36)    NOT NULL,
    joined_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (org_id, account_id),
    CONSTRAINT org_auto_joins_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT org_auto_joins_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
