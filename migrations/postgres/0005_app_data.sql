-- app_data: a JSON object per account that only admins write (plan, tenant, permissions). The
-- user reads it and it is copied into access tokens; unlike `data`, the user cannot change it.
ALTER TABLE accounts ADD COLUMN app_data JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(app_data) = 'object');
