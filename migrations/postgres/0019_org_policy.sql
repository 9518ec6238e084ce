-- An organization's own policy (second factor required, the ways of logging in it takes): a
-- JSON object; NULL, as in rows from before it, is the default, which asks for nothing more.
ALTER TABLE organizations ADD COLUMN policy JSONB CHECK (policy IS NULL OR jsonb_typeof(policy) = 'object');
