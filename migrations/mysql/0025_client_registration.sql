-- Client registration (RFC 7591/7592), resource indicators (RFC 8707) and back-channel logout.
-- `backchannel_logout_uri` is where a client hears that a session of its ended (OpenID Connect
-- Back-Channel Logout 1.0); with `backchannel_logout_session_required` its logout tokens carry
-- `sid`.
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_uri VARCHAR(2048);
ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;
-- `registration_hash` is the SHA-256 of a self-registered client's registration access token,
-- which reads, changes and removes it; admin-registered clients have none.
ALTER TABLE oauth_clients ADD COLUMN registration_hash BINARY(32);
-- The resources (absolute URIs, space-separated) an authorization request named.
ALTER TABLE oauth_codes ADD COLUMN resources VARCHAR(2048) NOT NULL DEFAULT '';
-- Initial access tokens, which admins issue for `GATEHOUSE_CLIENT_REGISTRATION=token`: kept by
-- the SHA-256 of the token (`hash`), with how many registrations it still allows (`uses_left`)
-- and when it stops working.
CREATE TABLE oauth_initial_tokens (
    id         CHAR(36)     NOT NULL,
    hash       BINARY(32)   NOT NULL,
    name       VARCHAR(200) NOT NULL,
    created_by CHAR(36),
    uses_left  INT          NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    expires_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY oauth_initial_tokens_hash (hash),
    KEY oauth_initial_tokens_by_expiry (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
  COMMENT = 'Initial access tokens for client registration (RFC 7591)';
