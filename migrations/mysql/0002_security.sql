-- Security hardening: shared rate limits, the audit trail, and email-address changes.

-- Rate-limit state, shared by every replica when no Redis is configured. `key` is a
-- namespaced digest (never a raw email or IP). For a request budget, `until_ms` is the
-- theoretical arrival time of the generic cell rate algorithm; for failed logins, `count`
-- is the run of failures and `until_ms` the end of the current delay. Rows past
-- `expires_ms` mean nothing and are swept away.
CREATE TABLE rate_limits (
    `key`      VARCHAR(191) NOT NULL,
    until_ms   BIGINT NOT NULL,
    count      INT NOT NULL DEFAULT 0,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (`key`),
    KEY rate_limits_by_expiry (expires_ms)
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- The audit trail: one row per security event, kept for GATEHOUSE_AUDIT_RETENTION. No
-- foreign key on purpose: the events of a deleted account stay. Ids are UUIDv7, so they sort
-- by time and serve as the pagination cursor.
CREATE TABLE audit_events (
    id         CHAR(36)     NOT NULL,
    at         DATETIME(6)  NOT NULL,
    kind       VARCHAR(64)  NOT NULL,
    account_id CHAR(36),
    actor_id   CHAR(36),
    ip         VARCHAR(64),
    user_agent VARCHAR(512),
    request_id VARCHAR(64),
    detail     JSON,
    PRIMARY KEY (id),
    KEY audit_events_by_account (account_id, id),
    KEY audit_events_by_kind (kind, id),
    KEY audit_events_by_time (at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Pending email-address changes: a `confirm` link goes to the new address (the change takes
-- effect when it is followed), a `revert` link to the old one (it undoes the change). Only
-- the hash of each link token is stored; `email` is the address the link sets.
CREATE TABLE email_changes (
    hash       BINARY(32)   NOT NULL,
    account_id CHAR(36)     NOT NULL,
    kind       VARCHAR(16)  NOT NULL,
    email      VARCHAR(320) NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    expires_at DATETIME(6)  NOT NULL,
    used_at    DATETIME(6),
    PRIMARY KEY (hash),
    KEY email_changes_by_account (account_id, kind),
    KEY email_changes_by_expiry (expires_at),
    CONSTRAINT email_changes_kind_known CHECK (kind IN ('confirm', 'revert')),
    CONSTRAINT email_changes_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
