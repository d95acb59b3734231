-- 0005: the asset register (S1.3).

-- assets holds the municipality's authorised devices, by asset tag.
CREATE TABLE assets (
	tag         TEXT PRIMARY KEY,
	type        TEXT NOT NULL CHECK (type IN ('pc', 'laptop', 'server', 'printer', 'switch', 'phone', 'other')),
	serial      TEXT NOT NULL DEFAULT '',
	hostname    TEXT NOT NULL DEFAULT '',
	owner_unit  TEXT NOT NULL DEFAULT '',
	responsible TEXT NOT NULL DEFAULT '',
	operated_by TEXT NOT NULL DEFAULT '',
	building    TEXT NOT NULL DEFAULT '',
	room        TEXT NOT NULL DEFAULT '',
	zone        TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
	note        TEXT NOT NULL DEFAULT '',
	updated_at  INTEGER NOT NULL,
	updated_by  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX assets_serial ON assets (serial) WHERE serial != '';
CREATE INDEX assets_hostname ON assets (hostname) WHERE hostname != '';

-- asset_macs maps each registered MAC (lower-case aa:bb:cc:dd:ee:ff) to the
-- one asset it belongs to, so that a device seen on the wire is looked up
-- by its MAC.
CREATE TABLE asset_macs (
	mac TEXT PRIMARY KEY,
	tag TEXT NOT NULL REFERENCES assets (tag) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX asset_macs_tag ON asset_macs (tag);
