-- A client may introspect only the tokens issued to it, unless it is a resource server.
ALTER TABLE oauth_clients ADD COLUMN introspect INTEGER NOT NULL DEFAULT 0;

-- The activation link of an account made through a provider that did not vouch for the address
-- (a purpose of its own would not pass the purpose check): following it keeps the login that
-- made the account; following any other activation link removes it.
ALTER TABLE one_time_tokens ADD COLUMN through_provider INTEGER NOT NULL DEFAULT 0;

-- What a browser login's hand-off code is bound to, carried from the login by email or through
-- a provider that made it: the SHA-256 of the random value of the cookie the browser that
-- started the login holds (`handoff_browser`), and the PKCE-style S256 challenge an API client
-- sent at the start (`handoff_challenge`). The exchange needs one of them to match.
ALTER TABLE email_logins ADD COLUMN handoff_browser BLOB;
ALTER TABLE email_logins ADD COLUMN handoff_challenge TEXT;
ALTER TABLE oidc_logins ADD COLUMN handoff_browser BLOB;
ALTER TABLE oidc_logins ADD COLUMN handoff_challenge TEXT;
ALTER TABLE login_handoffs ADD COLUMN handoff_browser BLOB;
ALTER TABLE login_handoffs ADD COLUMN handoff_challenge TEXT;

-- Every username ever given to an account, kept when the account lets it go or is deleted, so
-- that a name that once meant one person never means another (apps that key on it, the
-- forward-auth `Remote-User` and the ID token's `preferred_username`). The account that holds
-- a claim may take its name back; no one else may take it.
CREATE TABLE username_claims (
    username_normalized TEXT PRIMARY KEY NOT NULL,
    account_id          TEXT NOT NULL,
    claimed_at          TEXT NOT NULL
) STRICT;
INSERT INTO username_claims (username_normalized, account_id, claimed_at)
    SELECT username_normalized, id, created_at FROM accounts WHERE username_normalized IS NOT NULL;
