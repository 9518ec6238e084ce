-- The device authorization grant (RFC 8628): a device's request for tokens, kept by the
-- SHA-256 of its device code (`device_hash`) and the keyed hash of the code a person types
-- (`user_hash`). `state` is `pending` until the person approves or denies it on `/device`
-- (`approved` names the account and how it had logged in, `auth`), and `spent` once the
-- device has its tokens. `views` counts the times the approval page was shown for it (past a
-- few the code is void), `polls` the device's polls (each one moves it on by one, so two at
-- once cannot both pass the interval) and `interval_secs` the interval it must keep.
CREATE TABLE oauth_device_codes (
    device_hash   BYTEA PRIMARY KEY CHECK (octet_length(device_hash) = 32),
    user_hash     BYTEA NOT NULL,
    client_id     TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes        TEXT NOT NULL,
    state         TEXT NOT NULL,
    account_id    UUID REFERENCES accounts (id) ON DELETE CASCADE,
    auth          TEXT,
    views         INTEGER NOT NULL,
    polls         INTEGER NOT NULL,
    interval_secs INTEGER NOT NULL,
    polled_at     TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_device_codes_by_user_code ON oauth_device_codes (user_hash);
CREATE INDEX oauth_device_codes_by_expiry ON oauth_device_codes (expires_at);
