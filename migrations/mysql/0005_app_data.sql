-- app_data: a JSON object per account that only admins write (plan, tenant, permissions). The
-- user reads it and it is copied into access tokens; unlike `data`, the user cannot change it.
-- Like `data`, a LONGTEXT without a default (a literal default on a text column is MariaDB's
-- alone): added empty, filled, then made NOT NULL; every insert names it.
ALTER TABLE accounts ADD COLUMN app_data LONGTEXT NULL;
UPDATE accounts SET app_data = '{}';
ALTER TABLE accounts MODIFY app_data LONGTEXT NOT NULL;
