-- Security hardening: shared rate limits, the audit trail, and email-address changes.

-- Rate-limit state, shared by every replica when no Redis is configured. `key` is a
-- namespaced digest (never a raw email or IP). For a request budget, `until_ms` is the
-- theoretical arrival time of the generic cell rate algorithm; for failed logins, `count`
-- is the run of failures and `until_ms` the end of the current delay. Rows past
-- `expires_ms` mean nothing and are swept away.
CREATE TABLE rate_limits (
    key        TEXT PRIMARY KEY,
    until_ms   BIGINT NOT NULL,
    count      INTEGER NOT NULL DEFAULT 0,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX rate_limits_by_expiry ON rate_limits (expires_ms);

-- The audit trail: one row per security event, kept for GATEHOUSE_AUDIT_RETENTION. No
-- foreign key on purpose: the events of a deleted account stay. Ids are UUIDv7, so they sort
-- by time and serve as the pagination cursor.
CREATE TABLE audit_events (
    id         UUID PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    account_id UUID,
    actor_id   UUID,
    ip         TEXT,
    user_agent TEXT,
    request_id TEXT,
    detail     JSONB
);
CREATE INDEX audit_events_by_account ON audit_events (account_id, id);
CREATE INDEX audit_events_by_kind ON audit_events (kind, id);
CREATE INDEX audit_events_by_time ON audit_events (at);

-- Pending email-address changes: a `confirm` link goes to the new address (the change takes
-- effect when it is followed), a `revert` link to the old one (it undoes the change). Only
-- the hash of each link token is stored; `email` is the address the link sets.
CREATE TABLE email_changes (
    hash       BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('confirm', 'revert')),
    email      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX email_changes_by_account ON email_changes (account_id, kind);
CREATE INDEX email_changes_by_expiry ON email_changes (expires_at);
