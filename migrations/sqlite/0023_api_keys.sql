-- API keys: long-lived bearer secrets for scripts and agents, owned by an account or by an
-- organization (then `account_id` is null and `created_by` names who made it). A key is kept
-- by the SHA-256 of its secret (`hash`), with the start of the secret shown in lists
-- (`prefix`), the scopes it carries to apps (`scopes`, space-separated), an optional expiry,
-- and when it was last used (written at most once a minute).
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    org_id       TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    created_by   TEXT,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT
) STRICT;
CREATE INDEX api_keys_by_account ON api_keys (account_id);
CREATE INDEX api_keys_by_org ON api_keys (org_id);
