-- The language an account's emails are written in (`en`, `de`, `fr`, `es`); NULL: not
-- chosen, so the operator's default.
ALTER TABLE accounts ADD COLUMN locale VARCHAR(16);
