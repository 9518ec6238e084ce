-- What a client app asked of itself in its registration beyond 0.1.0's columns (a JSON object:
-- `require_pushed_authorization_requests`, `dpop_bound_access_tokens`); NULL is none of it.
ALTER TABLE oauth_clients ADD COLUMN policy TEXT NULL;
-- The thumbprint of the key an authorization request named with `dpop_jkt` (RFC 9449 section
-- 10): the code is redeemed only with a proof of that key.
ALTER TABLE oauth_codes ADD COLUMN dpop_jkt VARCHAR(64) NULL;
