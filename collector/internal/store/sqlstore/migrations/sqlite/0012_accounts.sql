-- 0012: accounts kept from the UI. A user's chosen language ('' until
-- chosen) and whether the user is disabled; revocation of API tokens and
-- enrollment tokens (Unix nanoseconds, 0 unless revoked).

ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
ALTER TABLE api_tokens ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE enroll_tokens ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
