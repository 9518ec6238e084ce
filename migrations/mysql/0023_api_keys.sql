-- API keys: long-lived bearer secrets for scripts and agents, owned by an account or by an
-- organization (then `account_id` is null and `created_by` names who made it). A key is kept
-- by the SHA-256 of its secret (`hash`), with the start of the secret shown in lists
-- (`prefix`), the scopes it carries to apps (`scopes`, space-separated), an optional expiry,
-- and when it was last used (written at most once a minute).
CREATE TABLE api_keys (
    id           CHAR(36)      NOT NULL PRIMARY KEY,
    account_id   CHAR(36),
    org_id       CHAR(36),
    created_by   CHAR(36),
    name         VARCHAR(200)  NOT NULL,
    prefix       VARCHAR(32)   NOT NULL,
    hash         BINARY(32)    NOT NULL,
    scopes       VARCHAR(2048) NOT NULL,
    created_at   DATETIME(6)   NOT NULL,
    expires_at   DATETIME(6),
    last_used_at DATETIME(6),
    UNIQUE KEY api_keys_hash (hash),
    KEY api_keys_by_account (account_id),
    KEY api_keys_by_org (org_id),
    CONSTRAINT api_keys_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE,
    CONSTRAINT api_keys_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
