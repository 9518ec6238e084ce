-- An organization's own policy (second factor required, the ways of logging in it takes): a
-- JSON object; NULL, as in rows from before it, is the default, which asks for nothing more.
ALTER TABLE organizations ADD COLUMN policy LONGTEXT NULL,
    ADD CONSTRAINT organizations_policy_is_object CHECK (policy IS NULL OR (JSON_VALID(policy) AND JSON_TYPE(policy) = 'OBJECT'));
