-- The admin's text search (`q`) reads one trigram index instead of three. A term's cost is the
-- reading of its trigrams' entries, and the trigrams an email, a username and a name share
-- (`example.com`, a common first name) were read once per index; a row's three fields are now
-- indexed as one text (a separator between them, which no trigram spans: pg_trgm splits words
-- at it). The store asks `account_search_text(…) LIKE '%q%'` of this index and applies the per-field
-- `LIKE` of 0003 to its few candidates, so the results are unchanged.
--
-- fastupdate is off: with it, new entries wait in a pending list that every search reads from
-- end to end, up to 4 MB of it. Sign-ups are few a second (their password hash bounds them),
-- so they can afford to update the index in place.
CREATE FUNCTION account_search_text(email text, username text, name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT email || ' ' || coalesce(username, '') || ' ' || coalesce(lower(name), '') $$;

CREATE INDEX accounts_search_trgm ON accounts
    USING gin (account_search_text(email_normalized, username_normalized, name) gin_trgm_ops)
    WITH (fastupdate = off);

DROP INDEX accounts_email_trgm;
DROP INDEX accounts_username_trgm;
DROP INDEX accounts_name_trgm;
