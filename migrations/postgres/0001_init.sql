-- gatehouse schema, PostgreSQL. Timestamps are TIMESTAMPTZ; ids are UUIDv7. Secrets are
-- never stored: passwords as Argon2id PHC strings, refresh and one-time tokens as SHA-256
-- hashes. Unique constraints are named: the store turns a violation of
-- accounts_email_normalized_key or accounts_username_normalized_key into "taken".

-- One row per account. Email and username are unique in lower case; the display forms keep
-- the case the user typed.
CREATE TABLE accounts (
    id                  UUID PRIMARY KEY,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL,
    username            TEXT,
    username_normalized TEXT,
    name                TEXT,
    data                JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled')),
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT accounts_email_normalized_key UNIQUE (email_normalized),
    CONSTRAINT accounts_username_normalized_key UNIQUE (username_normalized)
);

-- One row per login. The per-request check reads it by primary key.
CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    account_id   UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    user_agent   TEXT,
    ip           TEXT
);
CREATE INDEX sessions_by_account ON sessions (account_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Every refresh token a session has had. The current one has used_at NULL; a spent one
-- presented again revokes its session.
CREATE TABLE refresh_tokens (
    hash       BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- The links in activation and reset emails, by hash; single-use and expiring.
CREATE TABLE one_time_tokens (
    hash       BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('activation', 'password_reset')),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX one_time_tokens_by_account ON one_time_tokens (account_id, purpose);
CREATE INDEX one_time_tokens_by_expiry ON one_time_tokens (expires_at);

-- Ed25519 keys that sign access tokens. `generation` is unique so that replicas racing to
-- create the first key cannot both succeed.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    generation  INTEGER NOT NULL,
    algorithm   TEXT NOT NULL DEFAULT 'EdDSA',
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT signing_keys_generation_key UNIQUE (generation)
);

-- Emails waiting for, or past, delivery. Rows are written in the same transaction as the
-- change that causes them; the bodies (which hold one-time links) are erased on delivery.
-- Replicas claim due rows with FOR UPDATE SKIP LOCKED, so each email goes to one of them.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT,
    body_html       TEXT,
    message_id      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
