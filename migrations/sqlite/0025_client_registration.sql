-- Client registration (RFC 7591/7592), resource indicators (RFC 8707) and back-channel logout.
-- `backchannel_logout_uri` is where a client hears that a session of its ended (OpenID Connect
-- Back-Channel Logout 1.0); with `backchannel_logout_session_required` its logout tokens carry
-- `sid`.
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;
-- `registration_hash` is the SHA-256 of a self-registered client's registration access token,
-- which reads, changes and removes it; admin-registered clients have none.
ALTER TABLE oauth_clients ADD COLUMN registration_hash BLOB;
-- The resources (absolute URIs, space-separated) an authorization request named.
ALTER TABLE oauth_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '';
-- Initial access tokens, which admins issue for `GATEHOUSE_CLIENT_REGISTRATION=token`: kept by
-- the SHA-256 of the token (`hash`), with how many registrations it still allows (`uses_left`)
-- and when it stops working.
CREATE TABLE oauth_initial_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_by TEXT,
    uses_left  INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX oauth_initial_tokens_by_expiry ON oauth_initial_tokens (expires_at);
