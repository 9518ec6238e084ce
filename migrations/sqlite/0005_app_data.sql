-- app_data: a JSON object per account that only admins write (plan, tenant, permissions). The
-- user reads it and it is copied into access tokens; unlike `data`, the user cannot change it.
ALTER TABLE accounts ADD COLUMN app_data TEXT NOT NULL DEFAULT '{}'
    CHECK (json_valid(app_data) AND json_type(app_data) = 'object');
