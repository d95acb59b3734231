-- 0009: the organisation register (S1.2, S2.2, S2.3, S5.2, S10.1).
-- Lists (roles, accounts, zones) are JSON arrays of strings; dates are Unix
-- nanoseconds, 0 for none. That units and people refer to each other
-- consistently is checked by the store in the importing transaction.

-- org_units are the organisational units with their parent and line manager.
CREATE TABLE org_units (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	parent     TEXT NOT NULL DEFAULT '',
	manager    TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL,
	updated_by TEXT NOT NULL DEFAULT ''
) STRICT;

-- org_people are the people with their unit, roles and UI user name.
CREATE TABLE org_people (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	email      TEXT NOT NULL DEFAULT '',
	phone      TEXT NOT NULL DEFAULT '',
	unit       TEXT NOT NULL DEFAULT '',
	roles      TEXT NOT NULL DEFAULT '[]',
	username   TEXT NOT NULL DEFAULT '',
	lang       TEXT NOT NULL DEFAULT 'nb' CHECK (lang IN ('nb', 'en')),
	updated_at INTEGER NOT NULL,
	updated_by TEXT NOT NULL DEFAULT ''
) STRICT;

-- org_suppliers are supplier personnel with their accounts and their signed
-- confidentiality declaration.
CREATE TABLE org_suppliers (
	id                  TEXT PRIMARY KEY,
	name                TEXT NOT NULL,
	supplier            TEXT NOT NULL,
	email               TEXT NOT NULL DEFAULT '',
	accounts            TEXT NOT NULL DEFAULT '[]',
	declaration_signed  INTEGER NOT NULL DEFAULT 0,
	declaration_sha256  TEXT NOT NULL DEFAULT '',
	declaration_expires INTEGER NOT NULL DEFAULT 0,
	updated_at          INTEGER NOT NULL,
	updated_by          TEXT NOT NULL DEFAULT ''
) STRICT;

-- org_shared_solutions are the machines allowed to reach several zones, with
-- their recorded risk acceptance.
CREATE TABLE org_shared_solutions (
	host             TEXT PRIMARY KEY,
	zones            TEXT NOT NULL DEFAULT '[]',
	risk_accepted_by TEXT NOT NULL,
	risk_accepted_at INTEGER NOT NULL,
	document_sha256  TEXT NOT NULL,
	expires          INTEGER NOT NULL DEFAULT 0,
	note             TEXT NOT NULL DEFAULT '',
	updated_at       INTEGER NOT NULL,
	updated_by       TEXT NOT NULL DEFAULT ''
) STRICT;
