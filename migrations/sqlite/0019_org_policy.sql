-- An organization's own policy (second factor required, the ways of logging in it takes): a
-- JSON object; NULL, as in rows from before it, is the default, which asks for nothing more.
ALTER TABLE organizations ADD COLUMN policy TEXT CHECK (policy IS NULL OR (json_valid(policy) AND json_type(policy) = 'object'));
