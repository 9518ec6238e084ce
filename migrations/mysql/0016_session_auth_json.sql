-- How a session (and an authorization code) was authenticated is now stored as a small JSON
-- object that can grow by named fields; rows in the earlier positional text still read. A
-- grant with many scopes could pass VARCHAR(255), so both columns become TEXT (as they are on
-- SQLite and PostgreSQL).
ALTER TABLE sessions MODIFY COLUMN auth TEXT;
ALTER TABLE oauth_codes MODIFY COLUMN auth TEXT NOT NULL;
