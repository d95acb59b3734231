-- 0008: the software catalogue (S1.3).

-- software_catalog holds the approved and denied software, by entry id
-- ("<verdict>:<name pattern>:<publisher>:<source>", patterns lower-cased).
-- name_pattern and publisher are globs with * and ?, matched without regard
-- to case; the version range is min_version (inclusive) up to max_version
-- (exclusive), '' for no bound.
CREATE TABLE software_catalog (
	id           TEXT PRIMARY KEY,
	verdict      TEXT NOT NULL CHECK (verdict IN ('approved', 'denied')),
	name_pattern TEXT NOT NULL CHECK (name_pattern != ''),
	publisher    TEXT NOT NULL DEFAULT '',
	source       TEXT NOT NULL DEFAULT '' CHECK (source IN ('', 'dpkg', 'rpm', 'windows')),
	min_version  TEXT NOT NULL DEFAULT '',
	max_version  TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	owner_unit   TEXT NOT NULL DEFAULT '',
	updated_at   INTEGER NOT NULL,
	updated_by   TEXT NOT NULL DEFAULT ''
) STRICT;
