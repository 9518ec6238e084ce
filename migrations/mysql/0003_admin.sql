-- Administration: indexes for the admin's account list and outbox view.
--
-- The account list is newest first by id (UUIDv7, so time-ordered), paged by the keyset
-- `id < cursor` and cut at `LIMIT`. Without a filter the primary key serves it. Each filter
-- below has an index that yields its rows already in id order, so a page reads about `limit`
-- rows whatever the table's size.
--
-- Each statement ends at its semicolon, and no comment or literal holds one.

-- `WHERE status = ? [AND id < ?] ORDER BY id DESC LIMIT ?` (and the count by status).
CREATE INDEX accounts_by_status ON accounts (status, id);

-- `WHERE role = ? [AND id < ?] ORDER BY id DESC LIMIT ?`. It also finds the active admins the
-- last-admin guard locks, in id order.
CREATE INDEX accounts_by_role ON accounts (role, id);

-- `WHERE created_at >= ? AND created_at < ?`: a time window. created_at is not derived from the
-- id (an account may be imported with its original date), so the window is not translated to
-- an id range. The optimizer uses this index for a narrow window (and for its count) and the
-- primary key for a wide one.
CREATE INDEX accounts_by_created_at ON accounts (created_at);

-- The text search (`q`) is a case-insensitive substring of the email, the username or the
-- name: `LIKE '%q%'`, which no B-tree index can serve. The list scans in id order and stops at
-- `limit` matches, quick when many accounts match, a full scan when few or none do.
-- (PostgreSQL serves it with trigram indexes. A FULLTEXT index matches words, not substrings.)

-- The outbox by recipient (a case-insensitive column), newest first:
-- `WHERE recipient = ? ORDER BY id DESC`.
CREATE INDEX outbox_by_recipient ON outbox (recipient, id);
