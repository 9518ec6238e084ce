-- Administration: indexes for the admin's account list and outbox view.
--
-- The account list is newest first by id (UUIDv7, so time-ordered), paged by the keyset
-- `id < cursor` and cut at `LIMIT`. Without a filter the primary key serves it; each filter
-- below has an index that yields its rows already in id order, so a page reads about
-- `limit` rows whatever the table's size.

-- `WHERE status = $1 [AND id < $2] ORDER BY id DESC LIMIT $3` (and the count by status).
CREATE INDEX accounts_by_status ON accounts (status, id);

-- `WHERE role = $1 [AND id < $2] ORDER BY id DESC LIMIT $3`; also finds the active admins the
-- last-admin guard locks.
CREATE INDEX accounts_by_role ON accounts (role, id);

-- `WHERE created_at >= $1 AND created_at < $2`: a time window. created_at is not derived from
-- the id (an account may be imported with its original date), so the window is not translated
-- to an id range; the planner uses this index for a narrow window (and for its count) and the
-- primary key for a wide one.
CREATE INDEX accounts_by_created_at ON accounts (created_at);

-- The text search (`q`): a case-insensitive substring of the email, the username or the name,
-- `email_normalized LIKE '%q%' OR username_normalized LIKE '%q%' OR lower(name) LIKE '%q%'`.
-- Trigram GIN indexes serve a substring of three characters or more; the store plans each
-- search with its own value, so a rare `q` reads its few matches through these indexes and a
-- common one walks the primary key and stops at `limit`. pg_trgm is a trusted extension
-- (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_email_trgm ON accounts USING gin (email_normalized gin_trgm_ops);
CREATE INDEX accounts_username_trgm ON accounts USING gin (username_normalized gin_trgm_ops);
CREATE INDEX accounts_name_trgm ON accounts USING gin (lower(name) gin_trgm_ops);

-- The outbox by recipient, newest first: `WHERE lower(recipient) = lower($1) ORDER BY id DESC`.
CREATE INDEX outbox_by_recipient ON outbox (lower(recipient), id);
