-- Passwordless login by email, and the one-time codes that hand a browser's login to the app.

-- A login by emailed link or code. The link's token and the code are kept only as keyed
-- hashes; the row is spent once (`used_at`), dies after `attempts` wrong codes or at
-- `expires_at`, and a newer request for the same address ends it. `account_id` is NULL for a
-- sign-up by link: the account is made when the link or code is used.
CREATE TABLE email_logins (
    id               TEXT PRIMARY KEY NOT NULL,
    email            TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    account_id       TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    link_hash        BLOB NOT NULL UNIQUE,
    code_hash        BLOB NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    used_at          TEXT
) STRICT;
CREATE INDEX email_logins_by_address ON email_logins (email_normalized, created_at);
CREATE INDEX email_logins_by_account ON email_logins (account_id);
CREATE INDEX email_logins_by_expiry ON email_logins (expires_at);

-- A login finished in a browser, waiting for the app to exchange the code that the redirect
-- carried: the code's hash, single use, short-lived. `method` is the RFC 8176 method of the
-- login (a second factor, if the account has one, is asked for at the exchange).
CREATE TABLE login_handoffs (
    hash       BLOB PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    method     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX login_handoffs_by_account ON login_handoffs (account_id);
CREATE INDEX login_handoffs_by_expiry ON login_handoffs (expires_at);
