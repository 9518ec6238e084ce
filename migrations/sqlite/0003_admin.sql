-- Administration: indexes for the admin's account list and outbox view.
--
-- The account list is newest first by id (UUIDv7, so time-ordered), paged by the keyset
-- `id < cursor` and cut at `LIMIT`. Without a filter the primary key serves it; each filter
-- below has an index that yields its rows already in id order, so a page reads about
-- `limit` rows whatever the table's size.

-- `WHERE status = ? [AND id < ?] ORDER BY id DESC LIMIT ?` (and the count by status).
CREATE INDEX accounts_by_status ON accounts (status, id);

-- `WHERE role = ? [AND id < ?] ORDER BY id DESC LIMIT ?` (few admins: listing them is instant).
CREATE INDEX accounts_by_role ON accounts (role, id);

-- `WHERE created_at >= ? AND created_at < ?`: a time window. created_at is not derived from the
-- id (an account may be imported with its original date), so the window is not translated to an
-- id range. Without statistics SQLite's planner takes this index for a window bounded on both
-- sides (reading the window, then sorting it by id: quick for a day or a week, about a second
-- for a million accounts) and for counts; for a bound on one side it scans in id order and
-- stops at `limit` matches.
CREATE INDEX accounts_by_created_at ON accounts (created_at);

-- The text search (`q`) is a case-insensitive substring of the email, the username or the
-- name: `LIKE '%q%'`, which no B-tree index can serve. The list scans in id order and stops
-- at `limit` matches, quick when many accounts match, a full scan when few or none do.
-- (PostgreSQL serves it with trigram indexes.)

-- The outbox by recipient, newest first: `WHERE recipient = ? COLLATE NOCASE ORDER BY id DESC`.
CREATE INDEX outbox_by_recipient ON outbox (recipient COLLATE NOCASE, id);
