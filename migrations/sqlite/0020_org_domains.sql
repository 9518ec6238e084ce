-- The email domains organizations claim, and the accounts a verified domain joined. A claim is
-- verified by a DNS TXT record of its `challenge` (published, so not a secret); a verified
-- domain's name is copied to `verified_domain`, unique, so one organization at most holds it.
-- `auto_join_role`: the role accounts with a verified address there join with (none: they do
-- not), offered by `auto_join_by` (none: a gatehouse admin), whose standing is judged again at
-- each join (no foreign key: a deleted account is no member, so its offer is void). `org_auto_joins` remembers each account a domain joined, so that one who leaves or is
-- removed is not joined again.
CREATE TABLE org_domains (
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain          TEXT NOT NULL,
    challenge       TEXT NOT NULL,
    verified_domain TEXT UNIQUE,
    verified_at     TEXT,
    auto_join_role  TEXT,
    auto_join_by    TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (org_id, domain)
) STRICT;

CREATE TABLE org_auto_joins (
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    joined_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, account_id)
) STRICT;
-- An account's joins, for its deletion.
CREATE INDEX org_auto_joins_account ON org_auto_joins (account_id);
