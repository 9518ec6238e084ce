-- gatehouse schema, SQLite. Timestamps are RFC 3339 UTC text (they sort as they compare);
-- ids are UUIDv7 text. Secrets are never stored: passwords as Argon2id PHC strings, refresh
-- and one-time tokens as SHA-256 hashes.

-- One row per account. Email and username are unique in lower case; the display forms keep
-- the case the user typed.
CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL UNIQUE,
    username            TEXT,
    username_normalized TEXT UNIQUE,
    name                TEXT,
    data                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data) AND json_type(data) = 'object'),
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled')),
    email_verified      INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

-- One row per login. The per-request check reads it by primary key.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    user_agent   TEXT,
    ip           TEXT
) STRICT;
CREATE INDEX sessions_by_account ON sessions (account_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Every refresh token a session has had. The current one has used_at NULL; a spent one
-- presented again revokes its session.
CREATE TABLE refresh_tokens (
    hash       BLOB PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- The links in activation and reset emails, by hash; single-use and expiring.
CREATE TABLE one_time_tokens (
    hash       BLOB PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('activation', 'password_reset')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX one_time_tokens_by_account ON one_time_tokens (account_id, purpose);
CREATE INDEX one_time_tokens_by_expiry ON one_time_tokens (expires_at);

-- Ed25519 keys that sign access tokens. `generation` is unique so that replicas racing to
-- create the first key cannot both succeed.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    generation  INTEGER NOT NULL UNIQUE,
    algorithm   TEXT NOT NULL DEFAULT 'EdDSA',
    private_key BLOB NOT NULL,
    public_key  BLOB NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

-- Emails waiting for, or past, delivery. Rows are written in the same transaction as the
-- change that causes them; the bodies (which hold one-time links) are erased on delivery.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT,
    body_html       TEXT,
    message_id      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
