-- The admin's text search (`q`, a case-insensitive substring of the email, the username or the
-- name) served by an index: a full-text table with the trigram tokenizer, which finds the
-- accounts holding a substring of three characters or more without reading the others. The
-- list takes its candidates from here and still applies the `LIKE` of 0003's search to each,
-- so its results are exactly those of the scan (the tokenizer folds case more widely than
-- `lower()`: it may propose more, never fewer). A term of one or two characters, or one that
-- thousands of accounts hold, is served by the scan in id order, which stops at a page.
--
-- The full-text table's rows are numbered by `account_search_docs.doc`, an INTEGER PRIMARY KEY
-- (stable through VACUUM, unlike the implicit rowid of `accounts`, whose key is the id text).
-- Triggers keep both in step with `accounts`: nothing in the store writes them.
CREATE TABLE account_search_docs (
    doc        INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE
) STRICT;

CREATE VIRTUAL TABLE account_search USING fts5 (email, username, name, tokenize = 'trigram');

CREATE TRIGGER account_search_on_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO account_search_docs (account_id) VALUES (new.id);
    INSERT INTO account_search (rowid, email, username, name)
    VALUES ((SELECT doc FROM account_search_docs WHERE account_id = new.id),
            new.email_normalized, new.username_normalized, new.name);
END;

CREATE TRIGGER account_search_on_update AFTER UPDATE OF email_normalized, username_normalized, name ON accounts
WHEN old.email_normalized IS NOT new.email_normalized
  OR old.username_normalized IS NOT new.username_normalized
  OR old.name IS NOT new.name
BEGIN
    UPDATE account_search SET email = new.email_normalized, username = new.username_normalized, name = new.name
    WHERE rowid = (SELECT doc FROM account_search_docs WHERE account_id = new.id);
END;

CREATE TRIGGER account_search_on_delete AFTER DELETE ON accounts BEGIN
    DELETE FROM account_search WHERE rowid = (SELECT doc FROM account_search_docs WHERE account_id = old.id);
    DELETE FROM account_search_docs WHERE account_id = old.id;
END;

-- The accounts already stored.
INSERT INTO account_search_docs (account_id) SELECT id FROM accounts ORDER BY id;
INSERT INTO account_search (rowid, email, username, name)
SELECT d.doc, a.email_normalized, a.username_normalized, a.name
FROM account_search_docs AS d JOIN accounts AS a ON a.id = d.account_id;
